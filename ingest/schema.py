"""The index contract shared by ingest (writer) and rag (reader): payload, ids, metadata."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
CHUNK_NAMESPACE = uuid.UUID("6f1c1b7e-3a52-4c1e-9f0e-5e6e1a9c2d40")

# Payload keys every chunk carries (see Chunk below). `labels` is what the policy filter matches.
INDEXED_KEYWORD_FIELDS = ("doc_id", "source", "labels")


def chunk_id(source: str, doc_sha256: str, chunk_no: int) -> str:
    """Deterministic chunk id: the same file content at the same place gives the same id."""
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{source}\x00{doc_sha256}\x00{chunk_no}"))


def doc_id(source: str) -> str:
    """Deterministic document id from its source path (relative to the ingest root)."""
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"doc\x00{source}"))


@dataclass(frozen=True)
class Chunk:
    """One passage as stored in the index (the payload contract)."""

    chunk_id: str
    doc_id: str
    source: str
    doc_sha256: str
    chunk_no: int
    text: str
    page: int | None
    section: str | None
    element_types: tuple[str, ...]
    labels: tuple[str, ...]
    title: str = ""
    ingested_at: str = ""

    def payload(self) -> dict[str, Any]:
        """The payload written next to the vectors."""
        data = asdict(self)
        data["element_types"] = list(self.element_types)
        data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Chunk:
        """Rebuild a chunk from a stored payload."""
        known = {f for f in cls.__dataclass_fields__}
        data = {k: v for k, v in payload.items() if k in known}
        data["element_types"] = tuple(data.get("element_types") or ())
        data["labels"] = tuple(data.get("labels") or ())
        return cls(**data)


@dataclass(frozen=True)
class SparseVec:
    """A sparse vector (BM25 term weights; IDF is applied inside the index)."""

    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class EmbeddedChunk:
    """A chunk with its dense and sparse vectors, ready to write."""

    chunk: Chunk
    dense: list[float]
    sparse: SparseVec


@dataclass(frozen=True)
class IndexMeta:
    """Collection metadata: which schema and embedder built the index."""

    schema_version: int
    embedding_model: str
    embedding_dim: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for storage."""
        return asdict(self)
