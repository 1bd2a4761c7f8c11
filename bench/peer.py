"""Peer baseline: the same documents through a plain llama-index pipeline as PrivateGPT 0.6 ran it."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import data


def _p50_p95(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def enclave(params: dict[str, Any]) -> dict[str, Any]:
    """Enclave: the product's ingest route (chunk, embed, BM25, Edge) and the policy-filtered retriever."""
    from enclave.eval_wiring import ingest_scratch, prepare
    from enclave.settings import load_settings
    from enclave.wiring import build_embedder, build_retriever, open_index, policy_loader
    from policies.engine import principal_for
    from rag.eval.scratch import EVAL_USER, EvalDoc

    docs, source = data.corpus_texts(params["docs"])
    queries = data.query_texts(params["queries"])
    with tempfile.TemporaryDirectory() as tmp:
        scratch = prepare(load_settings(home=Path(tmp)), [EvalDoc(*d) for d in docs])
        embedder = build_embedder(scratch.settings)  # one model for ingest and queries, as on the peer side
        embedder.warm_up()  # import and load happen once per process on both sides; not counted
        import llama_index.core.node_parser  # noqa: F401  (the splitter's import, outside the timing as on the peer side)
        t0 = time.perf_counter()
        report = ingest_scratch(scratch, embedder=embedder)
        ingest_s = time.perf_counter() - t0
        index = open_index(scratch.settings, embedder)
        try:
            retriever = build_retriever(scratch.settings, index, embedder)
            principal = principal_for(policy_loader(scratch.settings)(), EVAL_USER)
            retriever.retrieve(queries[0], principal)
            times = []
            for q in queries:
                t0 = time.perf_counter()
                retriever.retrieve(q, principal)
                times.append((time.perf_counter() - t0) * 1000)
        finally:
            index.close()
    p50, p95 = _p50_p95(times)
    assert report is not None
    return {"source": source, "embedder": f"{embedder.model_id} ({embedder.dtype})", "docs": len(docs),
            "chunks": report.chunks_written, "ingest_s": ingest_s, "query_p50_ms": p50, "query_p95_ms": p95}


def llama_index(params: dict[str, Any]) -> dict[str, Any]:
    """IngestionPipeline + SentenceSplitter + HuggingFaceEmbedding + QdrantVectorStore on qdrant-client local mode."""
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient
    from tokenizers import Tokenizer

    from enclave.settings import load_settings
    from ingest.embed_models import embedder_path

    docs, source = data.corpus_texts(params["docs"])
    queries = data.query_texts(params["queries"])
    e = load_settings().embedding
    path = embedder_path(e.model_id, e.model_path)  # the same model as Enclave's, in fp32 as PrivateGPT runs it
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    # The same chunk size and token counter as Enclave; llama-index's default (tiktoken) would download.
    splitter = SentenceSplitter(chunk_size=256, chunk_overlap=32, tokenizer=lambda t: tokenizer.encode(t, add_special_tokens=False).ids)
    config = path / "config_sentence_transformers.json"
    prompts = json.loads(config.read_text()).get("prompts", {}) if config.is_file() else {}
    embed_model = HuggingFaceEmbedding(
        model_name=str(path), device="cpu", query_instruction=prompts.get("query"), text_instruction=prompts.get("document")
    )
    embed_model.get_text_embedding("warm up")
    with tempfile.TemporaryDirectory() as tmp:
        client = QdrantClient(path=str(Path(tmp) / "qdrant"))
        store = QdrantVectorStore(client=client, collection_name="peer")
        pipeline = IngestionPipeline(transformations=[splitter, embed_model], vector_store=store)
        documents = [Document(text=f"{title}\n\n{text}", doc_id=doc_id) for doc_id, title, text in docs]
        t0 = time.perf_counter()
        nodes = pipeline.run(documents=documents)
        ingest_s = time.perf_counter() - t0
        retriever = VectorStoreIndex.from_vector_store(store, embed_model=embed_model).as_retriever(similarity_top_k=6)
        retriever.retrieve(queries[0])
        times = []
        for q in queries:
            t0 = time.perf_counter()
            retriever.retrieve(q)
            times.append((time.perf_counter() - t0) * 1000)
        client.close()
    p50, p95 = _p50_p95(times)
    return {"source": source, "embedder": f"{e.model_id} (float32)", "docs": len(docs), "chunks": len(nodes),
            "ingest_s": ingest_s, "query_p50_ms": p50, "query_p95_ms": p95, "note": "dense only, no access filter"}
