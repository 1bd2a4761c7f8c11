"""The ingest history (one row per run) and the lock that keeps two syncs from running at once."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.errors import AlreadyRunning

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    trigger     TEXT NOT NULL,          -- cli | schedule | ui
    actor       TEXT NOT NULL,
    status      TEXT NOT NULL,          -- ok | failed
    error       TEXT,
    report      TEXT NOT NULL           -- JSON IngestReport.to_dict()
);
"""


@dataclass(frozen=True)
class RunRecord:
    """One finished run as kept in the history."""

    id: int
    started_at: str
    finished_at: str
    trigger: str
    actor: str
    status: str
    error: str | None
    report: dict[str, Any]


class RunHistory:
    """SQLite table of ingest runs under ENCLAVE_HOME."""

    def __init__(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def record(
        self, started_at: str, trigger: str, actor: str, report: dict[str, Any], error: str | None = None
    ) -> int:
        """Keep one run; returns its id."""
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        cur = self._db.execute(
            "INSERT INTO runs (started_at, finished_at, trigger, actor, status, error, report) VALUES (?,?,?,?,?,?,?)",
            (started_at, finished, trigger, actor, "failed" if error else "ok", error, json.dumps(report)),
        )
        return int(cur.lastrowid or 0)

    def recent(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        rows = self._db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7])) for r in rows]

    def close(self) -> None:
        """Close the database."""
        self._db.close()


@contextmanager
def sync_lock(home: Path) -> Iterator[None]:
    """Hold the ingest lock for the block, or raise AlreadyRunning naming the holder."""
    from filelock import FileLock, Timeout

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    pid_file = home / "ingest.pid"
    lock = FileLock(str(home / "ingest.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = pid_file.read_text().strip() if pid_file.exists() else "unknown"
        raise AlreadyRunning(
            f"an ingest is already running ({holder})",
            hint="wait for it to finish; `enclave ingest --history` shows past runs",
        ) from None
    try:
        since = datetime.now(UTC).isoformat(timespec="seconds")
        pid_file.write_text(f"pid {os.getpid()}, since {since}\n")
        yield
    finally:
        pid_file.unlink(missing_ok=True)
        lock.release()
