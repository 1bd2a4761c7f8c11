"""A dense weight chosen per query from how sure BM25 looks: does it lift the fusion, measured out of sample?

The default fuses with one dense weight for every query (0.5 with MiniLM, the best on SciFact train; 0.7 now). Picking the best weight
for each query afterwards would give about +0.045 nDCG@10 on train: an upper bound no rule can reach, but a
sign that queries differ. One signal known before fusing is how far BM25's best chunk stands out: its top-10
gap, (first - tenth) / first of the BM25 scores (optionally minus the same gap of the dense scores). The rule
w = clip(a + b x gap, 0.2, 0.8) is fitted by grid search; since a fit on all of train flatters itself, the gain
is measured by 5-fold cross-validation on train (fit on four fifths, scored on the fifth), over 10 shuffles,
with a paired bootstrap interval for the first. Weights are scored on a grid of 0.05.

The same rules are then fitted over the dense side after Rocchio feedback (the fifth session's three settings),
and each pairing of dense side and feature is scored the same way. Choosing the best of several pairings after
seeing their cross-validated gains flatters the winner again, so the last line puts that choice inside the
folds too (nested: each fold picks its pairing and fits its rule on the other four), which is what adopting
"the best of these" would really deliver.

    .venv/bin/python bench/tune_retrieval.py --beir ../shared/data/scifact --split train   # fills the cache first
    .venv/bin/python bench/probe_query_weights.py --beir ../shared/data/scifact --split train
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WEIGHTS = [round(0.2 + 0.05 * i, 2) for i in range(13)]  # 0.2 ... 0.8
GRID = [(a / 100, b / 1000) for a in range(30, 101, 5) for b in range(-2000, 2001, 125)]
FOLDS, SHUFFLES = 5, 10
FEEDBACK = [(3, 0.3), (5, 0.6), (5, 1.0)]  # dense feedback (top m chunks, beta), as tune_retrieval's variants


def top10_gap(scores: Any) -> Any:
    """(first - tenth) / first of each row's scores (the last instead of the tenth when there are fewer)."""
    import numpy as np

    top = -np.sort(-scores, axis=1)[:, :10]
    return (top[:, 0] - top[:, -1]) / np.maximum(top[:, 0], 1e-9)


def ruled(ndcg: Any, feature: Any, a: float, b: float, idx: Any) -> Any:
    """Per-query nDCG@10 of queries `idx` at w = clip(a + b x feature), rounded to the scored grid."""
    import numpy as np

    w = np.clip(a + b * feature[idx], WEIGHTS[0], WEIGHTS[-1])
    nearest = np.abs(np.asarray(WEIGHTS)[None, :] - w[:, None]).argmin(axis=1)
    return ndcg[nearest, idx]


def fitted(ndcg: Any, feature: Any, idx: Any) -> tuple[float, float]:
    return max(GRID, key=lambda ab: float(ruled(ndcg, feature, *ab, idx).mean()))


def cross_validated(candidates: list[tuple[Any, Any]], seed: int) -> Any:
    """Each query's nDCG@10 when the folds it is not in pick the best (ndcg grid, feature) pairing and fit its rule.

    With one candidate this is plain cross-validation of the rule; with several, the choice among them is made
    inside the folds too (nested), as adopting "the best of these" would make it.
    """
    import numpy as np

    n = candidates[0][0].shape[1]
    folds = np.array_split(np.random.default_rng(seed).permutation(n), FOLDS)
    out = np.zeros(n)
    for i, held in enumerate(folds):
        rest = np.concatenate([f for j, f in enumerate(folds) if j != i])
        fits = [(ndcg, feature, *fitted(ndcg, feature, rest)) for ndcg, feature in candidates]
        ndcg, feature, a, b = max(fits, key=lambda fit: float(ruled(fit[0], fit[1], fit[2], fit[3], rest).mean()))
        out[held] = ruled(ndcg, feature, a, b, held)
    return out


def out_of_sample(candidates: list[tuple[Any, Any]], base: Any) -> tuple[str, str]:
    """The cross-validated gain over `base`: mean (min … max) over the shuffles, and the first shuffle's interval."""
    import numpy as np

    from bench.tune_retrieval import paired_interval

    runs = [cross_validated(candidates, seed) for seed in range(SHUFFLES)]
    gains = [float(r.mean() - base.mean()) for r in runs]
    lo, hi = paired_interval(list(runs[0]), list(base))
    return f"{np.mean(gains):+.4f} ({min(gains):+.4f} … {max(gains):+.4f})", f"{lo:+.4f} … {hi:+.4f}"


def weight_grid(probe: Any, dense: Any, sparse: Any) -> Any:
    """Per-query nDCG@10 at each dense weight of WEIGHTS (rows) for these chunk scores."""
    import numpy as np

    from bench.tune_retrieval import Query, Variant, per_query, rank

    rows = []
    for w in WEIGHTS:
        v = Variant(f"w {w}", dense_weight=w)
        run = {q: rank(v, probe.corpus, Query(probe.qvecs[j], dense[j], sparse[j])) for j, q in enumerate(probe.qids)}
        rows.append(per_query(run, probe.qrels)["ndcg@10"])
    return np.asarray(rows)


def main() -> None:
    import numpy as np

    from bench.tune_retrieval import DEFAULT, feedback_dense, probe_setup

    probe = probe_setup(__doc__.split("\n\n")[0])
    corpus = probe.corpus
    dense, sparse = probe.qvecs @ corpus.dense.T, corpus.bm25_scores(probe.queries)
    ndcg = weight_grid(probe, dense, sparse)
    default = WEIGHTS.index(DEFAULT.dense_weight)
    base = ndcg[default]
    print(f"\n{probe.name}: {len(probe.qids)} judged queries\n")
    print("| dense weight | " + " | ".join(str(w) for w in WEIGHTS) + " | best per query (bound) |")
    print("|---|" + "---|" * (len(WEIGHTS) + 1))
    print("| nDCG@10 | " + " | ".join(f"{m:.4f}" for m in ndcg.mean(axis=1)) + f" | {ndcg.max(axis=0).mean():.4f} |\n")
    print(f"| dense side | rule's feature | w {DEFAULT.dense_weight} | fit on all (a, b) | nDCG@10, fit on all | cross-validated gain over the default, 10 shuffles | first shuffle's 95% interval |")
    print("|---|---|---|---|---|---|---|")
    bm25_gap = top10_gap(sparse)
    candidates = []
    for m, beta in [(0, 0.0), *FEEDBACK]:
        side, scores, grid = "cosine (default)", dense, ndcg
        if m:
            side = f"feedback, top {m}, beta {beta}"
            scores = np.stack([feedback_dense(corpus, probe.qvecs[j], dense[j], sparse[j], m, beta) for j in range(len(base))])
            grid = weight_grid(probe, scores, sparse)
        for name, feature in (("BM25 top-10 gap", bm25_gap), ("BM25 gap minus dense gap", bm25_gap - top10_gap(scores))):
            candidates.append((grid, feature))
            a, b = fitted(grid, feature, np.arange(len(base)))
            whole = ruled(grid, feature, a, b, np.arange(len(base))).mean()
            print(
                f"| {side} | {name} | {grid[default].mean():.4f} | {a:.2f}, {b:+.3f} | {whole:.4f} "
                f"| {' | '.join(out_of_sample([(grid, feature)], base))} |"
            )
    gain, interval = out_of_sample(candidates, base)
    print(f"\nThe best pairing chosen inside the folds (nested): gain {gain}, first shuffle's 95% interval {interval}")

if __name__ == "__main__":
    main()
