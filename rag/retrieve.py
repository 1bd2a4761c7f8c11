"""Policy-filtered hybrid retrieval. There is no way to retrieve without a principal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.embed import Bm25Encoder, DenseEmbedder
from ingest.index.base import Hit, HybridQuery, VectorIndex
from policies.engine import readable_labels
from policies.model import Policy, Principal
from rag.errors import MissingPrincipal


@dataclass(frozen=True)
class RetrievalConfig:
    """How many candidates and how they are fused."""

    top_k: int = 6
    prefetch_k: int = 50
    rrf_k: int = 60
    dense_weight: float = 1.0
    sparse_weight: float = 1.0


@dataclass(frozen=True)
class Retrieval:
    """What one question retrieved, and under which policy."""

    hits: list[Hit]
    allowed_labels: frozenset[str]
    policy_version: str


class Retriever:
    """Embeds the question and queries the index with the principal's label filter inside Qdrant."""

    def __init__(
        self,
        index: VectorIndex,
        embedder: DenseEmbedder,
        sparse: Bm25Encoder,
        policy: Callable[[], Policy],
        config: RetrievalConfig,
    ) -> None:
        self._index = index
        self._embedder = embedder
        self._sparse = sparse
        self._policy = policy
        self._config = config

    def retrieve(self, question: str, principal: Principal | None) -> Retrieval:
        """Top passages the principal may read; the policy is read afresh for every question."""
        if not isinstance(principal, Principal):
            raise MissingPrincipal("retrieval needs a principal", hint="sign in, or pass --user")
        policy = self._policy()
        allowed = readable_labels(policy, principal)
        if not allowed:
            return Retrieval(hits=[], allowed_labels=allowed, policy_version=policy.version)
        query = HybridQuery(
            dense=self._embedder.embed_query(question),
            sparse=self._sparse.embed_query(question),
            allowed_labels=allowed,
            limit=self._config.top_k,
            prefetch=self._config.prefetch_k,
            rrf_k=self._config.rrf_k,
            weights=(self._config.dense_weight, self._config.sparse_weight),
        )
        return Retrieval(hits=self._index.query(query), allowed_labels=allowed, policy_version=policy.version)
