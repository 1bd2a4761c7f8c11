"""`enclave eval retrieval`: read a BEIR dataset, and rank its queries' documents through a retriever."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.eval.errors import EvalError
from rag.eval.metrics import dedupe_docs
from rag.eval.scratch import EvalDoc

if TYPE_CHECKING:
    from policies.model import Principal
    from rag.retrieve import Retriever

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


def rank_queries(
    retriever: Retriever, principal: Principal, queries: dict[str, str], doc_of: Callable[[str], str]
) -> dict[str, list[str]]:
    """Document ranking per query, retrieved as `principal`; `doc_of` maps a chunk's source to its document.

    Chunks map back to their document at the rank of its best chunk. The retriever should return
    2 * DEPTH chunks: room for documents split into several chunks.
    """
    run = {}
    for qid, text in queries.items():
        hits = retriever.retrieve(text, principal).hits
        run[qid] = dedupe_docs([doc_of(h.chunk.source) for h in hits])[:DEPTH]
    return run
