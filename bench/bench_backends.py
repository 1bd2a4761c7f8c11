"""Backends beyond one machine, measured on loopback in one run:

1. Retrieval: embedded Qdrant Edge vs qdrant-client local mode (the stand-in for a Qdrant server
   here) at 20k chunks, the same label-filtered hybrid queries on both; the ratio is per run.
   Vectors are random (unit 384-d dense, 12-term sparse), so this measures latency, not recall.
   Both stores live on tmpfs (/dev/shm when present): local mode commits every point to sqlite,
   and on a shared disk that fsync, not the engine, would dominate its ingest time.
2. Generation: the same GGUF answered in-process (llama-cpp-python) and through the OpenAI HTTP
   adapter against `python -m llama_cpp.server` on 127.0.0.1; per question = counting the
   tokens of 6 passages (as prompt packing does) + a streamed answer of up to 48 tokens.

    .venv/bin/python bench/bench_backends.py [--chunks 20000] [--queries 12] [--questions 6]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.index.base import HybridQuery  # noqa: E402
from ingest.index.edge import EdgeIndex  # noqa: E402
from ingest.index.server import QdrantServerIndex  # noqa: E402
from ingest.schema import SCHEMA_VERSION, Chunk, EmbeddedChunk, IndexMeta, SparseVec  # noqa: E402

DIM = 384
LABELS = [f"label-{i:02d}" for i in range(12)]
USER_LABELS = frozenset(LABELS[:3])
VOCAB = 30_000
PASSAGE = ("Annual leave requests must be approved by the line manager two weeks in advance; "
           "up to 7 unused days may be carried over into the next calendar year. ") * 6


def _vector(rng: random.Random) -> list[float]:
    v = [rng.gauss(0.0, 1.0) for _ in range(DIM)]
    norm = sum(x * x for x in v) ** 0.5
    return [x / norm for x in v]


def _sparse(rng: random.Random) -> SparseVec:
    terms = sorted(rng.sample(range(VOCAB), 12))
    return SparseVec(terms, [rng.uniform(0.5, 2.0) for _ in terms])


def _chunks(n: int, rng: random.Random) -> list[EmbeddedChunk]:
    out = []
    for i in range(n):
        chunk = Chunk(
            chunk_id=f"00000000-0000-4000-8000-{i:012d}", doc_id=f"doc-{i // 20}", source=f"docs/f{i // 20}.txt",
            doc_sha256="0" * 64, chunk_no=i % 20, text=f"chunk {i}", page=None, section=None,
            element_types=("NarrativeText",), labels=(rng.choice(LABELS),),
        )
        out.append(EmbeddedChunk(chunk, _vector(rng), _sparse(rng)))
    return out


def _timed(fn, *args):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t


def bench_retrieval(n: int, queries: int) -> dict[str, object]:
    """Same chunks, same queries, both adapters: ingest time and query latency."""
    rng = random.Random(7)
    chunks = _chunks(n, rng)
    qs = [HybridQuery(dense=_vector(rng), sparse=_sparse(rng), allowed_labels=USER_LABELS, limit=6, prefetch=50)
          for _ in range(queries)]
    meta = IndexMeta(schema_version=SCHEMA_VERSION, embedding_model="bench", embedding_dim=DIM)
    results: dict[str, object] = {"chunks": n, "queries": queries}
    ids: dict[str, list[list[str]]] = {}
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        for name, index in (("edge", EdgeIndex(Path(tmp) / "edge")), ("qdrant_local", QdrantServerIndex("b", path=Path(tmp) / "q"))):
            index.ensure(meta)
            _, ingest_s = _timed(index.upsert, chunks)
            index.query(qs[0])  # warm
            lat, got = [], []
            for q in qs:
                hits, s = _timed(index.query, q)
                lat.append(s * 1000)
                got.append([h.chunk.chunk_id for h in hits])
            index.close()
            ids[name] = got
            results[name] = {"ingest_s": round(ingest_s, 2), "query_ms_median": round(statistics.median(lat), 2),
                             "query_ms_p95": round(sorted(lat)[int(0.95 * (len(lat) - 1))], 2)}
    e, q = results["edge"], results["qdrant_local"]  # type: ignore[index]
    results["query_ratio_local_over_edge"] = round(q["query_ms_median"] / e["query_ms_median"], 1)  # type: ignore[index]
    # RRF ties (equal ranks in different lists) may be ordered differently by the two engines.
    results["same_ranked_ids"] = sum(a == b for a, b in zip(ids["edge"], ids["qdrant_local"], strict=True)) / queries
    results["same_id_sets"] = sum(set(a) == set(b) for a, b in zip(ids["edge"], ids["qdrant_local"], strict=True)) / queries
    return results


def bench_generation(questions: int, threads: int) -> dict[str, object]:
    """Per-question time in-process vs over HTTP, same model, same prompts, greedy."""
    from enclave.settings import DEFAULT_MODEL_NAME
    from rag.generators.llama_cpp import LlamaCppGenerator
    from rag.generators.openai_http import OpenAIHttpGenerator
    from rag.models import assemble_bundled_model, bundled_model
    from tests.contracts.servers import llama_cpp_server

    model = assemble_bundled_model(bundled_model(DEFAULT_MODEL_NAME), Path(tempfile.gettempdir()) / "enclave-bench-model.gguf")
    prompts = [[{"role": "system", "content": "Answer briefly from the context."},
                {"role": "user", "content": f"Context: {PASSAGE}\nQuestion {i}: how many days can be carried over?"}]
               for i in range(questions)]

    def one(gen, prompt) -> tuple[float, float, str]:  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        for _ in range(6):
            gen.count_tokens(PASSAGE)
        first, pieces = None, []
        for piece in gen.stream(prompt, 48):
            first = first or time.perf_counter() - t0
            pieces.append(piece)
        return time.perf_counter() - t0, first or 0.0, "".join(pieces)

    key = Path(tempfile.mkstemp()[1])
    key.write_text("bench-key")
    runs: dict[str, list[tuple[float, float, str]]] = {"in_process": [], "http": []}
    with llama_cpp_server(model, "bench-key", "bench", n_ctx=4096, threads=threads) as url:
        gens = {
            "in_process": LlamaCppGenerator(model, bundled_model(DEFAULT_MODEL_NAME).sha256, DEFAULT_MODEL_NAME, n_ctx=4096, n_threads=threads),
            "http": OpenAIHttpGenerator(url, api_key_file=str(key), n_ctx=4096),
        }
        for gen in gens.values():
            gen.warm_up()
            list(gen.stream(prompts[0], 4))  # both engines hold the shared prompt prefix from here on
        # Alternate the order per question so that load from other processes hits both alike.
        for i, prompt in enumerate(prompts):
            for name in (("in_process", "http") if i % 2 == 0 else ("http", "in_process")):
                runs[name].append(one(gens[name], prompt))
        # Transport cost alone: one token count, in-process vs a loopback HTTP round trip.
        tokenize_ms = {}
        for name, gen in gens.items():
            laps = []
            for _ in range(30):
                t = time.perf_counter()
                gen.count_tokens(PASSAGE)
                laps.append((time.perf_counter() - t) * 1000)
            tokenize_ms[name] = round(statistics.median(laps), 3)
    key.unlink()
    total = {name: [r[0] for r in rs] for name, rs in runs.items()}
    diffs = [h - l for l, h in zip(total["in_process"], total["http"], strict=True)]
    return {
        "questions": questions,
        "threads": threads,
        "in_process_median_s": round(statistics.median(total["in_process"]), 3),
        "http_median_s": round(statistics.median(total["http"]), 3),
        "in_process_best_s": round(min(total["in_process"]), 3),
        "http_best_s": round(min(total["http"]), 3),
        "overhead_median_s": round(statistics.median(diffs), 3),
        "per_question_overhead_s": [round(d, 3) for d in diffs],
        "first_token_median_in_process_s": round(statistics.median(r[1] for r in runs["in_process"]), 3),
        "first_token_median_http_s": round(statistics.median(r[1] for r in runs["http"]), 3),
        "count_tokens_ms": tokenize_ms,
        "same_text": [r[2] for r in runs["in_process"]] == [r[2] for r in runs["http"]],
    }


def main() -> None:
    """Run both parts and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=12)
    parser.add_argument("--questions", type=int, default=6)
    # The same thread count for both engines; on a loaded 2-core box, 1 thread is the steadier choice.
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    out = {"retrieval": bench_retrieval(args.chunks, args.queries), "generation": bench_generation(args.questions, args.threads)}
    out["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
