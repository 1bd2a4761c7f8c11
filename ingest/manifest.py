"""The manifest: what was ingested from where, in which version, as which chunks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    source      TEXT PRIMARY KEY,
    doc_id      TEXT NOT NULL,
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    status      TEXT NOT NULL,          -- ingested | failed
    error_code  TEXT,
    error       TEXT,
    chunk_ids   TEXT NOT NULL,          -- JSON list, in chunk order
    pages       INTEGER,
    title       TEXT,
    labels      TEXT NOT NULL,          -- JSON list
    updated_at  TEXT NOT NULL,
    metadata    TEXT,                   -- JSON object: the file's own properties; NULL: never read (older Enclave)
    ctime_ns    INTEGER,                -- the file's change time when it was last hashed; NULL: not recorded
    checked_ns  INTEGER                 -- when that stat was taken (the clock before it); NULL: not recorded
);
-- Write intent: staged before any index write, cleared in the same transaction that settles
-- the documents row. A row left here means a sync died mid-write; the next sync resolves it.
CREATE TABLE IF NOT EXISTS pending (
    source      TEXT PRIMARY KEY,
    doc_id      TEXT NOT NULL,
    new_ids     TEXT NOT NULL,          -- JSON list: the chunk ids being written
    record      TEXT                    -- JSON DocumentRecord to settle, NULL: the document goes
);
"""


@dataclass(frozen=True)
class DocumentRecord:
    """One document's row in the manifest."""

    source: str
    doc_id: str
    path: str
    sha256: str
    size: int
    mtime_ns: int
    status: str
    error_code: str | None
    error: str | None
    chunk_ids: tuple[str, ...]
    pages: int | None
    title: str | None
    labels: tuple[str, ...]
    updated_at: str
    # The document's own properties (ingest.docmeta) that metadata label rules match; kept so a
    # policy change relabels without re-parsing. None: ingested before Enclave recorded them.
    metadata: dict[str, str] | None = field(default_factory=dict)
    # The file's change time (st_ctime_ns) in the stat whose size and mtime are above, and when that stat was
    # taken. With them a sync can tell an unchanged file without reading it (ingest.pipeline's quick check).
    ctime_ns: int | None = None
    checked_ns: int | None = None


@dataclass(frozen=True)
class Pending:
    """A write in flight: the ids going into the index and the record that settles them."""

    source: str
    doc_id: str
    new_ids: tuple[str, ...]
    record: DocumentRecord | None  # None: the document is being removed


class Manifest:
    """SQLite-backed manifest under ENCLAVE_HOME."""

    def __init__(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def get(self, source: str) -> DocumentRecord | None:
        """The record for `source`, if any."""
        row = self._db.execute(_SELECT + " WHERE source = ?", (source,)).fetchone()
        return _record(row) if row else None

    def all(self) -> list[DocumentRecord]:
        """Every record, by source."""
        return [_record(r) for r in self._db.execute(_SELECT + " ORDER BY source")]

    def put(self, rec: DocumentRecord) -> None:
        """Insert or replace a record (one atomic statement)."""
        self._db.execute(
            f"INSERT OR REPLACE INTO documents ({', '.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})",
            (
                rec.source, rec.doc_id, rec.path, rec.sha256, rec.size, rec.mtime_ns, rec.status,
                rec.error_code, rec.error, json.dumps(list(rec.chunk_ids)), rec.pages, rec.title,
                json.dumps(list(rec.labels)), rec.updated_at,
                json.dumps(dict(rec.metadata), sort_keys=True) if rec.metadata is not None else None,
                rec.ctime_ns, rec.checked_ns,
            ),
        )

    def refresh_stats(self, records: Sequence[DocumentRecord]) -> None:
        """Record a newer stat of files found unchanged by their hash (one transaction; only where the hash still matches)."""
        if not records:
            return
        with self._transaction():
            self._db.executemany(
                "UPDATE documents SET size = ?, mtime_ns = ?, ctime_ns = ?, checked_ns = ? WHERE source = ? AND sha256 = ?",
                [(r.size, r.mtime_ns, r.ctime_ns, r.checked_ns, r.source, r.sha256) for r in records],
            )

    def delete(self, source: str) -> None:
        """Forget a document."""
        self._db.execute("DELETE FROM documents WHERE source = ?", (source,))

    def under(self, prefix: str) -> list[DocumentRecord]:
        """Every record whose source starts with `prefix`."""
        rows = self._db.execute(_SELECT + " WHERE substr(source, 1, ?) = ? ORDER BY source", (len(prefix), prefix))
        return [_record(r) for r in rows]

    def stage(self, entries: Sequence[Pending]) -> None:
        """Record write intent, durably, before the index is touched."""
        with self._transaction():
            for p in entries:
                self._db.execute(
                    "INSERT OR REPLACE INTO pending VALUES (?,?,?,?)",
                    (p.source, p.doc_id, json.dumps(list(p.new_ids)), _dump(p.record) if p.record else None),
                )

    def pending(self) -> list[Pending]:
        """Writes a previous sync did not settle."""
        rows = self._db.execute("SELECT source, doc_id, new_ids, record FROM pending ORDER BY source")
        return [
            Pending(source=r[0], doc_id=r[1], new_ids=tuple(json.loads(r[2])), record=_load(r[3]) if r[3] else None)
            for r in rows
        ]

    def settle(self, records: Sequence[DocumentRecord], removed: Sequence[str] = ()) -> None:
        """In one transaction: write `records`, forget `removed`, and clear their intent rows."""
        with self._transaction():
            for rec in records:
                self.put(rec)
                self._db.execute("DELETE FROM pending WHERE source = ?", (rec.source,))
            for source in removed:
                self.delete(source)
                self._db.execute("DELETE FROM pending WHERE source = ?", (source,))

    def drop_pending(self, source: str) -> None:
        """Clear one intent row (after recovery rolled it back)."""
        self._db.execute("DELETE FROM pending WHERE source = ?", (source,))

    def _migrate(self) -> None:
        """Add columns a manifest written by an older Enclave lacks (once; concurrent openers wait).

        Existing rows get NULL: metadata never read (relabel reports it); no recorded stat (the next sync hashes
        those files, as before, and records it).
        """
        added = (("metadata", "TEXT"), ("ctime_ns", "INTEGER"), ("checked_ns", "INTEGER"))
        if {name for name, _ in added} <= self._columns():
            return
        with self._transaction():
            present = self._columns()  # another process may have migrated meanwhile
            for name, kind in added:
                if name not in present:
                    self._db.execute(f"ALTER TABLE documents ADD COLUMN {name} {kind}")

    def _columns(self) -> set[str]:
        return {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database."""
        self._db.close()


_COLUMNS = (
    "source", "doc_id", "path", "sha256", "size", "mtime_ns", "status", "error_code", "error",
    "chunk_ids", "pages", "title", "labels", "updated_at", "metadata", "ctime_ns", "checked_ns",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM documents"


def _record(row: tuple) -> DocumentRecord:
    return DocumentRecord(
        source=row[0], doc_id=row[1], path=row[2], sha256=row[3], size=row[4], mtime_ns=row[5],
        status=row[6], error_code=row[7], error=row[8], chunk_ids=tuple(json.loads(row[9])),
        pages=row[10], title=row[11], labels=tuple(json.loads(row[12])), updated_at=row[13],
        metadata=json.loads(row[14]) if row[14] is not None else None, ctime_ns=row[15], checked_ns=row[16],
    )


def _dump(rec: DocumentRecord) -> str:
    return json.dumps(asdict(rec))


def _load(text: str) -> DocumentRecord:
    data = json.loads(text)
    data["chunk_ids"] = tuple(data["chunk_ids"])
    data["labels"] = tuple(data["labels"])
    data.setdefault("metadata", None)  # an intent row staged by an Enclave that did not read metadata
    return DocumentRecord(**data)
