"""The ingest route: discover → hash → parse → chunk → embed → write → record."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest.chunk import chunk_document
from ingest.embed import Bm25Encoder, DenseEmbedder
from ingest.errors import IngestError, TooLarge
from ingest.index.base import VectorIndex
from ingest.manifest import DocumentRecord, Manifest
from ingest.parse import ParsedDocument
from ingest.schema import Chunk, EmbeddedChunk, chunk_id, doc_id

Labeler = Callable[[str], tuple[str, ...]]
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

    files_seen: int = 0
    ingested: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[FileFailure] = field(default_factory=list)
    chunks_written: int = 0
    chunks_deleted: int = 0
    embeddings: int = 0
    pages: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"parse": 0.0, "embed": 0.0, "write": 0.0, "total": 0.0})


@dataclass(frozen=True)
class Progress:
    """One step of a run, for progress bars."""

    done: int
    total: int
    source: str
    outcome: str


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


def ingest_folder(
    root: Path, deps: IngestDeps, on_progress: Callable[[Progress], None] | None = None
) -> IngestReport:
    """Bring the index in step with the files under `root` (new, changed, deleted)."""
    started = time.perf_counter()
    root = Path(root).resolve()
    prefix = root.name
    report = IngestReport()
    files = discover(root)
    report.files_seen = len(files)
    seen: set[str] = set()
    for n, path in enumerate(files, 1):
        source = f"{prefix}/{path.relative_to(root).as_posix()}"
        seen.add(source)
        outcome = _ingest_one(path, source, deps, report)
        if on_progress:
            on_progress(Progress(done=n, total=len(files), source=source, outcome=outcome))
    for rec in deps.manifest.all():
        if rec.source.startswith(prefix + "/") and rec.source not in seen:
            deps.index.delete(rec.chunk_ids)
            deps.manifest.delete(rec.source)
            report.removed.append(rec.source)
            report.chunks_deleted += len(rec.chunk_ids)
    report.seconds["total"] = time.perf_counter() - started
    return report


def discover(root: Path) -> list[Path]:
    """Regular files under `root`, sorted, skipping hidden entries and symlinks."""
    if not root.is_dir():
        raise IngestError(f"{root} is not a folder", hint="pass a folder of documents")
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        found.append(path)
    return found


def file_sha256(path: Path) -> str:
    """Content hash of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _ingest_one(path: Path, source: str, deps: IngestDeps, report: IngestReport) -> str:
    stat = path.stat()
    sha = file_sha256(path)
    previous = deps.manifest.get(source)
    if previous is not None and previous.sha256 == sha:
        report.unchanged += 1
        return "unchanged"  # failed files too: retried only once they change
    now = datetime.now(UTC).isoformat(timespec="seconds")
    labels = deps.labeler(source)
    try:
        if stat.st_size > deps.max_file_bytes:
            raise TooLarge(f"{stat.st_size:,} bytes is over the {deps.max_file_bytes:,}-byte limit")
        t0 = time.perf_counter()
        parsed = deps.parse(path)
        t1 = time.perf_counter()
        passages = chunk_document(parsed, deps.embedder.token_ids, deps.max_tokens, deps.overlap_tokens)
        chunks = [
            Chunk(
                chunk_id=chunk_id(source, sha, i),
                doc_id=doc_id(source),
                source=source,
                doc_sha256=sha,
                chunk_no=i,
                text=p.text,
                page=p.page,
                section=p.section,
                element_types=p.element_types,
                labels=labels,
                title=parsed.title,
                ingested_at=now,
            )
            for i, p in enumerate(passages)
        ]
        dense = deps.embedder.embed_documents([c.text for c in chunks])
        embedded = [
            EmbeddedChunk(chunk=c, dense=v, sparse=deps.sparse.embed_document(c.text))
            for c, v in zip(chunks, dense, strict=True)
        ]
        t2 = time.perf_counter()
        # New version first, then the old chunks go: a crash in between is repaired by the rerun.
        deps.index.upsert(embedded)
        new_ids = {c.chunk_id for c in chunks}
        stale = [cid for cid in (previous.chunk_ids if previous else ()) if cid not in new_ids]
        deps.index.delete(stale)
        t3 = time.perf_counter()
    except IngestError as exc:
        if previous is not None and previous.chunk_ids:
            deps.index.delete(previous.chunk_ids)
        deps.manifest.put(_record(path, source, sha, stat, "failed", (), None, None, labels, now, exc))
        report.failed.append(FileFailure(source=source, code=exc.code, message=str(exc)))
        return "failed"
    deps.manifest.put(
        _record(path, source, sha, stat, "ingested", tuple(c.chunk_id for c in chunks), parsed.pages,
                parsed.title, labels, now, None)
    )
    report.seconds["parse"] += t1 - t0
    report.seconds["embed"] += t2 - t1
    report.seconds["write"] += t3 - t2
    report.chunks_written += len(chunks)
    report.chunks_deleted += len(stale)
    report.embeddings += len(chunks)
    report.pages += parsed.pages or 1
    (report.changed if previous is not None else report.ingested).append(source)
    return "changed" if previous is not None else "ingested"


def _record(path, source, sha, stat, status, chunk_ids, pages, title, labels, now, exc) -> DocumentRecord:
    return DocumentRecord(
        source=source, doc_id=doc_id(source), path=str(path), sha256=sha, size=stat.st_size,
        mtime_ns=stat.st_mtime_ns, status=status, error_code=exc.code if exc else None,
        error=str(exc) if exc else None, chunk_ids=tuple(chunk_ids), pages=pages, title=title,
        labels=tuple(labels), updated_at=now,
    )
