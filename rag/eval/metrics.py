"""Ranking metrics with the standard (trec_eval / BEIR) definitions, over ranked id lists."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]  # query id -> doc id -> graded relevance
Run = Mapping[str, Sequence[str]]  # query id -> doc ids, best first
METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def ndcg_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear gains (trec_eval ndcg_cut): sum rel/log2(rank+1), ideal from the judgments."""
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if judged.get(d, 0) > 0)
    ideal = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    relevant = {d for d, r in judged.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k (0 when none)."""
    for i, d in enumerate(ranked[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def query_metrics(ranked: Sequence[str], judged: Mapping[str, int]) -> dict[str, float]:
    """nDCG@10, Recall@10, Recall@100 and MRR@10 of one query's ranking."""
    values = (
        ndcg_at_k(ranked, judged, 10),
        recall_at_k(ranked, judged, 10),
        recall_at_k(ranked, judged, 100),
        mrr_at_k(ranked, judged, 10),
    )
    return dict(zip(METRICS, values, strict=True))


def evaluate(run: Run, qrels: Qrels) -> dict[str, float]:
    """Mean nDCG@10, Recall@10, Recall@100, MRR@10 over queries with a relevant judgment.

    A judged query missing from the run scores 0 (it is not dropped).
    """
    judged = {q: j for q, j in qrels.items() if any(r > 0 for r in j.values())}
    rows = [query_metrics(list(run.get(q, ())), j) for q, j in judged.items()]
    result: dict[str, float] = {name: sum(row[name] for row in rows) / len(rows) if rows else 0.0 for name in METRICS}
    result["queries"] = len(rows)
    return result


def dedupe_docs(doc_ids: Sequence[str]) -> list[str]:
    """A chunk ranking as a document ranking: each document at its best chunk's rank (max over chunks)."""
    seen: dict[str, None] = {}
    for d in doc_ids:
        seen.setdefault(d, None)
    return list(seen)
