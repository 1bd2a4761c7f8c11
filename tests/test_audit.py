"""The audit log: every tamper class is caught at the first bad record; crashes leave a verifiable log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.audit import AuditError, AuditLog, AuditWriteFailed, question_fields

KEY = bytes.fromhex("11" * 32)
N = 12


def _log(tmp_path: Path, n: int = N, key: bytes = KEY) -> AuditLog:
    log = AuditLog(tmp_path / "audit" / "audit.jsonl", key)
    for i in range(n):
        log.append("question", f"user{i % 3}", question=f"What is the leave policy number {i}?", policy_version="v1", n=i)
    return log


def _lines(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().splitlines(keepends=True)


def test_a_clean_log_verifies(tmp_path: Path) -> None:
    log = _log(tmp_path)
    result = log.verify()
    assert result.ok and result.records == N and result.first_bad is None and result.checkpoint_seq == N


def test_records_are_typed_utc_and_carry_the_actor(tmp_path: Path) -> None:
    log = _log(tmp_path, 1)
    record = log.append("denial", "alice", reason="no grant")
    assert record["kind"] == "denial" and record["actor"] == "alice" and record["ts"].endswith("Z")
    assert record["seq"] == 2 and record["prev"] == json.loads(_lines(log)[0])["hash"]
    with pytest.raises(AuditError):
        log.append("made_up_kind", "alice")
    with pytest.raises(AuditError):
        log.append("question", "", question="x", policy_version="v1")


def test_an_event_without_the_details_its_type_requires_is_refused_and_not_written(tmp_path: Path) -> None:
    log = _log(tmp_path, 1)
    size = log.path.stat().st_size
    with pytest.raises(AuditError, match="needs chunk_ids, withheld_by_policy"):
        log.append("retrieval", "alice", allowed_labels=["internal"], policy_version="v1")
    with pytest.raises(AuditError, match="question|question_hmac"):
        log.append("question", "alice", policy_version="v1")
    with pytest.raises(AuditError, match="answer_sha256|error"):
        log.append("answer", "alice", found=True, model="m")
    assert log.path.stat().st_size == size and log.verify().records == 1
    log.append("question", "alice", question_hmac="hmac-sha256:00", policy_version="v1")  # either alternative will do


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_byte_edit_is_caught_at_its_record(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    base = tmp_path_factory.getbasetemp() / "edit-base"
    original = _log(base) if not base.exists() else AuditLog(base / "audit" / "audit.jsonl", KEY)
    log = AuditLog(tmp_path_factory.mktemp("edit") / "audit.jsonl", KEY)
    log.head_path.write_bytes(original.head_path.read_bytes())
    raw = bytearray(original.path.read_bytes())
    offset = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[offset]))
    record_no = raw[:offset].count(b"\n") + 1
    raw[offset] = new
    log.path.write_bytes(bytes(raw))
    result = log.verify()
    assert not result.ok
    assert result.first_bad == record_no


def test_a_deleted_record_is_caught(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    del lines[4]
    log.path.write_bytes(b"".join(lines))
    result = log.verify()
    assert not result.ok and result.first_bad == 5 and "sequence" in result.reason


def test_the_first_record_deleted_is_caught(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.path.write_bytes(b"".join(_lines(log)[1:]))
    assert log.verify().first_bad == 1


def test_two_swapped_records_are_caught(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines[6], lines[7] = lines[7], lines[6]
    log.path.write_bytes(b"".join(lines))
    result = log.verify()
    assert not result.ok and result.first_bad == 7


def test_whole_records_cut_from_the_tail_are_caught_by_the_checkpoint(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.path.write_bytes(b"".join(_lines(log)[:-2]))
    result = log.verify()
    assert not result.ok and result.first_bad == N - 1 and "truncated" in result.reason and result.records == N - 2


def test_a_torn_last_line_is_reported_and_everything_before_verifies(tmp_path: Path) -> None:
    log = _log(tmp_path)
    data = log.path.read_bytes()
    log.path.write_bytes(data[: len(data) - 40])
    result = log.verify()
    assert not result.ok and result.torn_tail and result.records == N - 1 and result.first_bad == N


def test_last_record_rewritten_with_its_hash_recomputed_is_caught(tmp_path: Path) -> None:
    import hashlib
    import re

    log = _log(tmp_path)
    lines = _lines(log)
    last = lines[-1].rstrip(b"\n")
    seal = re.search(rb',"hash":"([0-9a-f]{64})","mac":"([0-9a-f]{64})"\}$', last)
    assert seal is not None
    body = last[: seal.start()] + b"}"
    forged = body.replace(b"leave policy", b"pay policy!!")
    digest = hashlib.sha256(forged).hexdigest().encode()
    lines[-1] = forged[:-1] + b',"hash":"' + digest + b'","mac":"' + seal.group(2) + b'"}\n'
    log.path.write_bytes(b"".join(lines))
    result = log.verify()
    assert not result.ok and result.first_bad == N and "HMAC" in result.reason


def test_a_whole_forged_chain_is_caught_without_the_key(tmp_path: Path) -> None:
    log = _log(tmp_path)
    forger = _log(tmp_path / "forger", key=bytes.fromhex("22" * 32))
    log.path.write_bytes(forger.path.read_bytes())
    log.head_path.write_bytes(forger.head_path.read_bytes())
    result = log.verify()
    assert not result.ok and result.first_bad == 1 and "HMAC" in result.reason


def test_a_missing_checkpoint_fails_verification(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.head_path.unlink()
    result = log.verify()
    assert not result.ok and "checkpoint" in result.reason


def test_appending_after_a_torn_tail_sets_it_aside_and_the_log_verifies_again(tmp_path: Path) -> None:
    log = _log(tmp_path)
    with open(log.path, "ab") as f:
        f.write(b'{"actor":"alice","details":{"question":"half a rec')
    assert log.verify().torn_tail
    log.append("answer", "alice", found=False, model="m", error="the model server did not answer")
    result = log.verify()
    assert result.ok and result.records == N + 2
    note = list(log.records())[-2]
    assert note["kind"] == "admin_action" and note["details"]["action"] == "torn_tail_set_aside"
    assert Path(note["details"]["saved_to"]).read_bytes().startswith(b'{"actor":"alice"')


_APPENDER = """
import sys
from pathlib import Path
from policies.audit import AuditLog
log = AuditLog(Path(sys.argv[1]), bytes.fromhex(sys.argv[2]))
i = 0
while True:
    log.append("retrieval", "crash-test", chunk_ids=[f"id-{i}-{j}" for j in range(int(sys.argv[3]))],
               withheld_by_policy=0, allowed_labels=[], policy_version="v1")
    i += 1
"""


@pytest.mark.parametrize("ids_per_record", [5, 20000])
def test_kill_9_while_appending_leaves_a_log_that_verifies_to_the_last_committed_record(
    tmp_path: Path, ids_per_record: int
) -> None:
    path = tmp_path / "audit.jsonl"
    child = subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), KEY.hex(), str(ids_per_record)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not path.exists() or path.read_bytes().count(b"\n") < 20):
            time.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    data = path.read_bytes()
    complete = data.count(b"\n")
    assert complete >= 20
    result = AuditLog(path, KEY).verify()
    assert result.records == complete
    if data.endswith(b"\n"):
        assert result.ok, result.reason
    else:
        assert result.torn_tail and result.first_bad == complete + 1
    log = AuditLog(path, KEY)
    log.append("admin_action", "operator", action="after crash")
    assert log.verify().ok


_CONCURRENT = """
import sys
from pathlib import Path
from policies.audit import AuditLog
log = AuditLog(Path(sys.argv[1]), bytes.fromhex(sys.argv[2]))
for i in range(60):
    log.append("question", sys.argv[3], question=f"q{i}", policy_version="v1")
"""


def test_two_processes_appending_at_once_keep_one_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    children = [
        subprocess.Popen([sys.executable, "-c", _CONCURRENT, str(path), KEY.hex(), who]) for who in ("ui", "cli")
    ]
    assert all(c.wait(timeout=120) == 0 for c in children)
    result = AuditLog(path, KEY).verify()
    assert result.ok and result.records == 120


def test_disk_full_raises_audit_write_failed(tmp_path: Path) -> None:
    log = AuditLog(Path("/dev/full"), KEY)  # every write fails with ENOSPC, like a full disk
    with pytest.raises(AuditWriteFailed) as info:
        log.append("question", "alice", question="x", policy_version="v1")
    assert info.value.hint


def test_an_unwritable_location_raises_audit_write_failed(tmp_path: Path) -> None:
    (tmp_path / "audit").write_text("a file where the audit directory should be")
    log = AuditLog(tmp_path / "audit" / "audit.jsonl", KEY)
    with pytest.raises(AuditWriteFailed):
        log.append("question", "alice", question="x", policy_version="v1")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_read_only_directory_raises_audit_write_failed(tmp_path: Path) -> None:
    log = _log(tmp_path, 1)
    log.path.parent.chmod(0o500)
    log.path.chmod(0o400)
    try:
        with pytest.raises(AuditWriteFailed):
            log.append("question", "alice", question="x", policy_version="v1")
    finally:
        log.path.parent.chmod(0o700)


def test_questions_are_kept_in_full_or_as_a_keyed_hash(tmp_path: Path) -> None:
    log = _log(tmp_path, 0)
    question = "Does patient Jane Roe (MRN 0042) have an allergy?"
    full = log.append("question", "dr.ada", **question_fields(log, question, "full"), policy_version="v1")
    hashed = log.append("question", "dr.ada", **question_fields(log, question, "hash"), policy_version="v1")
    assert full["details"]["question"] == question
    assert "question" not in hashed["details"] and hashed["details"]["question_hmac"].startswith("hmac-sha256:")
    assert b"Jane Roe" not in _lines(log)[1]
    assert hashed["details"]["question_hmac"] == log.keyed_hash(question)
    other = AuditLog(tmp_path / "other.jsonl", bytes.fromhex("33" * 32))
    assert other.keyed_hash(question) != log.keyed_hash(question)  # not a plain hash anyone can recompute


def test_verifying_while_another_process_appends_never_reports_a_false_alarm(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    child = subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), KEY.hex(), "5"])
    try:
        while not path.exists() or path.read_bytes().count(b"\n") < 5:
            time.sleep(0.02)
        results = [AuditLog(path, KEY).verify() for _ in range(40)]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert all(r.ok for r in results), [r.reason for r in results if not r.ok][:1]
    assert results[-1].records > results[0].records  # the writer really was appending meanwhile
