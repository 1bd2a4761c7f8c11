"""Local accounts, session limits and the proxy identity rule (pure parts of sign-in)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from policies.accounts import AccountError, passwords_path, remove_user, set_password, verify_password
from policies.session import open_session, proxy_identity, session_state, signin_allowed, touch


def test_password_is_stored_as_argon2id_and_verifies(tmp_path: Path) -> None:
    path = set_password(tmp_path, "alice", "a long enough passphrase")
    text = path.read_text()
    assert "$argon2id$" in text
    assert "a long enough passphrase" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert verify_password(tmp_path, "alice", "a long enough passphrase")
    assert not verify_password(tmp_path, "alice", "a long enough passphrasE")
    assert not verify_password(tmp_path, "mallory", "a long enough passphrase")
    assert not verify_password(tmp_path, "alice", "")


def test_weak_password_and_odd_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AccountError):
        set_password(tmp_path, "alice", "short")
    with pytest.raises(AccountError):
        set_password(tmp_path, "../etc/passwd", "a long enough passphrase")
    assert not passwords_path(tmp_path).exists()


def test_replacing_and_removing_a_password(tmp_path: Path) -> None:
    set_password(tmp_path, "alice", "the first passphrase")
    set_password(tmp_path, "bob", "bobs own passphrase")
    set_password(tmp_path, "alice", "the second passphrase")
    assert not verify_password(tmp_path, "alice", "the first passphrase")
    assert verify_password(tmp_path, "alice", "the second passphrase")
    assert remove_user(tmp_path, "alice")
    assert not verify_password(tmp_path, "alice", "the second passphrase")
    assert verify_password(tmp_path, "bob", "bobs own passphrase")


def test_idle_timeout_and_absolute_lifetime() -> None:
    s = open_session("alice", "local", now=1000.0)
    assert session_state(s, 1000.0 + 60, idle_s=900, lifetime_s=3600).allowed
    idle = session_state(s, 1000.0 + 901, idle_s=900, lifetime_s=3600)
    assert not idle.allowed and "idle" in idle.reason
    # Activity keeps it alive, but never past the absolute lifetime.
    t = 1000.0
    while t < 1000.0 + 3500:
        t += 600
        s = touch(s, t)
        assert session_state(s, t, idle_s=900, lifetime_s=3600).allowed or t - 1000.0 >= 3600
    ended = session_state(s, 1000.0 + 3600, idle_s=900, lifetime_s=3600)
    assert not ended.allowed and "lifetime" in ended.reason
    assert not session_state(None, 0, 900, 3600).allowed


def test_repeated_failed_signins_lock_the_name_for_a_while() -> None:
    failures = [100.0, 110.0, 120.0, 130.0, 140.0]
    assert signin_allowed(failures[:4], 150.0, max_failures=5, window_s=900).allowed
    refused = signin_allowed(failures, 150.0, max_failures=5, window_s=900)
    assert not refused.allowed and "too many" in refused.reason
    assert signin_allowed(failures, 100.0 + 901 + 40, max_failures=5, window_s=900).allowed


def test_proxy_header_is_trusted_only_on_loopback() -> None:
    headers = {"X-Remote-User": "alice", "Host": "enclave"}
    assert proxy_identity(headers, "x-remote-user", "127.0.0.1") == "alice"
    assert proxy_identity(headers, "X-Remote-User", "::1") == "alice"
    assert proxy_identity(headers, "X-Remote-User", "0.0.0.0") is None
    assert proxy_identity(headers, "X-Remote-User", "10.1.2.3") is None
    assert proxy_identity({"X-Remote-User": "  "}, "X-Remote-User", "127.0.0.1") is None
    assert proxy_identity({}, "X-Remote-User", "127.0.0.1") is None


def test_user_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"ENCLAVE_HOME": str(home), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-m", "enclave", "user", "add", "carol", "--password-stdin"],
        input="a passphrase from a pipe\n", capture_output=True, text=True, env=env, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert verify_password(home / "policy", "carol", "a passphrase from a pipe")
    weak = subprocess.run(
        [sys.executable, "-m", "enclave", "user", "add", "carol", "--password-stdin"],
        input="weak\n", capture_output=True, text=True, env=env, timeout=120,
    )
    assert weak.returncode == 1 and "shorter than" in weak.stderr
    assert verify_password(home / "policy", "carol", "a passphrase from a pipe")


def test_serve_command_line_is_hardened() -> None:
    from enclave.cli_ui import streamlit_command
    from enclave.settings import load_settings

    args = streamlit_command(load_settings(home=Path("/tmp/x")))
    joined = " ".join(args)
    for flag in (
        "--browser.gatherUsageStats=false",
        "--server.enableXsrfProtection=true",
        "--server.maxUploadSize=10",
        "--server.address=127.0.0.1",
        "--client.showErrorDetails=none",
    ):
        assert flag in joined


def test_serve_refuses_a_proxy_header_on_a_non_loopback_address(tmp_path: Path) -> None:
    env = {"ENCLAVE_HOME": str(tmp_path / "home"), "ENCLAVE_UI__AUTH": "proxy_header", "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-m", "enclave", "serve", "--host", "0.0.0.0"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert run.returncode == 1
    assert "needs a loopback listen address" in run.stderr
