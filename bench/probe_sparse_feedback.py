"""Pseudo-relevance feedback on the BM25 side (RM3-style query expansion): does it lift the fusion?

The fifth session tried feedback on the dense side only (Rocchio on the query vector: +0.002 to +0.004 on
SciFact train, every interval spanning zero). This is the sparse counterpart, the classic lexical one. The first
pass is a ranking (the default fusion, or BM25 alone as in RM3); its top m chunks vote for terms: each chunk's
BM25 term weights (Qdrant Edge's, the tf part the index stores) normalised to sum to 1, averaged over the m
chunks. The n best terms, leaving out those in more than 10% of the chunks, form the expansion, scaled to the
query's own mass (one per query term). The chunk's BM25 score becomes (1 - lam) x its score for the query plus
lam x its score for the expansion, IDF applied as the index does. Dense side and fusion are the default's.

In the product this would cost one more index query per question, the feedback drawn from chunks the user may
read (the first pass is already policy-filtered).

    .venv/bin/python bench/tune_retrieval.py --beir ../shared/data/scifact --split train   # fills the cache first
    .venv/bin/python bench/probe_sparse_feedback.py --beir ../shared/data/scifact --split train
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MAX_DF = 0.10  # expansion terms found in more of the chunks than this are left out


def expanded_scores(scorer: Any, queries: list[str], firsts: list[list[int]], terms: int, lam: float) -> Any:
    """BM25 scores of every chunk for each query expanded from its first-pass chunks `firsts[j]`."""
    import numpy as np

    columns = scorer._matrix  # chunk x term, compressed by column: the tf part of BM25, as the index stores it
    rows = columns.tocsr()
    idf, vocab = scorer._idf, scorer._vocab
    df = np.diff(columns.indptr)  # chunks holding each term
    common = df > MAX_DF * rows.shape[0]
    base = scorer.scores(queries)
    out = np.empty_like(base)
    for j, (text, first) in enumerate(zip(queries, firsts, strict=True)):
        own = [vocab[x] for x in scorer._encoder.embed_query(text).indices if x in vocab]
        votes = np.zeros(rows.shape[1], dtype="float64")
        for c in first:
            row = rows.getrow(c)
            total = row.data.sum()
            if total > 0:
                votes[row.indices] += row.data / total
        votes[common] = 0.0
        best = np.argsort(-votes)[:terms]
        best = best[votes[best] > 0]
        if not len(best) or not own:
            out[j] = base[j]
            continue
        weights = votes[best] / votes[best].sum() * len(own)
        expansion = np.asarray(columns[:, best] @ (weights * idf[best])).ravel()
        out[j] = (1 - lam) * base[j] + lam * expansion
    return out


def main() -> None:
    from bench.tune_retrieval import DEFAULT, _top, fused_order, print_probe, probe_setup

    probe = probe_setup(__doc__.split("\n\n")[0])
    corpus = probe.corpus
    dense, sparse = probe.qvecs @ corpus.dense.T, corpus.bm25_scores(probe.queries)
    scorer = corpus._bm25
    rows = {"default": (dense, sparse)}
    for m in (3, 5, 10):
        fused = [fused_order(DEFAULT, dense[j], sparse[j])[:m] for j in range(len(probe.qids))]
        bm25 = [list(_top(sparse[j], m)) for j in range(len(probe.qids))]
        for terms in (10, 20):
            for lam in (0.2, 0.4):
                rows[f"feedback from the fusion's top {m}, {terms} terms, lam {lam}"] = (
                    dense, expanded_scores(scorer, probe.queries, fused, terms, lam))
                if lam == 0.4:
                    rows[f"feedback from BM25's top {m}, {terms} terms, lam {lam}"] = (
                        dense, expanded_scores(scorer, probe.queries, bm25, terms, lam))
    print_probe(probe, rows)


if __name__ == "__main__":
    main()
