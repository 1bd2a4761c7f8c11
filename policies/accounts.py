"""Local accounts: argon2id password hashes in the policy directory (passwords.yaml)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import yaml

from policies.errors import PolicyError, PolicyInvalid

PASSWORDS_FILE = "passwords.yaml"
MIN_PASSWORD_CHARS = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
# Verified when the user name is unknown, so an unknown name costs the same time as a wrong password.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$aIBveDTqEIzjBnlNKbIJaw$GgXcpkIqe5FEvuO7Ma3hJy1U5ML48+FBC3IJO3zcJf0"


class AccountError(PolicyError):
    """A password could not be set (weak password, bad user name, unwritable file)."""


def passwords_path(policy_dir: Path) -> Path:
    """Where the password hashes of `policy_dir` live."""
    return Path(policy_dir) / PASSWORDS_FILE


def set_password(policy_dir: Path, user: str, password: str) -> Path:
    """Store an argon2id hash of `password` for `user`, replacing any earlier one (file mode 0600)."""
    from argon2 import PasswordHasher

    if not _NAME.match(user):
        raise AccountError(f"'{user}' is not a valid user name", hint="use letters, digits and . _ @ - only")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(
            f"the password is shorter than {MIN_PASSWORD_CHARS} characters", hint="choose a longer passphrase"
        )
    hashes = _read(passwords_path(policy_dir))
    hashes[user] = PasswordHasher().hash(password)
    return _write(passwords_path(policy_dir), hashes)


def remove_user(policy_dir: Path, user: str) -> bool:
    """Delete the password of `user`; True when there was one."""
    hashes = _read(passwords_path(policy_dir))
    if hashes.pop(user, None) is None:
        return False
    _write(passwords_path(policy_dir), hashes)
    return True


def verify_password(policy_dir: Path, user: str, password: str) -> bool:
    """True only when `user` has a stored hash and `password` matches it (argon2 compares in constant time)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    stored = _read(passwords_path(policy_dir)).get(user)
    hasher = PasswordHasher()
    try:
        matched = hasher.verify(stored or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return bool(matched and stored)


def _read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyInvalid(f"cannot read {path}: {exc}", hint="fix or remove the file, then set passwords again") from exc
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise PolicyInvalid(f"{path}: expected a mapping 'users: {{name: argon2 hash}}'")
    return {str(k): str(v) for k, v in users.items()}


def _write(path: Path, hashes: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# argon2id password hashes, written by `enclave user add`. Do not edit by hand.\n"
    text += yaml.safe_dump({"users": dict(sorted(hashes.items()))}, sort_keys=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".passwords-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
