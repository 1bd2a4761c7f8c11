"""Policy-filtered hybrid retrieval. There is no way to retrieve without a principal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ingest.embed import Bm25Encoder, DenseEmbedder
from ingest.index.base import Hit, HybridQuery, VectorIndex
from policies.engine import labels_for, may_read, readable_labels
from policies.model import Policy, Principal
from rag.errors import MissingPrincipal


@dataclass(frozen=True)
class RetrievalConfig:
    """How many candidates and how they are fused. The defaults are `enclave.settings.RetrievalSettings`'s."""

    top_k: int = 3
    prefetch_k: int = 100
    rrf_k: int = 60
    dense_weight: float = 0.7
    sparse_weight: float = 0.3
    fusion: str = "convex"
    # Count what the policy filter removed (one more index query, for the audit record).
    count_withheld: bool = True


@dataclass(frozen=True)
class Retrieval:
    """What one question retrieved, and under which policy."""

    hits: list[Hit]
    allowed_labels: frozenset[str]
    policy_version: str
    # Of the top candidates the same query finds among all labelled chunks, how many the policy withheld.
    withheld: int = 0
    question_logging: str = "full"
    # Hits whose stored labels are stale (rules changed, `enclave policy apply` not run yet) and no longer readable.
    stale_dropped: int = 0
    # Hits of a second version of the same document (a sync killed mid-write, before the next sync repaired it).
    superseded_dropped: int = 0


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
        query = HybridQuery(
            dense=self._embedder.embed_query(question),
            sparse=self._sparse.embed_query(question),
            allowed_labels=allowed,
            limit=self._config.top_k,
            prefetch=self._config.prefetch_k,
            rrf_k=self._config.rrf_k,
            weights=(self._config.dense_weight, self._config.sparse_weight),
            fusion=self._config.fusion,
        )
        found = self._index.query(query) if allowed else []
        hits = one_version_per_document(found)
        # Second gate: labels are written at ingest and by `enclave policy apply`; a path rule tightened
        # since then must not leave a window, so each hit is re-decided on its stored labels plus the
        # labels its path gets under today's rules (metadata rules act through `policy apply`).
        fresh = [h for h in hits if may_read(policy, principal, _labels_now(policy, h)).allowed]
        withheld = self._count_withheld(query, policy, allowed)
        return Retrieval(
            fresh, allowed, policy.version, withheld + len(hits) - len(fresh), policy.question_logging,
            stale_dropped=len(hits) - len(fresh), superseded_dropped=len(found) - len(hits),
        )

    def _count_withheld(self, query: HybridQuery, policy: Policy, allowed: frozenset[str]) -> int:
        """How many of the top_k candidates over every label the policy knows the principal may not read.

        Only the count leaves this method: those candidates are never returned.
        """
        if not self._config.count_withheld:
            return 0
        universe = frozenset(label for rule in policy.label_rules for label in rule.labels)
        universe |= frozenset(label for granted in policy.grants.values() for label in granted)
        if not universe or universe <= allowed:
            return 0
        candidates = self._index.query(replace(query, allowed_labels=universe))
        return sum(1 for h in candidates if not h.chunk.labels or not set(h.chunk.labels) <= allowed)


def one_version_per_document(hits: list[Hit]) -> list[Hit]:
    """Hits from one version of each document: the settled (older) one when a killed sync left two.

    A sync writes a document's new chunks, then deletes the old ones; killed in between, both stay
    until the next sync repairs the index. An answer must not cite both, so the earlier-ingested
    version wins (on a tie, the version of the best-ranked hit).
    """
    versions: dict[str, dict[str, tuple[str, int]]] = {}
    for rank, h in enumerate(hits):
        seen = versions.setdefault(h.chunk.doc_id, {})
        seen.setdefault(h.chunk.doc_sha256, (h.chunk.ingested_at, rank))
    keep = {doc: min(v, key=lambda sha: v[sha]) for doc, v in versions.items()}
    return [h for h in hits if h.chunk.doc_sha256 == keep[h.chunk.doc_id]]


def _labels_now(policy: Policy, hit: Hit) -> tuple[str, ...]:
    return tuple(sorted(set(hit.chunk.labels) | set(labels_for(policy, hit.chunk.source))))
