"""Qdrant server (or cluster) through qdrant-client: the same VectorIndex contract as EdgeIndex."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ingest.errors import IndexLocked, IndexMismatch, IngestError
from ingest.index.base import Hit, HybridQuery, check_meta, cosine, embedded_from_record, fuse_convex
from ingest.schema import DENSE_VECTOR, INDEXED_KEYWORD_FIELDS, SPARSE_VECTOR, Chunk, EmbeddedChunk, IndexMeta

# Collection metadata keys (Qdrant >= 1.16 keeps a free-form metadata object per collection).
META_KEY = "enclave"
_WRITE_BATCH = 256
_SCROLL_PAGE = 1024


class IndexUnavailable(IngestError):
    """The Qdrant server cannot be reached, refuses us, or is misconfigured."""

    code = "index_unavailable"


class QdrantServerIndex:
    """A VectorIndex on one Qdrant collection: a server at `url`, or qdrant-client local mode at `path`."""

    def __init__(
        self,
        collection: str,
        *,
        url: str = "",
        path: Path | None = None,
        api_key_file: str = "",
        verify_tls: bool = True,
        shards: int = 1,
        replicas: int = 1,
        timeout_s: float = 30.0,
    ) -> None:
        if not url and not path:
            raise IndexUnavailable(
                "index.url is empty: backend 'qdrant' needs the address of your Qdrant server",
                hint="set index.url, e.g. https://qdrant:6333 (there is no default)",
            )
        if url and path:
            raise IndexUnavailable("give the Qdrant index a server URL or a local path, not both", hint="drop one")
        if url and not url.startswith(("http://", "https://")):
            raise IndexUnavailable(f"index.url {url!r} is not an http(s) URL", hint="e.g. https://qdrant:6333")
        self._collection = collection
        self._url = url
        self._path = Path(path) if path else None
        self._api_key_file = api_key_file
        self._verify_tls = verify_tls
        self._shards = shards
        self._replicas = replicas
        self._timeout_s = timeout_s
        self._client: Any = None

    @property
    def where(self) -> str:
        """Where the collection lives, for messages (never includes the API key)."""
        return f"{self._url or self._path} collection {self._collection!r}"

    # -- lifecycle --
    def ensure(self, meta: IndexMeta) -> None:
        """Create the collection with `meta`, or check that the existing one matches it."""
        from qdrant_client import models as m

        client = self._connect()
        stored = self.read_meta()
        if stored is not None:
            check_meta(stored, meta, self.where)
            return
        if self._call(lambda: client.collection_exists(self._collection)):
            raise IndexMismatch(
                f"{self.where} exists but was not made by Enclave (no '{META_KEY}' metadata)",
                hint="choose another index.collection, or remove that collection",
            )
        self._call(
            lambda: client.create_collection(
                self._collection,
                vectors_config={DENSE_VECTOR: m.VectorParams(size=meta.embedding_dim, distance=m.Distance.COSINE)},
                sparse_vectors_config={SPARSE_VECTOR: m.SparseVectorParams(modifier=m.Modifier.IDF)},
                shard_number=self._shards,
                replication_factor=self._replicas,
                metadata={META_KEY: meta.to_dict()},
            )
        )
        for name in INDEXED_KEYWORD_FIELDS if self._path is None else ():  # local mode ignores payload indexes
            self._call(
                lambda name=name: client.create_payload_index(
                    self._collection, field_name=name, field_schema=m.PayloadSchemaType.KEYWORD, wait=True
                )
            )

    def read_meta(self) -> IndexMeta | None:
        """The stored metadata, or None when the collection does not exist (or is not ours)."""
        client = self._connect()
        if not self._call(lambda: client.collection_exists(self._collection)):
            return None
        info = self._call(lambda: client.get_collection(self._collection))
        data = (info.config.metadata or {}).get(META_KEY)
        return IndexMeta(**data) if data else None

    def close(self) -> None:
        """Release the connection (or the local-mode lock)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- writes --
    def upsert(self, chunks: Sequence[EmbeddedChunk]) -> None:
        """Write chunks; an existing id is overwritten. Waits until the server applied them."""
        from qdrant_client import models as m

        client = self._require()
        for start in range(0, len(chunks), _WRITE_BATCH):
            points = [
                m.PointStruct(
                    id=c.chunk.chunk_id,
                    vector={
                        DENSE_VECTOR: list(c.dense),
                        SPARSE_VECTOR: m.SparseVector(indices=list(c.sparse.indices), values=list(c.sparse.values)),
                    },
                    payload=c.chunk.payload(),
                )
                for c in chunks[start : start + _WRITE_BATCH]
            ]
            self._call(lambda points=points: client.upsert(self._collection, points=points, wait=True))

    def delete(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id."""
        from qdrant_client import models as m

        ids = list(chunk_ids)
        if ids:
            client = self._require()
            self._call(lambda: client.delete(self._collection, points_selector=m.PointIdsList(points=ids), wait=True))

    def set_labels(self, chunk_ids: Sequence[str], labels: Sequence[str]) -> None:
        """Replace the labels of the given chunks (policy change; no re-embedding)."""
        if chunk_ids:
            client = self._require()
            self._call(
                lambda: client.set_payload(self._collection, {"labels": list(labels)}, points=list(chunk_ids), wait=True)
            )

    # -- reads --
    def query(self, query: HybridQuery) -> list[Hit]:
        """Fusion of a dense and a BM25 search, both restricted to `allowed_labels` inside Qdrant."""
        from qdrant_client import models as m

        if not query.allowed_labels:
            return []  # deny by default: no readable label, nothing to search
        label_filter = label_filter_for(query.allowed_labels)
        dense = list(query.dense)
        sparse = m.SparseVector(indices=list(query.sparse.indices), values=list(query.sparse.values))
        client = self._require()
        if query.fusion == "convex":
            dense_res, sparse_res = self._call(
                lambda: client.query_batch_points(
                    self._collection,
                    requests=[
                        m.QueryRequest(
                            query=vector, using=name, filter=label_filter, limit=query.prefetch,
                            with_payload=True, with_vector=True,
                        )
                        for vector, name in ((dense, DENSE_VECTOR), (sparse, SPARSE_VECTOR))
                    ],
                )
            )
            by_id = {str(p.id): p for p in [*sparse_res.points, *dense_res.points]}
            fused = fuse_convex(
                [(str(p.id), float(p.score)) for p in dense_res.points],
                [(str(p.id), float(p.score)) for p in sparse_res.points],
                query.weights,
            )
            return [_hit(query, by_id[pid], score) for pid, score in fused[: query.limit]]
        response = self._call(
            lambda: client.query_points(
                self._collection,
                prefetch=[
                    m.Prefetch(query=vector, using=name, limit=query.prefetch, filter=label_filter)
                    for vector, name in ((dense, DENSE_VECTOR), (sparse, SPARSE_VECTOR))
                ],
                query=m.RrfQuery(rrf=m.Rrf(k=query.rrf_k, weights=list(query.weights))),
                query_filter=label_filter,
                limit=query.limit,
                with_payload=True,
                with_vectors=True,
            )
        )
        return [_hit(query, p, float(p.score)) for p in response.points]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """All chunks of one document (no vectors)."""
        from qdrant_client import models as m

        flt = m.Filter(must=[m.FieldCondition(key="doc_id", match=m.MatchValue(value=doc_id))])
        return [Chunk.from_payload(r.payload or {}) for page in self._pages(flt, False) for r in page]

    def all_chunk_ids(self) -> set[str]:
        """Every chunk id in the index."""
        return {str(r.id) for page in self._pages(None, False, with_payload=False) for r in page}

    def export(self, batch: int = _SCROLL_PAGE) -> Iterator[list[EmbeddedChunk]]:
        """Every chunk with its vectors, page by page (for migration)."""
        for page in self._pages(None, True, limit=batch):
            yield [embedded_from_record(r.id, r.payload or {}, r.vector or {}) for r in page]

    def fetch(self, chunk_ids: Sequence[str]) -> dict[str, EmbeddedChunk]:
        """Chunks with their vectors, by id (missing ids are absent)."""
        client = self._require()
        records = self._call(
            lambda: client.retrieve(self._collection, ids=list(chunk_ids), with_payload=True, with_vectors=True)
        )
        return {str(r.id): embedded_from_record(r.id, r.payload or {}, r.vector or {}) for r in records}

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        client = self._require()
        chunks = self._call(lambda: client.count(self._collection, exact=True)).count
        if chunks == 0:
            return 0, 0
        facet = self._call(lambda: client.facet(self._collection, key="doc_id", limit=10_000_000, exact=True))
        return len(facet.hits), chunks

    # -- plumbing --
    def _pages(
        self, flt: Any, with_vectors: bool, with_payload: bool = True, limit: int = _SCROLL_PAGE
    ) -> Iterator[list[Any]]:
        client = self._require()
        offset = None
        while True:
            page, offset = self._call(
                lambda offset=offset: client.scroll(
                    self._collection,
                    scroll_filter=flt,
                    limit=limit,
                    offset=offset,
                    with_payload=with_payload,
                    with_vectors=with_vectors,
                )
            )
            if page:
                yield page
            if offset is None:
                return

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        from qdrant_client import QdrantClient

        if self._path is not None:
            self._path.mkdir(parents=True, exist_ok=True)
            try:
                self._client = QdrantClient(path=str(self._path))
            except RuntimeError as exc:  # local mode: "already accessed by another instance"
                raise IndexLocked(
                    f"the index at {self._path} is open in another process",
                    hint="stop the other process and retry",
                ) from exc
            return self._client
        self._client = QdrantClient(
            url=self._url,
            api_key=self._read_api_key(),
            timeout=max(1, int(math.ceil(self._timeout_s))),
            verify=self._verify_tls,
            check_compatibility=False,  # its version probe would warn on every start; errors surface on use
        )
        return self._client

    def _read_api_key(self) -> str | None:
        """The API key, read from its secret file only now; None when no file is configured."""
        if not self._api_key_file:
            return None
        try:
            key = Path(self._api_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise IndexUnavailable(
                f"cannot read the Qdrant API key file {self._api_key_file} ({type(exc).__name__})",
                hint="fix index.api_key_file (a Docker secret lives under /run/secrets/)",
            ) from None
        if not key:
            raise IndexUnavailable(f"the Qdrant API key file {self._api_key_file} is empty", hint="write the key into it")
        return key

    def _call(self, fn: Any) -> Any:
        """Run a client call; connection and auth failures become IndexUnavailable with a hint."""
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        try:
            return fn()
        except UnexpectedResponse as exc:
            if exc.status_code in (401, 403):
                raise IndexUnavailable(
                    f"the Qdrant server at {self._url} refused the API key (HTTP {exc.status_code})",
                    hint="check index.api_key_file against the server's QDRANT__SERVICE__API_KEY",
                ) from None
            raise IndexUnavailable(
                f"the Qdrant server at {self._url} answered HTTP {exc.status_code}: {exc.reason_phrase}",
                hint="see the Qdrant server log",
            ) from None
        except ResponseHandlingException as exc:
            raise IndexUnavailable(
                f"cannot reach the Qdrant server at {self._url} ({type(exc.source).__name__})",
                hint="check index.url, that Qdrant is running, and TLS (index.verify_tls, the CA bundle)",
            ) from None

    def _require(self) -> Any:
        if self._client is None:
            raise RuntimeError("QdrantServerIndex used before ensure()")
        return self._client


def label_filter_for(allowed_labels: frozenset[str]) -> Any:
    """A chunk matches only when it has labels and every one of them is allowed."""
    from qdrant_client import models as m

    allowed = sorted(allowed_labels)
    return m.Filter(
        must=[m.FieldCondition(key="labels", match=m.MatchAny(any=allowed))],
        must_not=[m.FieldCondition(key="labels", match=m.MatchExcept(**{"except": allowed}))],
    )


def _hit(query: HybridQuery, point: Any, score: float) -> Hit:
    vectors = point.vector if isinstance(point.vector, dict) else {}
    sparse = vectors.get(SPARSE_VECTOR)
    query_terms = set(query.sparse.indices)
    matched = len(query_terms & set(sparse.indices)) if sparse is not None else 0
    return Hit(
        chunk=Chunk.from_payload(point.payload or {}),
        score=score,
        dense_score=cosine(query.dense, vectors.get(DENSE_VECTOR) or []),
        sparse_score=matched / max(1, len(query_terms)),
    )


