"""Copy an index between adapters (embedded Edge <-> Qdrant server) without re-embedding, then verify."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ingest.errors import IngestError
from ingest.index.base import cosine
from ingest.schema import EmbeddedChunk, IndexMeta, SparseVec

_BATCH = 256
# Stored dense vectors are unit-normalised by both engines; a copy must point the same way.
_MIN_COSINE = 0.99999
_SPARSE_TOL = 1e-6


class MigrationFailed(IngestError):
    """The copy could not start, or the target does not match the source afterwards."""

    code = "migration_failed"


@dataclass(frozen=True)
class MigrationReport:
    """What was copied and what the verification compared."""

    copied: int
    source_counts: tuple[int, int]
    target_counts: tuple[int, int]
    sampled: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data for --json."""
        return {
            "copied": self.copied,
            "documents": self.target_counts[0],
            "chunks": self.target_counts[1],
            "sampled": self.sampled,
            "seconds": round(self.seconds, 3),
        }


def migrate(source: Any, target: Any, sample: int = 64, batch: int = _BATCH) -> MigrationReport:
    """Open `source` as it is, copy every chunk with its vectors into an empty `target`, then verify."""
    started = time.perf_counter()
    meta: IndexMeta | None = source.read_meta()
    if meta is None:
        raise MigrationFailed("the source index does not exist", hint="check the source settings (index path or URL)")
    source.ensure(meta)
    target.ensure(meta)  # same schema and embedder as the source, or IndexMismatch
    if target.counts()[1]:
        raise MigrationFailed(
            "the target index already holds chunks; a migration copies into an empty index only",
            hint="choose another index.collection, or remove the target index first",
        )
    copied = 0
    for page in export(source, batch):
        target.upsert(page)
        copied += len(page)
    source_counts, target_counts = source.counts(), target.counts()
    if source_counts != target_counts or copied != source_counts[1]:
        raise MigrationFailed(
            f"after the copy the source holds {source_counts} (documents, chunks) but the target {target_counts}",
            hint="was the source written to during the migration? stop ingest and run the migration again",
        )
    sampled = verify_sample(source, target, sample)
    return MigrationReport(copied, source_counts, target_counts, sampled, time.perf_counter() - started)


def export(index: Any, batch: int = _BATCH) -> Iterator[list[EmbeddedChunk]]:
    """Every chunk with its stored vectors, page by page."""
    yield from index.export(batch)


def fetch(index: Any, chunk_ids: Sequence[str]) -> dict[str, EmbeddedChunk]:
    """Chunks with vectors by id."""
    return dict(index.fetch(chunk_ids))


def verify_sample(source: Any, target: Any, sample: int) -> int:
    """Compare payloads and vectors of an evenly spread sample of chunk ids; raise on the first difference."""
    ids = sorted(source.all_chunk_ids())
    if not ids or sample <= 0:
        return 0
    step = max(1, math.ceil(len(ids) / sample))
    picked = ids[::step][:sample]
    want, got = fetch(source, picked), fetch(target, picked)
    for cid in picked:
        a, b = want.get(cid), got.get(cid)
        if b is None or a is None:
            raise MigrationFailed(f"chunk {cid} is missing from the target", hint="run the migration again")
        if a.chunk != b.chunk:
            raise MigrationFailed(f"chunk {cid} has a different payload in the target", hint="run the migration again")
        if cosine(a.dense, b.dense) < _MIN_COSINE or not _same_sparse(a.sparse, b.sparse):
            raise MigrationFailed(f"chunk {cid} has different vectors in the target", hint="run the migration again")
    return len(picked)


def _same_sparse(a: SparseVec, b: SparseVec) -> bool:
    pa, pb = dict(zip(a.indices, a.values, strict=True)), dict(zip(b.indices, b.values, strict=True))
    return pa.keys() == pb.keys() and all(abs(pa[k] - pb[k]) <= _SPARSE_TOL for k in pa)
