"""The metric functions agree with ir_measures (pytrec_eval) on hand-made rankings."""

from __future__ import annotations

import pytest

from rag.eval.metrics import dedupe_docs, evaluate

QRELS = {
    "q1": {"a": 2, "b": 1, "z": 0},  # graded, with a judged non-relevant document
    "q2": {"c": 1},  # found at rank 3
    "q3": {"d": 1, "e": 1, "f": 1},  # one relevant beyond rank 10, one never retrieved
    "q4": {"g": 1},  # not retrieved at all
    "q5": {"h": 3, "i": 1},
}
RUN = {
    "q1": ["b", "z", "a", "x"],
    "q2": ["x", "y", "c"],
    "q3": ["d", *[f"n{i}" for i in range(11)], "e"],
    "q4": ["x", "y"],
    "q5": ["i", "h"],
}


def _reference(qrels: dict, run: dict) -> dict:
    import ir_measures
    from ir_measures import RR, R, nDCG

    judged = [ir_measures.Qrel(q, d, r) for q, docs in qrels.items() for d, r in docs.items()]
    scored = [ir_measures.ScoredDoc(q, d, float(len(ranked) - i)) for q, ranked in run.items() for i, d in enumerate(ranked)]
    agg = ir_measures.calc_aggregate([nDCG @ 10, R @ 10, R @ 100, RR @ 10], judged, scored)
    return {"ndcg@10": agg[nDCG @ 10], "recall@10": agg[R @ 10], "recall@100": agg[R @ 100], "mrr@10": agg[RR @ 10]}


@pytest.mark.parametrize("queries", [["q1"], ["q2"], ["q3"], ["q4"], ["q5"], list(QRELS)])
def test_metrics_match_ir_measures(queries: list[str]) -> None:
    qrels = {q: QRELS[q] for q in queries}
    run = {q: RUN[q] for q in queries}
    ours = evaluate(run, qrels)
    reference = _reference(qrels, run)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=1e-9), key
    assert ours["queries"] == len(queries)


def test_known_values_by_hand() -> None:
    result = evaluate({"q": ["x", "a"]}, {"q": {"a": 1, "b": 1}})
    assert result["ndcg@10"] == pytest.approx((1 / 1.5849625007211563) / (1 + 1 / 1.5849625007211563))
    assert result["recall@10"] == 0.5
    assert result["mrr@10"] == 0.5


def test_a_judged_query_missing_from_the_run_scores_zero() -> None:
    result = evaluate({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert result["ndcg@10"] == 0.5
    assert result["queries"] == 2


def test_chunks_map_to_documents_at_their_best_rank() -> None:
    assert dedupe_docs(["d2", "d1", "d2", "d3", "d1"]) == ["d2", "d1", "d3"]


def test_no_judged_query_gives_zeros_not_a_division_error() -> None:
    result = evaluate({"q1": ["a"]}, {"q1": {"a": 0}})
    assert result == {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0, "queries": 0}
