"""`enclave audit verify | show | export` as an auditor uses them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enclave.cli import app
from enclave.settings import load_settings
from enclave.wiring import open_audit_log, setup_home


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ENCLAVE_HOME (no model needed) with a few audit events in its live log."""
    home = tmp_path / "home"
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    monkeypatch.setenv("ENCLAVE_USER", "auditor1")
    monkeypatch.delenv("ENCLAVE_CONFIG", raising=False)
    settings = load_settings(home=home, generator={"model_path": "/nonexistent.gguf"})
    (home / "policy").mkdir(parents=True)
    setup_home(settings)
    log = open_audit_log(settings)
    log.append("signin", "alice", method="password")
    log.append("question", "alice", question="leave policy?", policy_version="v1")
    log.append("denial", "bob", reason="no grant")
    log.append("question", "bob", question="payroll?", policy_version="v1")
    return home


def test_setup_keeps_the_key_outside_the_log_with_mode_0600(live: Path) -> None:
    settings = load_settings(home=live)
    assert settings.audit_key_path.parent != settings.audit_log_path.parent
    assert settings.audit_key_path.stat().st_mode & 0o777 == 0o600
    assert settings.audit_key_path.read_text().strip() not in settings.audit_log_path.read_text()


def test_verify_passes_on_the_live_log_and_records_that_it_ran(live: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "4 record(s)" in result.output
    last = list(open_audit_log(load_settings(home=live)).records())[-1]
    assert last["kind"] == "audit_verify" and last["details"]["ok"] is True and last["actor"] == "auditor1"


def test_verify_of_a_tampered_copy_exits_non_zero_naming_the_record(live: Path, tmp_path: Path) -> None:
    settings = load_settings(home=live)
    copy = tmp_path / "copy.jsonl"
    shutil.copy(settings.audit_log_path, copy)
    shutil.copy(settings.audit_log_path.with_name("audit.jsonl.head"), tmp_path / "copy.jsonl.head")
    assert CliRunner().invoke(app, ["audit", "verify", "--log", str(copy)]).exit_code == 0
    copy.write_bytes(copy.read_bytes().replace(b"payroll?", b"payroll!"))
    result = CliRunner().invoke(app, ["audit", "verify", "--log", str(copy), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["first_bad"] == 4 and "edited" in report["reason"]


def test_show_filters_by_user_and_kind(live: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "show", "--user", "bob", "--kind", "question"])
    assert result.exit_code == 0
    assert "payroll?" in result.output and "leave policy" not in result.output and "(1 event(s))" in result.output


def test_show_filters_by_time(live: Path) -> None:
    assert "(0 event(s))" in CliRunner().invoke(app, ["audit", "show", "--since", "2999-01-01"]).output
    assert "(4 event(s))" in CliRunner().invoke(app, ["audit", "show", "--until", "2999-01-01"]).output


def test_export_writes_json_lines_with_the_seals(live: Path, tmp_path: Path) -> None:
    target = tmp_path / "siem.jsonl"
    result = CliRunner().invoke(app, ["audit", "export", "--out", str(target), "--kind", "question"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["actor"] for r in rows] == ["alice", "bob"]
    assert all(len(r["hash"]) == 64 and len(r["mac"]) == 64 for r in rows)
