"""The vector index port: what ingest writes and rag reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.schema import Chunk, EmbeddedChunk, IndexMeta, SparseVec


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
    weights: tuple[float, float] = (1.0, 1.0)


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
