"""`enclave eval retrieval`: a BEIR dataset through the product's ingest and retriever."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enclave.settings import Settings
from ingest.pipeline import Progress
from rag.eval.errors import EvalError
from rag.eval.metrics import dedupe_docs, evaluate
from rag.eval.scratch import EVAL_USER, EvalDoc, Scratch, ingest_scratch, prepare, scratch_summary

DEPTH = 100  # documents ranked per query (Recall@100)


@dataclass(frozen=True)
class BeirData:
    """A BEIR dataset: documents, query texts and graded judgments."""

    docs: list[EvalDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(root: Path, qrels_file: Path | None = None, split: str = "test") -> BeirData:
    """Read corpus.jsonl, queries.jsonl and qrels/<split>.tsv (or `qrels_file`) from a BEIR folder."""
    root = Path(root)
    corpus, queries = root / "corpus.jsonl", root / "queries.jsonl"
    qrels_path = Path(qrels_file) if qrels_file else root / "qrels" / f"{split}.tsv"
    for path in (corpus, queries, qrels_path):
        if not path.is_file():
            present = sorted(p.stem for p in (root / "qrels").glob("*.tsv")) if (root / "qrels").is_dir() else []
            raise EvalError(
                f"{path} not found",
                hint=f"a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv; splits here: {present or 'none'}",
            )
    docs = [EvalDoc(str(d["_id"]), str(d.get("title") or ""), str(d.get("text") or "")) for d in _jsonl(corpus)]
    texts = {str(q["_id"]): str(q["text"]) for q in _jsonl(queries)}
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, newline="") as f:
        for row in csv.reader(f, delimiter="\t"):
            if not row or row[0] == "query-id":
                continue
            if len(row) < 3:
                raise EvalError(f"{qrels_path}: bad line {row!r}", hint="each line: query-id, corpus-id, score")
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    missing = sorted(set(qrels) - set(texts))
    if missing:
        raise EvalError(f"{len(missing)} judged queries have no text in queries.jsonl (e.g. {missing[0]})")
    return BeirData(docs=docs, queries={q: texts[q] for q in qrels}, qrels=qrels)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise EvalError(f"{path}: not JSON lines ({exc})", hint="one JSON object per line") from exc


def evaluate_retrieval(
    settings: Settings, data: BeirData, on_progress: Callable[[Progress], None] | None = None
) -> dict[str, Any]:
    """Ingest (or reuse) the scratch index, rank every judged query, and score the ranking."""
    scratch = prepare(settings, data.docs)
    started = time.perf_counter()
    ingest_scratch(scratch, on_progress)
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    run = rank_queries(scratch, data.queries)
    query_s = time.perf_counter() - started
    result: dict[str, Any] = evaluate(run, data.qrels)
    result["config"] = eval_config(scratch)
    result["timings"] = {"ingest_s": round(ingest_s, 2), "queries_s": round(query_s, 2)}
    return result


def rank_queries(scratch: Scratch, queries: dict[str, str], index: Any = None) -> dict[str, list[str]]:
    """Document ranking per query through the retriever `enclave ask` uses, as the eval user (policy filter on).

    Chunks map back to their document at the rank of its best chunk. `index` replaces the scratch index
    (tests pass an unfiltered one to show the filter changes nothing for a user who may read everything).
    """
    from enclave.wiring import build_embedder, build_retriever, open_index, policy_loader
    from policies.engine import principal_for

    settings = scratch.settings
    embedder = build_embedder(settings)
    own = index is None
    index = open_index(settings, embedder) if own else index
    try:
        # Two chunks per ranked document leave room for documents split into several chunks.
        retriever = build_retriever(settings, index, embedder, top_k=2 * DEPTH)
        principal = principal_for(policy_loader(settings)(), EVAL_USER)
        run = {}
        for qid, text in queries.items():
            hits = retriever.retrieve(text, principal).hits
            run[qid] = dedupe_docs([scratch.doc_of(h.chunk.source) for h in hits])[:DEPTH]
        return run
    finally:
        if own:
            index.close()


def eval_config(scratch: Scratch) -> dict[str, Any]:
    """The configuration a figure belongs to: embedder, chunking, BM25, fusion, and the scratch index."""
    from ingest.embed import Bm25Encoder

    s = scratch.settings
    return {
        "embedding": s.embedding.model_dump(mode="json"),
        "chunking": s.chunking.model_dump(mode="json"),
        "bm25": Bm25Encoder().params(),
        "retrieval": {k: v for k, v in s.retrieval.model_dump(mode="json").items() if k in _RANKING_KEYS},
        "depth": {"documents": DEPTH, "chunks": 2 * DEPTH},
        "policy_filter": True,
        "index": str(s.home),
        "ingest": scratch_summary(scratch),
    }


_RANKING_KEYS = ("prefetch_k", "fusion", "rrf_k", "dense_weight", "sparse_weight")

