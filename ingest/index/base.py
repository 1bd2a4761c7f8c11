"""The vector index port: what ingest writes and rag reads."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ingest.errors import IndexMismatch
from ingest.schema import DENSE_VECTOR, SCHEMA_VERSION, SPARSE_VECTOR, Chunk, EmbeddedChunk, IndexMeta, SparseVec

REBUILD_HINT = (
    "rebuild from the originals: move ENCLAVE_HOME/index and ENCLAVE_HOME/manifest.sqlite aside, "
    "then run enclave ingest (documents are never modified)"
)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its fused score and its dense similarity to the query."""

    chunk: Chunk
    score: float
    dense_score: float
    sparse_score: float


@dataclass(frozen=True)
class HybridQuery:
    """A hybrid query. `allowed_labels` is mandatory: an empty set matches nothing."""

    dense: list[float]
    sparse: SparseVec
    allowed_labels: frozenset[str]
    limit: int
    prefetch: int
    rrf_k: int = 60
    # (dense, sparse): RRF weights, or the convex weights of the normalised scores.
    weights: tuple[float, float] = (1.0, 1.0)
    # "rrf": Qdrant's reciprocal-rank fusion of the two prefetches. "convex": each prefetch's scores
    # min-max normalised over its own `prefetch` results, then weighted and summed (fuse_convex).
    fusion: str = "rrf"


class VectorIndex(Protocol):
    """A store of chunks with a dense and a BM25 sparse vector each."""

    def ensure(self, meta: IndexMeta) -> None:
        """Create the index with `meta`, or check that the existing one matches it."""

    def upsert(self, chunks: Sequence[EmbeddedChunk]) -> None:
        """Write chunks (same id overwrites)."""

    def delete(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id."""

    def query(self, query: HybridQuery) -> list[Hit]:
        """Hybrid BM25 + dense search, label filter applied inside each prefetch."""

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) in the index."""

    def close(self) -> None:
        """Release the store."""


def fuse_convex(
    dense: Sequence[tuple[str, float]], sparse: Sequence[tuple[str, float]], weights: tuple[float, float]
) -> list[tuple[str, float]]:
    """Weighted sum of min-max normalised scores, best first; a candidate absent from one list gets 0 there.

    Every adapter fuses with this function, so Edge and a Qdrant server rank alike.
    """
    fused: dict[str, float] = {}
    for results, weight in ((dense, weights[0]), (sparse, weights[1])):
        if not results:
            continue
        scores = [s for _, s in results]
        low, high = min(scores), max(scores)
        span = high - low if high > low else 1.0
        for point_id, score in results:
            fused[point_id] = fused.get(point_id, 0.0) + weight * (score - low) / span
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def check_meta(stored: IndexMeta, wanted: IndexMeta, where: str) -> None:
    """Refuse an index built with another schema or embedding model (it would give nonsense results)."""
    if stored.schema_version != SCHEMA_VERSION:
        raise IndexMismatch(
            f"{where} has schema v{stored.schema_version} but this Enclave writes v{SCHEMA_VERSION}",
            hint=REBUILD_HINT,
        )
    if stored.embedding_model != wanted.embedding_model or stored.embedding_dim != wanted.embedding_dim:
        raise IndexMismatch(
            f"{where} was built with {stored.embedding_model} ({stored.embedding_dim}-d) "
            f"but settings name {wanted.embedding_model} ({wanted.embedding_dim}-d)",
            hint="set embedding.model_id back, or " + REBUILD_HINT,
        )


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 for empty or mismatched vectors."""
    if len(a) != len(b) or not a:
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def embedded_from_record(point_id: Any, payload: dict[str, Any], vectors: dict[str, Any]) -> EmbeddedChunk:
    """A stored point (either Qdrant API's record) back as the chunk and vectors it was written from."""
    sparse = vectors.get(SPARSE_VECTOR)
    return EmbeddedChunk(
        chunk=Chunk.from_payload({**payload, "chunk_id": str(point_id)}),
        dense=[float(x) for x in vectors.get(DENSE_VECTOR) or []],
        sparse=SparseVec([int(i) for i in sparse.indices], [float(v) for v in sparse.values]) if sparse else SparseVec([], []),
    )
