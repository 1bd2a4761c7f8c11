"""Measure the relevance gate ("not in your documents") on SQuAD instead of setting it by hand.

Half of the SQuAD articles are ingested into a scratch home with the product's route; questions
about those articles are answerable, questions about the other half are not (same style, other
topics). Each question is retrieved as `enclave ask` does; a hit is evidence when its dense cosine
>= d or its share of matched query terms >= s (`Answerer._is_evidence`). A question is answered when one of its
hits passes the gate; the prompt then gets the hits that pass the passage bar p (<= d). For a grid
of (d, s, p) the script prints how often an answerable question would be refused (false "not
found"), how often an unanswerable one would go to the model (false "found"), and how often the
gold paragraph reaches the prompt.

    .venv/bin/python bench/tune_gate.py [--squad FILE] [--questions 400] [--cache rows.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DENSE = [round(0.15 + 0.025 * i, 3) for i in range(23)]  # 0.15 .. 0.70 (cosines differ from one embedder to another)
SPARSE = [0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.01]  # 1.01: the sparse side never opens the gate
PASSAGE = [round(0.2 + 0.05 * i, 2) for i in range(9)]  # 0.20 .. 0.60


def observe(squad: Path, questions: int) -> list[dict[str, Any]]:
    """Per question: answerable or not, and (dense, sparse, is_gold) of each retrieved hit."""
    from enclave.eval_wiring import ingest_scratch, prepare
    from enclave.settings import load_settings
    from enclave.wiring import (
        build_embedder,
        build_retriever,
        open_index,
        policy_loader,
    )
    from policies.engine import principal_for
    from rag.eval.scratch import EVAL_USER
    from rag.eval.squad import load_squad

    data = load_squad(squad)
    articles = sorted({d.doc_id.split("#")[0] for d in data.docs})
    indexed = set(articles[::2])  # every other article, so both halves mix topics
    docs = [d for d in data.docs if d.doc_id.split("#")[0] in indexed]
    rng = random.Random(7)
    inside = [q for q in data.items if q.doc_id.split("#")[0] in indexed]
    outside = [q for q in data.items if q.doc_id.split("#")[0] not in indexed]
    picked = [(q, True) for q in rng.sample(inside, min(questions, len(inside)))]
    picked += [(q, False) for q in rng.sample(outside, min(questions, len(outside)))]

    scratch = prepare(load_settings(), docs)
    settings = scratch.settings
    embedder = build_embedder(settings)
    ingest_scratch(scratch, embedder=embedder)
    index = open_index(settings, embedder)
    try:
        retriever = build_retriever(settings, index, embedder)
        principal = principal_for(policy_loader(settings)(), EVAL_USER)
        rows = []
        for item, answerable in picked:
            hits = retriever.retrieve(item.question, principal).hits
            rows.append({
                "answerable": answerable,
                "hits": [(h.dense_score, h.sparse_score, scratch.corpus.doc_of(h.chunk.source) == item.doc_id) for h in hits],
            })
        return rows
    finally:
        index.close()


def score(rows: list[dict[str, Any]], d: float, s: float, p: float | None = None) -> dict[str, float]:
    """Gate error rates for one setting: gate (dense d, sparse s), passage bar p (default: d)."""
    answerable = [r for r in rows if r["answerable"]]
    other = [r for r in rows if not r["answerable"]]
    bar = d if p is None else min(p, d)

    def answered(r: dict[str, Any]) -> bool:
        return any(h[0] >= d or h[1] >= s for h in r["hits"])

    def gold_in_prompt(r: dict[str, Any]) -> bool:
        return answered(r) and any(h[2] and (h[0] >= bar or h[1] >= s) for h in r["hits"])

    refused = sum(1 for r in answerable if not answered(r)) / len(answerable)
    let_through = sum(1 for r in other if answered(r)) / len(other)
    gold = sum(1 for r in answerable if gold_in_prompt(r)) / len(answerable)
    return {"dense": d, "sparse": s, "passage": bar, "false_not_found": round(refused, 4),
            "false_found": round(let_through, 4), "gold_in_prompt": round(gold, 4), "errors": round(refused + let_through, 4)}


def main() -> None:
    """Observe once, then print the grid (best by total error first) and the current default."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad", type=Path, default=ROOT.parent / "shared" / "data" / "squad-dev-sample" / "squad-dev-v1.1-sample.json")
    ap.add_argument("--questions", type=int, default=400, help="per side: answerable and unanswerable")
    ap.add_argument("--cache", type=Path, help="keep the observations here and reuse them")
    args = ap.parse_args()
    if args.cache and args.cache.is_file():
        rows = json.loads(args.cache.read_text())
    else:
        rows = observe(args.squad, args.questions)
        if args.cache:
            args.cache.write_text(json.dumps(rows))
    grid = sorted(
        (score(rows, d, s, p) for d in DENSE for s in SPARSE for p in PASSAGE if p <= d),
        key=lambda r: (r["errors"], -r["gold_in_prompt"]),
    )
    from enclave.settings import load_settings

    r = load_settings().retrieval
    print(json.dumps({
        "questions_per_side": sum(1 for r in rows if r["answerable"]),
        "embedding_model": load_settings().embedding.model_id,
        "current_default": score(rows, r.min_dense_score, r.min_sparse_match, r.passage_min_dense_score),
        "best": grid[:10],
    }, indent=2))


if __name__ == "__main__":
    main()
