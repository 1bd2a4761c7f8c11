"""Embedded default: Qdrant Edge, the real Qdrant engine in-process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ingest.errors import IndexLocked
from ingest.index.base import Hit, HybridQuery, check_meta, cosine, embedded_from_record, fuse_convex
from ingest.schema import DENSE_VECTOR, INDEXED_KEYWORD_FIELDS, SPARSE_VECTOR, Chunk, EmbeddedChunk, IndexMeta

META_FILE = "enclave-meta.json"
SHARD_DIR = "shard"
STORE_LOCK = "store.lock"
STORE_TURNSTILE = "store.turnstile"
_WRITE_BATCH = 256


class EdgeIndex:
    """A VectorIndex on one Qdrant Edge shard under `path`, with a metadata file beside it."""

    def __init__(self, path: Path, lock_wait_s: float = 0.0) -> None:
        self._path = Path(path)
        self._lock_wait_s = lock_wait_s  # how long ensure() waits for another process to let go
        self._shard: Any = None
        self._lock_fd: int | None = None

    # -- lifecycle --
    def ensure(self, meta: IndexMeta) -> None:
        """Create the shard with `meta`, or open it and check the embedder and schema match."""
        meta_path = self._path / META_FILE
        if meta_path.exists():
            check_meta(IndexMeta(**json.loads(meta_path.read_text())), meta, f"the index at {self._path}")
        # Edge takes its own lock only when it reaches the WAL, after loading (and possibly
        # repairing) segment files: a second process's attempt could damage the holder's files.
        # Every Enclave process takes this lock first, so a second one never touches the shard.
        self._path.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _store_lock(self._path, self._lock_wait_s)
        try:
            self._ensure(meta, meta_path)
        except BaseException:
            self._release_lock()
            raise

    def _ensure(self, meta: IndexMeta, meta_path: Path) -> None:
        import qdrant_edge as q

        if meta_path.exists():
            self._shard = _open(lambda: q.EdgeShard.load(str(self._path / SHARD_DIR)), self._path)
            return
        config = q.EdgeConfig(
            vectors={DENSE_VECTOR: q.EdgeVectorParams(size=meta.embedding_dim, distance=q.Distance.Cosine)},
            sparse_vectors={SPARSE_VECTOR: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)},
        )
        self._shard = _open(lambda: q.EdgeShard.create(str(self._path / SHARD_DIR), config), self._path)
        for name in INDEXED_KEYWORD_FIELDS:
            self._shard.update(q.UpdateOperation.create_field_index(name, q.PayloadSchemaType.Keyword))
        self._shard.flush()
        # Written last: a crash before this leaves no half-made index that looks valid.
        tmp = meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta.to_dict(), indent=2))
        tmp.replace(meta_path)

    def read_meta(self) -> IndexMeta | None:
        """The stored metadata, or None when no index exists yet."""
        meta_path = self._path / META_FILE
        if not meta_path.exists():
            return None
        return IndexMeta(**json.loads(meta_path.read_text()))

    def close(self) -> None:
        """Flush and release the shard (and its lock)."""
        if self._shard is not None:
            self._shard.flush()
            self._shard.close()
            self._shard = None
        self._release_lock()

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    # -- writes --
    def upsert(self, chunks: Sequence[EmbeddedChunk]) -> None:
        """Write chunks; an existing id is overwritten."""
        import qdrant_edge as q

        for start in range(0, len(chunks), _WRITE_BATCH):
            points = [
                q.Point(
                    c.chunk.chunk_id,
                    {
                        DENSE_VECTOR: list(c.dense),
                        SPARSE_VECTOR: q.SparseVector(c.sparse.indices, c.sparse.values),
                    },
                    c.chunk.payload(),
                )
                for c in chunks[start : start + _WRITE_BATCH]
            ]
            self._require().update(q.UpdateOperation.upsert_points(points))
        self._require().flush()

    def delete(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks by id."""
        import qdrant_edge as q

        ids = list(chunk_ids)
        if ids:
            self._require().update(q.UpdateOperation.delete_points(ids))
            self._require().flush()

    def set_labels(self, chunk_ids: Sequence[str], labels: Sequence[str]) -> None:
        """Replace the labels of the given chunks (policy change; no re-embedding)."""
        import qdrant_edge as q

        if chunk_ids:
            self._require().update(q.UpdateOperation.set_payload(list(chunk_ids), {"labels": list(labels)}))
            self._require().flush()

    # -- reads --
    def query(self, query: HybridQuery) -> list[Hit]:
        """Fusion of a dense and a BM25 search, both restricted to `allowed_labels` inside Qdrant."""
        if not query.allowed_labels:
            return []  # deny by default: no readable label, nothing to search
        return self._search(query, label_filter_for(query.allowed_labels))

    def _search(self, query: HybridQuery, label_filter: Any) -> list[Hit]:
        import qdrant_edge as q

        dense = q.Query.Nearest(list(query.dense), using=DENSE_VECTOR)
        sparse = q.Query.Nearest(q.SparseVector(query.sparse.indices, query.sparse.values), using=SPARSE_VECTOR)
        if query.fusion == "convex":
            dense_points, sparse_points = self._require().query_batch(
                q.QueryBatchRequest(
                    [
                        q.QueryRequest(limit=query.prefetch, query=nearest, filter=label_filter, with_payload=False, with_vector=False)
                        for nearest in (dense, sparse)
                    ]
                )
            )
            fused = fuse_convex(
                [(str(p.id), float(p.score)) for p in dense_points],
                [(str(p.id), float(p.score)) for p in sparse_points],
                query.weights,
            )[: query.limit]
            # Payloads and vectors only for the winners: the candidates' vectors cost more than the search.
            by_id = {str(r.id): r for r in self._require().retrieve([pid for pid, _ in fused], True, True)}
            return [self._hit(query, by_id[pid], score) for pid, score in fused]
        points = self._require().query(
            q.QueryRequest(
                limit=query.limit,
                prefetches=[
                    q.Prefetch(limit=query.prefetch, query=nearest, filter=label_filter) for nearest in (dense, sparse)
                ],
                query=q.Fusion.Rrf(k=query.rrf_k, weights=list(query.weights)),
                filter=label_filter,
                with_payload=True,
                with_vector=True,
            )
        )
        return [self._hit(query, p, float(p.score)) for p in points]

    @staticmethod
    def _hit(query: HybridQuery, point: Any, score: float) -> Hit:
        vectors = point.vector or {}
        sparse = vectors.get(SPARSE_VECTOR)
        query_terms = set(query.sparse.indices)
        matched = len(query_terms & set(sparse.indices)) if sparse is not None else 0
        return Hit(
            chunk=Chunk.from_payload(point.payload or {}),
            score=score,
            dense_score=cosine(query.dense, vectors.get(DENSE_VECTOR) or []),
            sparse_score=matched / max(1, len(query_terms)),
        )

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """All chunks of one document (no vectors)."""
        import qdrant_edge as q

        flt = q.Filter(must=[q.FieldCondition(key="doc_id", match=q.MatchValue(value=doc_id))])
        return [Chunk.from_payload(r.payload or {}) for r in self._scroll(flt)]

    def fetch(self, chunk_ids: Sequence[str]) -> dict[str, EmbeddedChunk]:
        """Chunks with their stored vectors, by id (missing ids are absent): moves and migration reuse them."""
        records = self._require().retrieve(list(chunk_ids), with_payload=True, with_vector=True)
        return {str(r.id): embedded_from_record(r.id, r.payload or {}, r.vector or {}) for r in records}

    def export(self, batch: int = 512) -> Iterator[list[EmbeddedChunk]]:
        """Every chunk with its vectors, page by page (for migration)."""
        import qdrant_edge as q

        shard, offset = self._require(), None
        while True:
            page, offset = shard.scroll(q.ScrollRequest(offset=offset, limit=batch, with_payload=True, with_vector=True))
            if page:
                yield [embedded_from_record(r.id, r.payload or {}, r.vector or {}) for r in page]
            if offset is None:
                return

    def all_chunk_ids(self) -> set[str]:
        """Every chunk id in the index."""
        return {str(r.id) for r in self._scroll(None, with_payload=False)}

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        import qdrant_edge as q

        shard = self._require()
        chunks = shard.count(q.CountRequest(exact=True))
        if chunks == 0:
            return 0, 0
        facet = shard.facet(q.FacetRequest(key="doc_id", limit=10_000_000, exact=True))
        # The facet keeps values of deleted points with count 0; only live documents count.
        return sum(1 for h in facet.hits if h.count > 0), chunks

    def _scroll(self, flt: Any, with_payload: bool = True) -> list[Any]:
        import qdrant_edge as q

        records: list[Any] = []
        offset = None
        while True:
            page, offset = self._require().scroll(
                q.ScrollRequest(offset=offset, limit=1024, filter=flt, with_payload=with_payload, with_vector=False)
            )
            records.extend(page)
            if offset is None:
                return records

    def _require(self) -> Any:
        if self._shard is None:
            raise RuntimeError("EdgeIndex used before ensure()")
        return self._shard


def label_filter_for(allowed_labels: frozenset[str]) -> Any:
    """A chunk matches only when it has labels and every one of them is allowed."""
    import qdrant_edge as q

    allowed = sorted(allowed_labels)
    return q.Filter(
        must=[q.FieldCondition(key="labels", match=q.MatchAny(any=allowed))],
        must_not=[q.FieldCondition(key="labels", match=q.MatchExcept(allowed))],
    )


def _store_lock(path: Path, wait_s: float) -> int:
    """An exclusive flock on `path/store.lock`, waiting up to `wait_s`, else IndexLocked.

    A waiter first takes `path/store.turnstile` and holds it while it waits, so a process that
    opens and closes the store in a tight loop (a busy server) cannot starve a waiting writer.
    """
    import fcntl
    import time

    deadline = time.monotonic() + wait_s
    turnstile = os.open(path / STORE_TURNSTILE, os.O_RDWR | os.O_CREAT, 0o600)
    store = os.open(path / STORE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        for fd in (turnstile, store):
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexLocked(
                            f"the index at {path} is open in another Enclave process",
                            hint="stop the other process (or wait for the running ingest to finish) and retry",
                        ) from None
                    time.sleep(0.01)
    except BaseException:
        os.close(store)
        raise
    finally:
        os.close(turnstile)
    return store


def _open(opener: Any, path: Path) -> Any:
    try:
        return opener()
    except Exception as exc:  # the binding raises a plain exception for a held lock
        if "lock" in str(exc).lower() or "wouldblock" in str(exc).lower():
            raise IndexLocked(
                f"the index at {path} is open in another Enclave process",
                hint="stop the other process (or wait for the running ingest to finish) and retry",
            ) from exc
        raise
