"""Wiring for `enclave eval`: scratch homes from settings, their ingest, and the retriever and answerer scored.

rag/eval holds the datasets and the scoring and takes its components as parameters; this module builds them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enclave.settings import Settings
from enclave.wiring import (
    build_answerer,
    build_embedder,
    build_generator,
    build_retriever,
    ingest_folder_now,
    open_audit_log,
    open_index,
    policy_loader,
)
from ingest.embed import SentenceTransformerEmbedder, resolve_dtype
from ingest.index.base import VectorIndex
from ingest.pipeline import IngestReport, Progress
from policies.engine import principal_for
from rag.eval.beir import DEPTH, BeirData, rank_queries
from rag.eval.golden import GoldenItem, ask_golden
from rag.eval.metrics import evaluate
from rag.eval.scratch import (
    EVAL_USER,
    EvalDoc,
    ScratchCorpus,
    corpus_digest,
    index_key,
    mark_complete,
    parse_eval_doc,
    scratch_summary,
    write_corpus,
)
from rag.eval.squad import SquadData, answer_questions

_RANKING_KEYS = ("prefetch_k", "fusion", "rrf_k", "dense_weight", "sparse_weight")


@dataclass(frozen=True)
class Scratch:
    """A prepared scratch home: its settings and its corpus."""

    settings: Settings
    corpus: ScratchCorpus


def scratch_settings(settings: Settings, docs: Sequence[EvalDoc]) -> Settings:
    """Settings of the scratch home for `docs`: ENCLAVE_HOME/eval/<key>, its own policy, an embedded store."""
    # "auto" is resolved here, so the index and the reported figures name the dtype that made the vectors.
    embedding = settings.embedding.model_copy(update={"dtype": resolve_dtype(settings.embedding.dtype)})
    # The batch size changes speed, not vectors, so it does not key the index.
    shape = embedding.model_dump(mode="json", exclude={"batch_size"})
    key = index_key(corpus_digest(docs), shape, settings.chunking.model_dump(mode="json"))
    # Always an embedded Edge store: an evaluation must never write into a site's Qdrant server.
    index = settings.index.model_copy(update={"backend": "edge"})
    home = Path(settings.home) / "eval" / key
    update = {"home": home, "policy_path": "", "audit_key_file": "", "index": index, "embedding": embedding}
    return settings.model_copy(update=update)


def prepare(settings: Settings, docs: Sequence[EvalDoc]) -> Scratch:
    """Create (or find) the scratch home for `docs`: settings, policy and one file per document."""
    scratch = scratch_settings(settings, docs)
    return Scratch(settings=scratch, corpus=write_corpus(scratch.home, docs, scratch.policy_dir))


def ingest_scratch(
    scratch: Scratch,
    on_progress: Callable[[Progress], None] | None = None,
    embedder: SentenceTransformerEmbedder | None = None,
) -> IngestReport | None:
    """Ingest the scratch corpus with the product's route; None when a complete index was reused.

    `embedder` reuses a loaded model (one model per process, as in `enclave ask`).
    """
    if scratch.corpus.complete:
        return None
    report = ingest_folder_now(
        scratch.settings, scratch.corpus.docs_dir, embedder=embedder, parse=parse_eval_doc, on_progress=on_progress
    )
    mark_complete(scratch.corpus, report)
    return report


def evaluate_retrieval(
    settings: Settings, data: BeirData, on_progress: Callable[[Progress], None] | None = None
) -> dict[str, Any]:
    """Ingest (or reuse) the scratch index, rank every judged query, and score the ranking."""
    scratch = prepare(settings, data.docs)
    embedder = build_embedder(scratch.settings)
    started = time.perf_counter()
    ingest_scratch(scratch, on_progress, embedder)
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    run = rank_scratch(scratch, data.queries, embedder=embedder)
    query_s = time.perf_counter() - started
    result: dict[str, Any] = evaluate(run, data.qrels)
    result["config"] = eval_config(scratch)
    result["timings"] = {"ingest_s": round(ingest_s, 2), "queries_s": round(query_s, 2)}
    return result


def rank_scratch(
    scratch: Scratch,
    queries: dict[str, str],
    index: VectorIndex | None = None,
    embedder: SentenceTransformerEmbedder | None = None,
) -> dict[str, list[str]]:
    """Document ranking per query through the retriever `enclave ask` uses, as the eval user (policy filter on).

    `index` replaces the scratch index (tests pass an unfiltered one to show the filter changes nothing
    for a user who may read everything); `embedder` reuses a loaded model.
    """
    settings = scratch.settings
    embedder = embedder or build_embedder(settings)
    own = index is None
    opened = open_index(settings, embedder) if index is None else index
    try:
        retriever = build_retriever(settings, opened, embedder, top_k=2 * DEPTH)
        principal = principal_for(policy_loader(settings)(), EVAL_USER)
        return rank_queries(retriever, principal, queries, scratch.corpus.doc_of)
    finally:
        if own:
            opened.close()


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
        "ingest": scratch_summary(scratch.corpus),
    }


def evaluate_qa(
    settings: Settings,
    data: SquadData,
    on_progress: Callable[[Progress], None] | None = None,
    on_answer: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Ingest the paragraphs (or reuse them), answer every question as the eval user, and score the answers."""
    scratch = prepare(settings, data.docs)
    s = scratch.settings
    embedder = build_embedder(s)
    ingest_scratch(scratch, on_progress, embedder)
    index = open_index(s, embedder)
    try:
        # The generator comes from the site's settings: the model lives in the real home, not the scratch one.
        answerer = build_answerer(s, index, embedder, build_generator(settings), audit=open_audit_log(s))
        principal = principal_for(policy_loader(s)(), EVAL_USER)
        return answer_questions(answerer, principal, data.items, scratch.corpus.doc_of, on_answer)
    finally:
        index.close()


def evaluate_golden(
    settings: Settings, items: list[GoldenItem], user: str, on_answer: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Ask every question against the live index as its user; score sources, citations and answers."""
    embedder = build_embedder(settings)
    index = open_index(settings, embedder)
    try:
        retriever = build_retriever(settings, index, embedder)
        answerer = build_answerer(settings, index, embedder, build_generator(settings))
        load_policy = policy_loader(settings)
        # The policy is read per question, as `enclave ask` reads it.
        return ask_golden(retriever, answerer, lambda name: principal_for(load_policy(), name), items, user, on_answer)
    finally:
        index.close()
