"""Read a policy directory (YAML). Any problem raises PolicyInvalid: no policy, no access."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from policies.errors import PolicyInvalid
from policies.model import LabelRule, Policy, UserEntry

POLICY_FILE = "policy.yaml"


def load_policy(policy_dir: Path) -> Policy:
    """Load `policy.yaml` from `policy_dir`; the version is the hash of the file's bytes."""
    path = Path(policy_dir) / POLICY_FILE
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyInvalid(f"cannot read policy {path}: {exc.strerror or exc}", hint="run enclave setup") from exc
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise PolicyInvalid(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    return parse_policy(data, version=hashlib.sha256(raw).hexdigest()[:16], origin=str(path))


def parse_policy(data: Any, version: str, origin: str = "policy") -> Policy:
    """Build a Policy from plain data, rejecting anything malformed."""
    if not isinstance(data, dict):
        raise PolicyInvalid(f"{origin}: the top level must be a mapping")
    users = {}
    for name, entry in (data.get("users") or {}).items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise PolicyInvalid(f"{origin}: users.{name} must be a mapping")
        users[str(name)] = UserEntry(
            name=str(name),
            groups=tuple(str(g) for g in entry.get("groups") or ()),
            roles=tuple(str(r) for r in entry.get("roles") or ()),
        )
    groups = frozenset(str(g) for g in (data.get("groups") or {}))
    rules = []
    for i, rule in enumerate(data.get("labels") or []):
        if not isinstance(rule, dict) or "match" not in rule or not rule.get("labels"):
            raise PolicyInvalid(f"{origin}: labels[{i}] needs 'match' and a non-empty 'labels'")
        rules.append(LabelRule(match=str(rule["match"]), labels=tuple(str(x) for x in rule["labels"])))
    grants: dict[str, frozenset[str]] = {}
    for i, grant in enumerate(data.get("grants") or []):
        if not isinstance(grant, dict) or "group" not in grant:
            raise PolicyInvalid(f"{origin}: grants[{i}] needs 'group' and 'labels'")
        group = str(grant["group"])
        grants[group] = grants.get(group, frozenset()) | frozenset(str(x) for x in grant.get("labels") or ())
    return Policy(
        version=version,
        users=users,
        groups=groups,
        label_rules=tuple(rules),
        grants=grants,
        question_logging=str(data.get("question_logging", "full")),
    )
