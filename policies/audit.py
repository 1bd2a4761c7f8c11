"""The audit trail: typed, UTC, append-only JSON lines, hash-chained, each record HMAC-sealed.

Record line (ASCII, one per line, keys sorted, no spaces):
    {"actor":..,"details":{..},"kind":..,"prev":<hash of record seq-1>,"seq":N,"ts":..,"hash":H,"mac":M}
where H = sha256 of the line up to (not including) `,"hash"` closed with `}`, and M = HMAC-SHA256(key, H).
The hash chain shows any edit, deletion, insertion or swap; the MAC shows a rewritten or forged record
(recomputing hashes needs no secret, recomputing MACs needs the key, which is kept outside the log).
A checkpoint file beside the log (`<log>.head`: last seq, its hash, HMAC) shows whole records cut
from the tail. Every append is fsynced (log, then checkpoint) before it returns.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from policies.errors import PolicyError

# The event types and what each must carry besides its actor and time ("a|b": at least one of
# them). `append` refuses an event without them, so no caller can write a record an auditor would
# find incomplete. A failed generation is an `answer` with `error` instead of the answer's fields.
REQUIRED_DETAILS: dict[str, tuple[str, ...]] = {
    "signin": ("method",),
    "signin_failed": ("method", "reason"),
    "signout": ("reason",),
    "question": ("question|question_hmac", "policy_version"),
    "retrieval": ("chunk_ids", "withheld_by_policy", "allowed_labels", "policy_version"),
    "answer": (
        "found", "model", "answer_sha256|error", "citations|error", "model_sha256|error",
        "prompt_template|error", "policy_version|error",
    ),
    "denial": ("reason",),
    "ingest_run": ("run_id", "trigger", "status", "added", "changed", "removed", "failed"),
    "policy_change": ("new_version",),
    "policy_apply": ("policy_version",),
    "audit_verify": ("ok", "records"),
    "admin_action": ("action",),
}
EVENT_KINDS = frozenset(REQUIRED_DETAILS)
GENESIS = "0" * 64
_SEAL = re.compile(rb',"hash":"([0-9a-f]{64})","mac":"([0-9a-f]{64})"\}$')
_SEAL_LEN = 148  # len(',"hash":"' + 64 + '","mac":"' + 64 + '"}')
# Keys are sorted, so every body ends with prev, seq, ts; JSON escaping keeps a value from faking it.
_BODY_TAIL = re.compile(rb'"prev":"([0-9a-f]{64})","seq":(\d+),"ts":"[0-9T:.Z-]+"\}$')
_TAIL_BLOCK = 4096


class AuditError(PolicyError):
    """The audit log was used wrongly (unknown event kind, missing actor, no key)."""


class AuditWriteFailed(AuditError):
    """A record could not be made durable. Fail closed: nothing that needed it may proceed."""


class AuditSink(Protocol):
    """Where the answer route writes its audit events (an AuditLog in production)."""

    def append(self, kind: str, actor: str, **details: Any) -> dict[str, Any]:
        """Write one event durably, or raise AuditWriteFailed."""

    def keyed_hash(self, text: str) -> str:
        """A keyed hash of `text`, for values a site must not keep in clear."""


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking a log: how far it verifies and the first bad record, if any."""

    ok: bool
    records: int  # records that verified, from the first
    first_bad: int | None  # 1-based record (line) number of the first problem
    reason: str
    torn_tail: bool = False
    checkpoint_seq: int | None = None
    seconds: float = 0.0

    def message(self) -> str:
        """One line for the operator."""
        if self.ok:
            return f"audit log verifies: {self.records} record(s), chain, HMACs and checkpoint intact"
        return f"audit log FAILS at record {self.first_bad}: {self.reason} ({self.records} record(s) before it verify)"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for --json and for the audit_verify event."""
        return {
            "ok": self.ok, "records": self.records, "first_bad": self.first_bad, "reason": self.reason,
            "torn_tail": self.torn_tail, "checkpoint_seq": self.checkpoint_seq, "seconds": round(self.seconds, 4),
        }


def load_key(path: Path, create: bool = False) -> bytes:
    """Read the HMAC key; with `create`, make a new random one (mode 0600) when none exists."""
    path = Path(path)
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise AuditError(
            f"cannot read the audit key {path}: {exc}",
            hint="restore the key file (it is needed to extend or verify the log), or set audit_key_file",
        ) from exc
    if len(key) < 16:
        raise AuditError(f"the audit key {path} is too short", hint="use at least 16 random bytes, hex-encoded")
    return key


class AuditLog:
    """An append-only, hash-chained, HMAC-sealed JSON Lines log with a checkpoint beside it."""

    def __init__(self, path: Path, key: bytes, durable: bool = True) -> None:
        if not key:
            raise AuditError("the audit log needs a key", hint="run enclave setup to create one")
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")
        self._key = bytes(key)
        self._durable = durable  # False only for benchmarks that build large logs
        self._last: tuple[int, int, int, str] | None = None  # (inode, size, seq, hash) after our last append

    # -- writing --
    def append(self, kind: str, actor: str, **details: Any) -> dict[str, Any]:
        """Write one event and fsync it (log, then checkpoint); return the record as written."""
        if kind not in EVENT_KINDS:
            raise AuditError(f"unknown audit event kind '{kind}'", hint=f"use one of {', '.join(sorted(EVENT_KINDS))}")
        if not actor:
            raise AuditError("an audit event needs an actor", hint="pass the user or 'system'")
        missing = [key for key in REQUIRED_DETAILS[kind] if not any(alt in details for alt in key.split("|"))]
        if missing:
            raise AuditError(f"a '{kind}' audit event needs {', '.join(missing)}", hint="pass every detail the event type requires")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a+b") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                seq, prev, torn = self._tail(f)
                if torn is not None:  # an interrupted append was set aside: record that first
                    seq, prev, _ = self._write(f, seq, prev, "admin_action", "system", torn)
                seq, digest, record = self._write(f, seq, prev, kind, actor, details)
                st = os.fstat(f.fileno())
                self._last = (st.st_ino, st.st_size, seq, digest)
                return record
        except OSError as exc:
            raise AuditWriteFailed(
                f"cannot write the audit log {self.path}: {exc.strerror or exc}",
                hint="free disk space or fix the permissions of the audit directory; nothing is served until it is writable",
            ) from exc

    def keyed_hash(self, text: str) -> str:
        """HMAC-SHA256 of `text` under a key derived from the log key (for question_logging: hash)."""
        sub = hmac.digest(self._key, b"enclave-question-hash", "sha256")
        return "hmac-sha256:" + hmac.new(sub, text.encode("utf-8"), "sha256").hexdigest()

    def _write(
        self, f: Any, last_seq: int, prev: str, kind: str, actor: str, details: dict[str, Any]
    ) -> tuple[int, str, dict[str, Any]]:
        record = {
            "seq": last_seq + 1,
            "ts": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "kind": kind,
            "actor": str(actor),
            "details": details,
            "prev": prev,
        }
        body = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()
        digest = hashlib.sha256(body).hexdigest()
        mac = hmac.digest(self._key, digest.encode(), "sha256").hex()
        f.write(body[:-1] + f',"hash":"{digest}","mac":"{mac}"}}\n'.encode())
        f.flush()
        if self._durable:
            os.fsync(f.fileno())
        self._write_head(record["seq"], digest)
        return record["seq"], digest, {**record, "hash": digest, "mac": mac}

    def _write_head(self, seq: int, digest: str) -> None:
        head = {"seq": seq, "hash": digest, "mac": self._head_mac(seq, digest)}
        if not self._durable:  # benchmark mode: overwrite in place (rename or truncate cost a flush on ext4)
            fd = os.open(self.head_path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.pwrite(fd, json.dumps(head).encode().ljust(256), 0)
            finally:
                os.close(fd)
            return
        tmp = self.head_path.with_name(self.head_path.name + ".tmp")
        with open(tmp, "w") as h:
            h.write(json.dumps(head))
            h.flush()
            if self._durable:
                os.fsync(h.fileno())
        os.replace(tmp, self.head_path)
        if self._durable:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _head_mac(self, seq: int, digest: str) -> str:
        return hmac.digest(self._key, f"head:{seq}:{digest}".encode(), "sha256").hex()

    def _tail(self, f: Any) -> tuple[int, str, dict[str, Any] | None]:
        """(last seq, last hash, note on a torn tail that was just set aside, if any)."""
        st = os.fstat(f.fileno())
        size = st.st_size
        if size == 0:
            return 0, GENESIS, None
        if self._last is not None and self._last[:2] == (st.st_ino, size):  # nobody appended since our last write
            return self._last[2], self._last[3], None
        block = b""
        pos = size
        want = _TAIL_BLOCK
        while pos > 0:  # read backwards until the last complete line is in `block`
            step = min(want, pos)
            pos -= step
            f.seek(pos)
            block = f.read(step) + block
            if block.count(b"\n") >= 2 or (pos == 0 and b"\n" in block):
                break
            want *= 2
        note = None
        if not block.endswith(b"\n"):
            cut = block.rfind(b"\n")
            torn = block[cut + 1 :]
            note = self._set_aside(f, size - len(torn), torn)
            block = block[: cut + 1]
            if not block:
                return 0, GENESIS, note  # the only line was torn
        parsed = _parse(block[:-1].rsplit(b"\n", 1)[-1])
        if parsed is None:
            raise OSError(0, "the last record of the audit log is malformed; run enclave audit verify")
        return parsed[3], parsed[1].decode(), note

    def _set_aside(self, f: Any, keep: int, torn: bytes) -> dict[str, Any]:
        """Move an interrupted (never committed) last line to a side file and cut it from the log."""
        aside = self.path.with_name(f"{self.path.name}.torn-{int(time.time() * 1000)}")
        aside.write_bytes(torn)
        os.truncate(self.path, keep)
        f.seek(0, os.SEEK_END)
        return {
            "action": "torn_tail_set_aside",
            "bytes": len(torn),
            "sha256": hashlib.sha256(torn).hexdigest(),
            "saved_to": str(aside),
        }

    # -- reading --
    def records(self) -> Iterator[dict[str, Any]]:
        """Every complete record, oldest first (a torn last line is skipped)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for raw in f:
                if raw.endswith(b"\n"):
                    with contextlib.suppress(ValueError):
                        yield json.loads(raw)

    def verify(self) -> VerifyResult:
        """Check every record's hash, sequence, chain link and HMAC, then the checkpoint."""
        started = time.perf_counter()
        try:
            data, head = self._snapshot()
        except OSError as exc:
            return VerifyResult(False, 0, 1, f"cannot read {self.path}: {exc.strerror or exc}")
        lines = data.split(b"\n")
        complete, fragment = lines[:-1], lines[-1]
        prev = GENESIS.encode()
        key = self._key
        for n, raw in enumerate(complete, 1):
            sound, value = _check_line(raw, n, prev, key)
            if not sound:
                return self._result(False, n - 1, n, str(value), started)
            prev = value  # type: ignore[assignment]
        count = len(complete)
        if fragment:
            reason = f"torn tail: the last line is incomplete (an append was interrupted); records 1..{count} verify"
            return self._result(False, count, count + 1, reason, started, torn=True, head=head)
        if head is None:
            if count:
                return self._result(False, count, count, "checkpoint file missing: a truncated tail cannot be ruled out", started)
            return self._result(True, 0, None, "", started)
        if isinstance(head, str):
            return self._result(False, count, count, head, started)
        seq, digest = head
        if seq > count:
            reason = f"log truncated: the checkpoint records {seq} record(s) but the log ends at {count}"
            return self._result(False, count, count + 1, reason, started, head=head)
        if complete and seq > 0 and _hash_of(complete[seq - 1]) != digest:
            return self._result(False, seq - 1, seq, "record does not match the checkpoint", started, head=head)
        return self._result(True, count, None, "", started, head=head)

    def _snapshot(self) -> tuple[bytes, tuple[int, str] | str | None]:
        """The log's bytes and its checkpoint, read under a shared lock so no append lands in between."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return b"", self._read_head()
        with f:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH)
            return f.read(), self._read_head()

    def _read_head(self) -> tuple[int, str] | str | None:
        try:
            head = json.loads(self.head_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return "checkpoint file unreadable or malformed"
        try:
            seq, digest, mac = int(head["seq"]), str(head["hash"]), str(head["mac"])
        except (KeyError, TypeError, ValueError):
            return "checkpoint file malformed"
        if not hmac.compare_digest(self._head_mac(seq, digest), mac):
            return "checkpoint HMAC invalid (checkpoint forged or made with another key)"
        return seq, digest

    @staticmethod
    def _result(
        ok: bool, records: int, first_bad: int | None, reason: str, started: float,
        torn: bool = False, head: Any = None,
    ) -> VerifyResult:
        return VerifyResult(
            ok=ok, records=records, first_bad=first_bad, reason=reason, torn_tail=torn,
            checkpoint_seq=head[0] if isinstance(head, tuple) else None, seconds=time.perf_counter() - started,
        )


def _parse(raw: bytes) -> tuple[bytes, bytes, bytes, int, bytes] | None:
    """(body, hash, mac, seq, prev) of a record line, or None when it is not shaped like one."""
    seal = _SEAL.match(raw, len(raw) - _SEAL_LEN) if len(raw) > _SEAL_LEN else None
    if seal is None:
        return None
    body = raw[: -_SEAL_LEN] + b"}"
    tail = _BODY_TAIL.search(body, max(0, len(body) - 200))
    if tail is None:
        return None
    return body, seal.group(1), seal.group(2), int(tail.group(2)), tail.group(1)


def _hash_of(raw: bytes) -> str:
    parsed = _parse(raw)
    return parsed[1].decode() if parsed else ""


def _check_line(raw: bytes, n: int, prev: bytes, key: bytes) -> tuple[bool, bytes | str]:
    """(True, its hash) when line `n` is sound and follows `prev`; otherwise (False, the reason)."""
    parsed = _parse(raw)
    if parsed is None:
        if _SEAL.search(raw) is None:
            return False, "malformed record (no hash/mac seal)"
        return False, "malformed record (not an audit record)"
    body, digest, mac, seq, link = parsed
    if hashlib.sha256(body).hexdigest().encode() != digest:
        return False, "record content does not match its hash (edited)"
    if seq != n:
        return False, f"out of sequence: expected seq {n}, found {seq} (a record was deleted, inserted or swapped)"
    if link != prev:
        return False, "chain broken: 'prev' is not the hash of the record before (deleted, inserted or swapped)"
    if not hmac.compare_digest(hmac.digest(key, digest, "sha256").hex().encode(), mac):
        return False, "HMAC invalid: record rewritten or forged without the key"
    return True, digest


def question_fields(sink: AuditSink, question: str, mode: str) -> dict[str, Any]:
    """How a question is kept in the log, per the policy's question_logging (full | hash)."""
    if mode == "full":
        return {"question": question, "question_chars": len(question)}
    return {"question_hmac": sink.keyed_hash(question), "question_chars": len(question)}
