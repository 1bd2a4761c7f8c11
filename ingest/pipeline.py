"""The ingest route: recover → discover → hash → parse → chunk → embed → stage → write → settle.

The manifest is the record of truth. Every index write is preceded by a durable intent row
(`pending`) and followed by one transaction that settles the documents and clears the intent,
so a sync killed at any point is finished or undone by the next one (see `recover`). Within a
batch the new chunks are written, then the stale ones deleted, in one store session: a reader,
which holds the store between sessions only, sees a document's old version or its new one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.chunk import chunk_document
from ingest.embed import Bm25Encoder, DenseEmbedder
from ingest.errors import IngestError, SourceEmpty, TooLarge, Unreadable
from ingest.index.base import VectorIndex
from ingest.manifest import DocumentRecord, Manifest, Pending
from ingest.parse import ParsedDocument
from ingest.relabel import Labeler
from ingest.schema import Chunk, EmbeddedChunk, chunk_id, doc_id
from ingest.sources import Source, discover_source

Parser = Callable[[Path], ParsedDocument]


@dataclass(frozen=True)
class FileFailure:
    """A file that could not be ingested, and why."""

    source: str
    code: str
    message: str


@dataclass
class IngestReport:
    """What one run did. Nothing skipped goes uncounted."""

    sources: list[str] = field(default_factory=list)
    files_seen: int = 0
    ingested: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    hashed: int = 0  # files read for their content hash; the others were known unchanged by their stat
    removed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # "old -> new", also counted as removed + ingested
    failed: list[FileFailure] = field(default_factory=list)
    # Ingested, but the document's own properties (metadata label rules) could not be read: path labels only.
    metadata_unread: list[FileFailure] = field(default_factory=list)
    recovered: int = 0  # unsettled writes of an interrupted run, finished or undone
    chunks_written: int = 0
    chunks_reused: int = 0  # chunks of moved files: new path, ids and labels, stored vectors kept
    chunks_deleted: int = 0
    embeddings: int = 0
    pages: int = 0
    store_sessions: int = 0
    seconds: dict[str, float] = field(
        default_factory=lambda: {"parse": 0.0, "embed": 0.0, "write": 0.0, "total": 0.0}
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for --json, the history and the audit log."""
        data = asdict(self)
        data["seconds"] = {k: round(v, 3) for k, v in self.seconds.items()}
        data["outcomes"] = {
            "ingested": len(self.ingested), "changed": len(self.changed), "unchanged": self.unchanged,
            "removed": len(self.removed), "failed": len(self.failed),
        }
        return data


@dataclass(frozen=True)
class Progress:
    """One step of a run, for progress bars."""

    done: int
    total: int
    source: str
    outcome: str
    chunks: int = 0
    pages: int = 0


@dataclass(frozen=True)
class IngestDeps:
    """What the ingest route needs, wired by the composition root."""

    index: VectorIndex
    manifest: Manifest
    embedder: DenseEmbedder
    sparse: Bm25Encoder
    parse: Parser
    labeler: Labeler
    max_tokens: int
    overlap_tokens: int
    max_file_bytes: int
    write_batch_files: int = 16
    retry_failed: bool = False  # parse unchanged files that failed last time again (a limit was raised)
    allow_empty: bool = False  # a source that lists no files may withdraw every document it had
    # Read and hash every file, even one whose size, mtime and ctime are as recorded (ingest.rehash_unchanged).
    rehash_unchanged: bool = False
    # Called with the name of each durable step ("staged", "upserted", "deleted", "settled"): tracing, tests.
    on_step: Callable[[str], None] | None = None


@dataclass
class _Batch:
    pending: list[Pending] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)  # embedded together when the batch is written
    reused: list[EmbeddedChunk] = field(default_factory=list)  # moved files: vectors already known
    stale: list[str] = field(default_factory=list)
    moves: list[_Move] = field(default_factory=list)  # moved files, resolved in one store session at write
    restat: list[DocumentRecord] = field(default_factory=list)  # unchanged by hash, with a newer stat to record

    def files(self) -> int:
        return len(self.pending) + len(self.moves)


@dataclass(frozen=True)
class _Move:
    """A new file with the content of a vanished one: its stored chunks are fetched when the batch is written."""

    old: DocumentRecord
    key: str
    path: Path
    stat: Any
    sha: str
    now: str
    checked_ns: int


def ingest_folder(
    root: Path, deps: IngestDeps, on_progress: Callable[[Progress], None] | None = None
) -> IngestReport:
    """Bring the index in step with the files under `root` (a source named after the folder)."""
    root = Path(root).resolve()
    source = Source(name=root.name, path=root, max_file_bytes=deps.max_file_bytes)
    return sync_source(source, deps, on_progress)


def sync_source(
    source: Source,
    deps: IngestDeps,
    on_progress: Callable[[Progress], None] | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Bring the index in step with one source: new, changed, moved and deleted files."""
    started = time.perf_counter()
    report = report if report is not None else IngestReport()
    report.sources.append(source.name)
    recover(deps, report)
    files = discover_source(source)
    if not files and not deps.allow_empty:
        _refuse_empty(source, deps)
    report.files_seen += len(files)
    vanished = _vanished_by_sha(deps.manifest.under(source.name + "/"), {key for key, _ in files})
    seen: dict[str, str] = {}
    went_away: set[str] = set()
    batch = _Batch()
    plan = [_plan(key, path, source, deps, vanished) for key, path in files]
    ahead = getattr(deps.parse, "ahead", None)  # a parser that works in the background is told what comes
    if ahead is not None:
        ahead([step.path for step in plan if step.parse])
    for n, step in enumerate(plan, 1):
        key, sha = step.key, step.sha
        outcome = _carry_out(step, deps, report, batch)
        if outcome == "gone":
            went_away.add(key)
        else:
            seen[key] = sha
        if batch.files() >= deps.write_batch_files:
            _write(batch, deps, report)
            batch = _Batch()
        if on_progress:
            written = report.chunks_written + len(batch.chunks) + len(batch.reused)
            on_progress(Progress(n, len(files), key, outcome, written, report.pages))
    _write(batch, deps, report)
    # A file that went away during the sync keeps what the index holds until a sync lists the source again:
    # a share unmounted halfway through must not read as every remaining file deleted.
    gone = [rec for rec in deps.manifest.under(source.name + "/") if rec.source not in seen and rec.source not in went_away]
    _remove(gone, deps, report)
    new_by_sha = {sha: key for key, sha in seen.items() if key in set(report.ingested)}
    report.moved.extend(f"{r.source} -> {new_by_sha[r.sha256]}" for r in gone if r.sha256 in new_by_sha)
    report.seconds["total"] += time.perf_counter() - started
    return report


def _refuse_empty(source: Source, deps: IngestDeps) -> None:
    """Stop before an empty listing withdraws a source's documents: an unmounted share lists no files too."""
    held = sum(1 for r in deps.manifest.under(source.name + "/") if r.status == "ingested")
    if held:
        raise SourceEmpty(
            f"source '{source.name}': {Path(source.path)} lists no files, but the index holds {held} document(s) from it; "
            "nothing was removed",
            hint="check the share is mounted; if it was emptied on purpose, run `enclave ingest --allow-empty` once",
        )


def recover(deps: IngestDeps, report: IngestReport) -> None:
    """Finish or undo the writes an interrupted sync left unsettled, so the index matches the manifest."""
    pending = deps.manifest.pending()
    if not pending:
        return
    settle: list[DocumentRecord] = []
    removed: list[str] = []
    dropped: list[str] = []
    with _session(deps.index) as index:
        report.store_sessions += 1
        for p in pending:
            present = {c.chunk_id for c in index.chunks_of(p.doc_id)}
            if p.record is None:  # a removal: finish it
                index.delete(sorted(present))
                removed.append(p.source)
            elif set(p.new_ids) <= present:  # the new version is complete: roll forward
                index.delete(sorted(present - set(p.new_ids)))
                settle.append(p.record)
            else:  # roll back to what the manifest holds, or force a re-ingest if that is gone too
                old = deps.manifest.get(p.source)
                keep = set(old.chunk_ids) if old else set()
                if old is not None and not keep <= present:
                    index.delete(sorted(present))
                    settle.append(replace(old, sha256="", status="incomplete", chunk_ids=()))
                else:
                    index.delete(sorted(present - keep))
                    dropped.append(p.source)
    deps.manifest.settle(settle, removed)
    for source in dropped:
        deps.manifest.drop_pending(source)
    report.recovered += len(pending)


def verify(index: Any, manifest: Manifest) -> list[str]:
    """Differences between the index and the manifest (empty: they match exactly)."""
    with _session(index) as idx:
        present = idx.all_chunk_ids()
    expected: dict[str, str] = {}
    problems = []
    for rec in manifest.all():
        for cid in rec.chunk_ids:
            if cid in expected:
                problems.append(f"chunk {cid} listed by {expected[cid]} and {rec.source}")
            expected[cid] = rec.source
    problems += [f"missing chunk {cid} of {src}" for cid, src in expected.items() if cid not in present]
    problems += [f"orphan chunk {cid}" for cid in sorted(present - expected.keys())]
    problems += [f"unsettled write of {p.source}" for p in manifest.pending()]
    return problems


def discover(root: Path) -> list[Path]:
    """Regular files under `root` that a sync of that folder takes (hidden entries and symlinks skipped)."""
    root = Path(root).resolve()
    return [path for _, path in discover_source(Source(name=root.name, path=root))]


def file_sha256(path: Path) -> str:
    """Content hash of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class _Step:
    """What a sync will do with one file, decided from its hash and the manifest before anything is parsed."""

    key: str
    path: Path
    stat: Any
    sha: str
    previous: DocumentRecord | None
    checked_ns: int = 0  # the clock just before `stat` was taken
    unchanged: bool = False
    hashed: bool = True  # False: known unchanged from the recorded stat, not read
    moved_from: DocumentRecord | None = None
    refused: IngestError | None = None  # reported instead of read: over the size limit, or cannot be opened
    gone: bool = False  # listed, then deleted before it could be hashed

    @property
    def parse(self) -> bool:
        return not self.unchanged and not self.gone and self.moved_from is None and self.refused is None


# A recorded stat vouches for a file's content only if the file had last changed this long before the stat was
# taken: a later write within the same timestamp tick (coarse on some filesystems: 2 s on FAT/SMB) could
# otherwise leave size, mtime and ctime as they were (git's "racily clean" entries).
RACY_NS = 3_000_000_000


def _plan(key: str, path: Path, source: Source, deps: IngestDeps, vanished: dict[str, DocumentRecord]) -> _Step:
    """The step for one listed file."""
    previous = deps.manifest.get(key)
    retry = deps.retry_failed and previous is not None and previous.status == "failed"
    try:
        checked = time.time_ns()
        stat = path.stat()
        if previous is not None and not retry and not deps.rehash_unchanged and _stat_vouches(previous, stat):
            return _Step(key, path, stat, previous.sha256, previous, checked, unchanged=True, hashed=False)
        sha, refused = _identity(path, stat, source.max_file_bytes)
    except FileNotFoundError:
        return _Step(key, path, None, "", None, gone=True)
    if previous is not None and previous.sha256 == sha and not retry:
        return _Step(key, path, stat, sha, previous, checked, unchanged=True)  # failed files too: retried once they change
    moved_from = vanished.pop(sha, None) if previous is None and refused is None else None
    return _Step(key, path, stat, sha, previous, checked, moved_from=moved_from, refused=refused)


def _stat_vouches(previous: DocumentRecord, stat: Any) -> bool:
    """True when the file is the one hashed before: the same size, mtime and ctime, and those older than that stat.

    The change time (ctime) is set by the kernel on every write and cannot be set back by a program, so a
    file rewritten with its size and modification time restored (`touch -d`, `cp -p`) is still read again.
    """
    return (
        previous.ctime_ns is not None and previous.checked_ns is not None
        and (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns) == (previous.size, previous.mtime_ns, previous.ctime_ns)
        and max(stat.st_mtime_ns, stat.st_ctime_ns) < previous.checked_ns - RACY_NS
    )


def _identity(path: Path, stat: Any, max_bytes: int) -> tuple[str, IngestError | None]:
    """The file's content hash, or, for a file that is not read, an identity from its metadata and the reason."""
    if stat.st_size > max_bytes:  # not read at all: its identity is its size and mtime
        reason = TooLarge(
            f"{stat.st_size:,} bytes is over the {max_bytes:,}-byte limit", hint="raise the source's max_file_mb (or ingest.max_file_mb)"
        )
        return f"unread:{stat.st_size}:{stat.st_mtime_ns}", reason
    try:
        return file_sha256(path), None
    except FileNotFoundError:
        raise
    except OSError as exc:  # the change time is part of its identity: a permission change makes the next sync try it again
        reason = Unreadable(f"the file cannot be opened: {exc.strerror or exc}", hint="let Enclave's service account read it")
        return f"unreadable:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}", reason


def _carry_out(step: _Step, deps: IngestDeps, report: IngestReport, batch: _Batch) -> str:
    """Do what the plan says for one file; its outcome."""
    if step.gone:
        return "gone"
    if step.unchanged:
        report.unchanged += 1
        if step.hashed:  # read and found as it was: record this stat, so the next sync need not read it
            report.hashed += 1
            batch.restat.append(_with_stat(step.previous, step.stat, step.checked_ns))
        return "unchanged"
    report.hashed += step.refused is None
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if step.moved_from is not None:
        batch.moves.append(_Move(step.moved_from, step.key, step.path, step.stat, step.sha, now, step.checked_ns))
        return "ingested"
    return _parse_into(
        batch, step.key, step.path, step.stat, step.sha, now, step.previous, step.refused, deps, report, step.checked_ns
    )


def _with_stat(record: DocumentRecord | None, stat: Any, checked_ns: int) -> DocumentRecord:
    """`record` with a newer stat of the same content."""
    assert record is not None  # an unchanged step always has its previous record
    return replace(record, size=stat.st_size, mtime_ns=stat.st_mtime_ns, ctime_ns=stat.st_ctime_ns, checked_ns=checked_ns)


def _parse_into(
    batch: _Batch, key: str, path: Path, stat: Any, sha: str, now: str, previous: DocumentRecord | None,
    refused: IngestError | None, deps: IngestDeps, report: IngestReport, checked_ns: int,
) -> str:
    """Parse and chunk one new or changed file into the batch (or record why it failed); its outcome.

    `refused`: why the file is not read at all (over the size limit, cannot be opened); it is then reported.
    "gone": the file was deleted after the sync hashed it; nothing is recorded for it.
    """
    labels = deps.labeler(key, {})  # path rules only, until the file's own metadata has been read
    old_ids = previous.chunk_ids if previous else ()
    try:
        if refused is not None:
            raise refused
        t0 = time.perf_counter()
        parsed = deps.parse(path)
        t1 = time.perf_counter()
        labels = deps.labeler(key, parsed.metadata)
        chunks = _chunks(key, sha, parsed, labels, now, deps)
    except IngestError as exc:
        if refused is None and not path.exists():  # deleted after it was hashed: not a failure of the file
            return "gone"
        record = _record(path, key, sha, stat, checked_ns, "failed", (), None, None, labels, now, exc)
        batch.pending.append(Pending(key, record.doc_id, (), record))
        batch.stale.extend(old_ids)  # the old version no longer matches the file
        report.failed.append(FileFailure(source=key, code=exc.code, message=str(exc)))
        return "failed"
    new_ids = tuple(c.chunk_id for c in chunks)
    record = _record(path, key, sha, stat, checked_ns, "ingested", new_ids, parsed.pages, parsed.title, labels, now, None)
    record = replace(record, metadata=parsed.metadata)  # kept so `enclave policy apply` needs no re-parse
    if parsed.metadata_error:
        report.metadata_unread.append(FileFailure(source=key, code="metadata_unreadable", message=parsed.metadata_error))
    batch.pending.append(Pending(key, record.doc_id, new_ids, record))
    batch.chunks.extend(chunks)
    batch.stale.extend(cid for cid in old_ids if cid not in set(new_ids))
    report.seconds["parse"] += t1 - t0
    report.pages += parsed.pages or 1
    (report.changed if previous is not None and previous.status == "ingested" else report.ingested).append(key)
    return "changed" if previous is not None else "ingested"


def _vanished_by_sha(records: list[DocumentRecord], present: set[str]) -> dict[str, DocumentRecord]:
    """Ingested documents whose file is gone from the source, by content hash: a new file with one of
    these hashes was moved or renamed, and keeps its chunks' vectors."""
    return {r.sha256: r for r in records if r.source not in present and r.status == "ingested" and r.chunk_ids}


def _resolve_moves(batch: _Batch, deps: IngestDeps, report: IngestReport) -> None:
    """Stage the batch's moved files from their stored chunks, fetched in one store session.

    A moved file keeps its vectors: new path, ids and labels, no parse, no embedding. One whose old chunks
    are not all in the index is parsed as a new file instead.
    """
    if not batch.moves:
        return
    t0 = time.perf_counter()
    with _session(deps.index) as index:
        report.store_sessions += 1
        stored = index.fetch([cid for m in batch.moves for cid in m.old.chunk_ids])
    report.seconds["write"] += time.perf_counter() - t0
    for m in batch.moves:
        if all(cid in stored for cid in m.old.chunk_ids):
            _stage_moved(m, [stored[cid] for cid in m.old.chunk_ids], deps, batch)
            report.ingested.append(m.key)
            report.pages += m.old.pages or 1
        else:
            _parse_into(batch, m.key, m.path, m.stat, m.sha, m.now, None, None, deps, report, m.checked_ns)
    batch.moves.clear()


def _stage_moved(m: _Move, stored: list[EmbeddedChunk], deps: IngestDeps, batch: _Batch) -> None:
    """A moved file's old chunks under its new path, ids and labels, with their stored vectors."""
    old, key, sha, now = m.old, m.key, m.sha, m.now
    labels = deps.labeler(key, old.metadata or {})
    moved = [
        EmbeddedChunk(
            chunk=replace(
                e.chunk, chunk_id=chunk_id(key, sha, e.chunk.chunk_no), doc_id=doc_id(key), source=key,
                labels=labels, ingested_at=now,
            ),
            dense=e.dense, sparse=e.sparse,
        )
        for e in sorted(stored, key=lambda e: e.chunk.chunk_no)
    ]
    ids = tuple(e.chunk.chunk_id for e in moved)
    record = _record(m.path, key, sha, m.stat, m.checked_ns, "ingested", ids, old.pages, old.title, labels, now, None)
    batch.pending.append(Pending(key, record.doc_id, ids, replace(record, metadata=old.metadata)))
    batch.reused.extend(moved)


def _chunks(key: str, sha: str, parsed: ParsedDocument, labels: tuple[str, ...], now: str, deps: IngestDeps) -> list[Chunk]:
    passages = chunk_document(parsed, deps.embedder.token_ids, deps.max_tokens, deps.overlap_tokens)
    return [
        Chunk(
            chunk_id=chunk_id(key, sha, i), doc_id=doc_id(key), source=key, doc_sha256=sha, chunk_no=i,
            text=p.text, page=p.page, section=p.section, element_types=p.element_types, labels=labels,
            title=parsed.title, ingested_at=now,
        )
        for i, p in enumerate(passages)
    ]


def _write(batch: _Batch, deps: IngestDeps, report: IngestReport) -> None:
    """Embed the batch, stage intent, write new chunks then drop stale ones in one store session, settle."""
    deps.manifest.refresh_stats(batch.restat)  # a cache of what was hashed: losing it costs a re-read, nothing else
    batch.restat.clear()
    _resolve_moves(batch, deps, report)
    if not batch.pending:
        return
    t0 = time.perf_counter()
    # One embedding call per batch: per-document calls cost a thread-pool round trip each.
    dense = deps.embedder.embed_documents([c.text for c in batch.chunks]) if batch.chunks else []
    embedded = [
        EmbeddedChunk(chunk=c, dense=v, sparse=deps.sparse.embed_document(c.text))
        for c, v in zip(batch.chunks, dense, strict=True)
    ]
    report.embeddings += len(embedded)
    report.chunks_reused += len(batch.reused)
    embedded += batch.reused
    report.seconds["embed"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    deps.manifest.stage(batch.pending)
    _step(deps, "staged")
    with _session(deps.index) as index:
        report.store_sessions += 1
        if embedded:
            index.upsert(embedded)
        _step(deps, "upserted")
        if batch.stale:
            index.delete(batch.stale)
        _step(deps, "deleted")
    deps.manifest.settle([p.record for p in batch.pending if p.record is not None])
    _step(deps, "settled")
    report.chunks_written += len(embedded)
    report.chunks_deleted += len(batch.stale)
    report.seconds["write"] += time.perf_counter() - t0


def _remove(records: list[DocumentRecord], deps: IngestDeps, report: IngestReport) -> None:
    if not records:
        return
    t0 = time.perf_counter()
    deps.manifest.stage([Pending(r.source, r.doc_id, (), None) for r in records])
    _step(deps, "staged")
    ids = [cid for r in records for cid in r.chunk_ids]
    with _session(deps.index) as index:
        report.store_sessions += 1
        if ids:
            index.delete(ids)
        _step(deps, "deleted")
    deps.manifest.settle([], [r.source for r in records])
    _step(deps, "settled")
    report.removed.extend(r.source for r in records)
    report.chunks_deleted += len(ids)
    report.seconds["write"] += time.perf_counter() - t0


def _session(index: Any) -> AbstractContextManager[Any]:
    """One store session when the index is shared (SessionIndex), else the index itself."""
    return index.session() if hasattr(index, "session") else nullcontext(index)


def _step(deps: IngestDeps, name: str) -> None:
    if deps.on_step is not None:
        deps.on_step(name)


def _record(path, source, sha, stat, checked_ns, status, chunk_ids, pages, title, labels, now, exc) -> DocumentRecord:  # noqa: ANN001
    return DocumentRecord(
        source=source, doc_id=doc_id(source), path=str(path), sha256=sha, size=stat.st_size,
        mtime_ns=stat.st_mtime_ns, status=status, error_code=exc.code if exc else None,
        error=str(exc) if exc else None, chunk_ids=tuple(chunk_ids), pages=pages, title=title,
        labels=tuple(labels), updated_at=now, ctime_ns=stat.st_ctime_ns, checked_ns=checked_ns,
    )
