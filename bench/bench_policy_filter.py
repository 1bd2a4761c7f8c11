"""Policy-filtered vs unfiltered hybrid retrieval latency on Qdrant Edge at 20k and 100k chunks.

Vectors are random (unit-normalised 384-d dense, 12-term BM25-like sparse), so this measures the
cost of the label filter inside the query, not recall. No HNSW build (`optimize()`) is run: the
shard searches its plain segments, as a freshly ingested embedded install does.

    .venv/bin/python bench/bench_policy_filter.py [--sizes 20000 100000] [--queries 100]
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
from ingest.index.edge import EdgeIndex, label_filter_for  # noqa: E402
from ingest.schema import SCHEMA_VERSION, Chunk, EmbeddedChunk, IndexMeta, SparseVec  # noqa: E402

DIM = 384
LABELS = [f"label-{i:02d}" for i in range(12)]
USER_LABELS = frozenset(LABELS[:3])  # a typical user: 3 of 12 labels (~25-30% of chunks)
VOCAB = 30_000


def _vectors(rng: random.Random, n: int) -> list[list[float]]:
    import numpy as np

    v = np.random.default_rng(rng.getrandbits(32)).standard_normal((n, DIM)).astype("float32")
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).tolist()


def _vector(rng: random.Random) -> list[float]:
    return _vectors(rng, 1)[0]


def _sparse(rng: random.Random) -> SparseVec:
    terms = sorted(rng.sample(range(VOCAB), 12))
    return SparseVec(terms, [rng.uniform(0.5, 2.0) for _ in terms])


def build(path: Path, n: int, rng: random.Random) -> tuple[EdgeIndex, float]:
    """An Edge index of n random chunks, each with one label (10% with two)."""
    index = EdgeIndex(path)
    index.ensure(IndexMeta(schema_version=SCHEMA_VERSION, embedding_model="random", embedding_dim=DIM))
    started = time.perf_counter()
    batch: list[EmbeddedChunk] = []
    vectors = _vectors(rng, n)
    for i in range(n):
        labels = [rng.choice(LABELS)] + ([rng.choice(LABELS)] if rng.random() < 0.1 else [])
        chunk = Chunk(
            chunk_id=f"00000000-0000-4000-8000-{i:012d}", doc_id=f"doc-{i // 8}", source=f"bench/doc-{i // 8}.md",
            doc_sha256="0" * 64, chunk_no=i % 8, text=f"chunk {i}", page=None, section=None, element_types=(),
            labels=tuple(sorted(set(labels))),
        )
        batch.append(EmbeddedChunk(chunk=chunk, dense=vectors[i], sparse=_sparse(rng)))
        if len(batch) == 2048:
            index.upsert(batch)
            batch = []
    if batch:
        index.upsert(batch)
    return index, time.perf_counter() - started


def _pcts(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3), "p95_ms": round(p95 * 1000, 3)}


def measure(index: EdgeIndex, queries: int, rng: random.Random) -> dict[str, dict[str, float]]:
    """p50/p95 of the same hybrid queries: no filter, a filter allowing everything, a 3-label user."""
    variants = {
        "unfiltered": None,
        "filter_all_labels": label_filter_for(frozenset(LABELS)),
        "filter_user_3_of_12": label_filter_for(USER_LABELS),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(queries):
        query = HybridQuery(dense=_vector(rng), sparse=_sparse(rng), allowed_labels=USER_LABELS, limit=6, prefetch=50)
        for name, flt in variants.items():  # interleaved, so load changes hit every variant alike
            t0 = time.perf_counter()
            hits = index._search(query, flt)
            times[name].append(time.perf_counter() - t0)
            if name == "filter_user_3_of_12":
                assert all(set(h.chunk.labels) <= USER_LABELS for h in hits)
    return {name: _pcts(samples) for name, samples in times.items()}


def main() -> None:
    """Run the benchmark and print one JSON object."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(42)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            index, build_s = build(Path(tmp) / f"n{n}", n, rng)
            for _ in range(10):  # warm caches
                index._search(HybridQuery(_vector(rng), _sparse(rng), USER_LABELS, 6, 50), None)
            results[str(n)] = {"build_s": round(build_s, 1), **measure(index, args.queries, rng)}
            index.close()
            print(json.dumps({str(n): results[str(n)]}), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
