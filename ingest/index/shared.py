"""Short-lived lock sessions on the embedded store, so a server and a sync can share it.

Qdrant Edge locks its shard directory for the process that opened it. A SessionIndex opens
the store for one operation (or one `with session()` block), then closes it, retrying with
backoff while another process holds it. Each process sees the store as the last writer
closed it, so a reader never observes half of a writer's session.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ingest.errors import IndexLocked
from ingest.index.base import Hit, HybridQuery
from ingest.schema import Chunk, EmbeddedChunk, IndexMeta


class SessionIndex:
    """A VectorIndex that holds the embedded store only while an operation runs."""

    def __init__(self, opener: Callable[[], Any], lock_timeout_s: float = 120.0) -> None:
        self._opener = opener
        self._timeout = lock_timeout_s
        self._guard = threading.RLock()  # one session per process at a time; re-entrant per thread
        self._open: Any = None
        self._depth = 0
        self.sessions = 0
        self.waited_s = 0.0

    @contextmanager
    def session(self) -> Iterator[Any]:
        """Hold the store for the block: everything inside is one consistent view / one write."""
        with self._guard:
            if self._open is None:
                self._open = self._acquire()
            self._depth += 1
            try:
                yield self._open
            finally:
                self._depth -= 1
                if self._depth == 0:
                    index, self._open = self._open, None
                    index.close()

    def ensure(self, meta: IndexMeta) -> None:
        """Open once to create or check the store (the opener checks `meta`)."""
        with self.session():
            pass

    def upsert(self, chunks: Sequence[EmbeddedChunk]) -> None:
        """Write chunks in one session."""
        with self.session() as index:
            index.upsert(chunks)

    def delete(self, chunk_ids: Iterable[str]) -> None:
        """Remove chunks in one session."""
        with self.session() as index:
            index.delete(chunk_ids)

    def query(self, query: HybridQuery) -> list[Hit]:
        """Search in one session."""
        with self.session() as index:
            return index.query(query)

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        with self.session() as index:
            return index.counts()

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """All chunks of one document."""
        with self.session() as index:
            return index.chunks_of(doc_id)

    def fetch(self, chunk_ids: Sequence[str]) -> dict[str, EmbeddedChunk]:
        """Chunks with their vectors, by id."""
        with self.session() as index:
            return index.fetch(chunk_ids)

    def all_chunk_ids(self) -> set[str]:
        """Every chunk id in the store."""
        with self.session() as index:
            return index.all_chunk_ids()

    def set_labels(self, chunk_ids: Sequence[str], labels: Sequence[str]) -> None:
        """Relabel chunks in one session."""
        with self.session() as index:
            index.set_labels(chunk_ids, labels)

    def close(self) -> None:
        """Nothing is held between sessions."""

    def _acquire(self) -> Any:
        started = time.monotonic()
        delay = 0.02
        while True:
            try:
                index = self._opener()
            except IndexLocked as exc:
                waited = time.monotonic() - started
                if waited >= self._timeout:
                    self.waited_s += waited
                    raise IndexLocked(
                        f"the index stayed locked by another process for {waited:.0f} s",
                        hint="a process that opens the store for good (enclave ask/status, an old server) blocks "
                        "it; stop it or wait for it to finish",
                    ) from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)
                continue
            self.waited_s += time.monotonic() - started
            self.sessions += 1
            return index
