"""The embedder in one dtype against another, through `enclave eval retrieval`'s own route, query by query.

    .venv/bin/python bench/compare_dtypes.py --beir ../shared/data/scifact --qrels test.tsv [--dtypes bfloat16,float32]

Each dtype gets its own scratch index under ENCLAVE_HOME/eval/ (ingested once, then reused, exactly as
`enclave eval retrieval` with ENCLAVE_EMBEDDING__DTYPE set would), and the judged queries are ranked through
the policy-filtered retriever `enclave ask` uses. Prints one JSON object: each metric for each dtype, the
mean difference (first dtype minus second) with its paired-bootstrap 95% interval, and how many queries moved.
This is the check behind the embedding goal "nDCG@10 within 0.005 of fp32".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def per_query_by_dtype(beir: Path, qrels: Path | None, split: str, dtypes: list[str]) -> dict[str, dict[str, list[float]]]:
    """Each metric per judged query (in qrels order), for each dtype's scratch index."""
    from bench.tune_retrieval import per_query
    from enclave.eval_wiring import ingest_scratch, prepare, rank_scratch
    from enclave.settings import load_settings
    from enclave.wiring import build_embedder
    from rag.eval.beir import load_beir

    data = load_beir(beir, qrels, split)
    settings = load_settings()
    results = {}
    for dtype in dtypes:
        embedding = settings.embedding.model_copy(update={"dtype": dtype})
        scratch = prepare(settings.model_copy(update={"embedding": embedding}), data.docs)
        print(f"[compare] {dtype}: {scratch.settings.home}", file=sys.stderr, flush=True)
        embedder = build_embedder(scratch.settings)
        ingest_scratch(scratch, embedder=embedder)
        results[dtype] = per_query(rank_scratch(scratch, data.queries, embedder=embedder), data.qrels)
    return results


def compare(per: dict[str, dict[str, list[float]]], first: str, second: str) -> dict[str, Any]:
    """Means, the paired difference first − second with its 95% interval, and the queries that moved."""
    from bench.tune_retrieval import paired_interval

    out: dict[str, Any] = {}
    for metric, a in per[first].items():
        b = per[second][metric]
        lo, hi = paired_interval(a, b)
        out[metric] = {
            first: sum(a) / len(a),
            second: sum(b) / len(b),
            "difference": (sum(a) - sum(b)) / len(a),
            "interval_95": [lo, hi],
            "queries_moved": sum(1 for x, y in zip(a, b, strict=True) if abs(x - y) > 1e-12),
        }
    out["queries"] = len(next(iter(per[first].values())))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beir", type=Path, required=True, help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/")
    parser.add_argument("--qrels", type=Path, help="a qrels TSV (default: qrels/<split>.tsv)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--dtypes", default="bfloat16,float32", help="two dtypes; the difference is first minus second")
    args = parser.parse_args(argv)
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    if len(dtypes) != 2 or not set(dtypes) <= {"bfloat16", "float32"}:
        parser.error("--dtypes takes two of bfloat16, float32")
    from rag.eval.errors import EvalError

    try:
        per = per_query_by_dtype(args.beir, args.qrels, args.split, dtypes)
    except EvalError as e:  # a missing or malformed dataset: say which, no traceback
        parser.error(str(e))
    print(json.dumps(compare(per, *dtypes), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
