"""Does the document title, as a field of its own, help retrieval? A probe over bench/tune_retrieval.py's cache.

Three ways of using the title, each scored on SciFact against the default fusion (paired bootstrap, 95%):
- BM25 over the chunk with the document title prepended, the dense side unchanged (the "title repeated on every
  chunk" row of tune_retrieval.py changes both sides; BM25 gained there and dense lost);
- the dense score as (1 - a) x the chunk's cosine + a x the title's cosine (each title embedded once);
- BM25 of the chunk plus l x BM25 of the title alone (a multi-field BM25, as Anserini's BEIR baseline).

    .venv/bin/python bench/tune_retrieval.py --beir ../shared/data/scifact --split train   # fills the cache first
    .venv/bin/python bench/probe_title_fields.py --beir ../shared/data/scifact --split train
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    import numpy as np

    from bench.tune_retrieval import (
        DEFAULT, Bm25Scorer, Corpus, Dense, Query, _query_vectors, paired_interval, per_query, rank,
    )
    from enclave.settings import load_settings
    from enclave.wiring import build_embedder
    from rag.eval.beir import load_beir
    from rag.eval.scratch import corpus_digest

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--beir", type=Path, required=True)
    ap.add_argument("--split", default="train")
    ap.add_argument("--qrels", type=Path)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "enclave-tune")
    args = ap.parse_args()

    data = load_beir(args.beir, args.qrels, args.split)
    qrels = {q: j for q, j in data.qrels.items() if any(r > 0 for r in j.values())}
    qids = list(qrels)
    queries = [data.queries[q] for q in qids]
    embedder = build_embedder(load_settings())
    dense_side = Dense(embedder)
    cache = args.cache / f"{args.beir.name}-{corpus_digest(data.docs)[:12]}"
    cache.mkdir(parents=True, exist_ok=True)
    query_tag = hashlib.sha256(json.dumps(qids).encode()).hexdigest()[:12]
    qvecs = _query_vectors(cache / f"queries-{query_tag}{dense_side.suffix}.npy", dense_side, queries)
    plain = Corpus(cache, data.docs, embedder, 256, False, dense_side)
    titled = Corpus(cache, data.docs, embedder, 256, True, dense_side)  # the same chunks, title prepended

    title_of = {d.doc_id: d.title.strip() for d in data.docs}
    ids = list(dict.fromkeys(plain.owners))
    # Each title embedded once, cached like the queries' vectors.
    title_vectors = _query_vectors(cache / f"titles{dense_side.suffix}.npy", dense_side, [title_of[i] or " " for i in ids])
    position = {d: i for i, d in enumerate(ids)}
    chunk_doc = np.asarray([position[o] for o in plain.owners])

    dense = qvecs @ plain.dense.T
    sparse = plain.bm25_scores(queries)
    title_cos = (qvecs @ title_vectors.T)[:, chunk_doc]
    title_bm25 = Bm25Scorer([title_of[i] for i in ids]).scores(queries)[:, chunk_doc]
    rows = {
        "default": (dense, sparse),
        "BM25 over title + chunk, dense unchanged": (dense, titled.bm25_scores(queries)),
        **{f"dense {1 - a:.1f} x chunk + {a:.1f} x title cosine": ((1 - a) * dense + a * title_cos, sparse) for a in (0.1, 0.2, 0.3)},
        **{f"BM25 chunk + {lam} x BM25 title": (dense, sparse + lam * title_bm25) for lam in (0.2, 0.5)},
    }
    split = args.qrels.name if args.qrels else args.split
    print(f"\n{args.beir.name} {split}: {len(qids)} judged queries\n")
    print("| variant | nDCG@10 | vs default (95% interval) | R@100 |")
    print("|---|---|---|---|")
    base = None
    for name, (d, s) in rows.items():
        run = {q: rank(DEFAULT, plain, Query(qvecs[j], d[j], s[j])) for j, q in enumerate(qids)}
        per = per_query(run, qrels)
        base = base or per["ndcg@10"]
        lo, hi = paired_interval(per["ndcg@10"], base)
        delta = float(np.mean(per["ndcg@10"]) - np.mean(base))
        shown = "—" if name == "default" else f"{delta:+.4f} ({lo:+.4f} … {hi:+.4f})"
        print(f"| {name} | {np.mean(per['ndcg@10']):.4f} | {shown} | {np.mean(per['recall@100']):.4f} |")


if __name__ == "__main__":
    main()
