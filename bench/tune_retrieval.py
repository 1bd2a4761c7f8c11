"""What each retrieval choice buys on a BEIR set, scored over cached vectors (issue 6's tuning record).

The product's own figure comes from `enclave eval retrieval`. This script scores the choices that were
considered for it: dense only, BM25 only, reciprocal-rank fusion, convex fusion of min-max, z-score or
theoretical-min normalised scores, the dense weight, the prefetch depth, 128-token chunks, the document title
repeated on every chunk, fusing per document instead of per chunk (BM25 over whole documents, too),
dense pseudo-relevance feedback, and a dense score that also looks at each chunk's best short window. It uses
the product's chunks (`ingest.chunk` with the bundled MiniLM's token counts, on
`rag.eval.scratch.eval_document`), its embedder (sentence-transformers, in the configured dtype) and Qdrant Edge's
BM25, embedded once into --cache, and ranks in numpy (exact search, as the Edge store does). Each row is
compared with the default by a paired bootstrap over the queries: on a few hundred queries, differences
of less than about 0.01 nDCG@10 are noise.

    .venv/bin/python bench/tune_retrieval.py --beir ../shared/data/scifact --split train
    .venv/bin/python bench/tune_retrieval.py --beir ../shared/data/scifact --qrels test.tsv --variants core

--dense-model DIR puts another sentence-transformers model on the dense side (the product's chunks, its vectors
cached under the folder's name and a digest of its files), to see what a stronger, costlier embedder would buy.
--dtype overrides `embedding.dtype` (default: the settings', "auto"); --versus-dtype D adds the default fusion
and dense alone with the product's embedder in dtype D, each paired against the default row (bf16 against
fp32: is the faster dtype as good?).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEPTH = 100  # documents ranked per query (Recall@100)
BOOTSTRAP = 2000


@dataclass(frozen=True)
class Variant:
    """One retrieval choice: which chunks, how the two rankings are fused, and how deep each side looks."""

    name: str
    mode: str = "convex"  # dense | bm25 | rrf | convex
    norm: str = "minmax"  # minmax | zscore | theory (convex only; theory: min fixed at the score's floor)
    dense_weight: float = 0.7  # the product's (retrieval.dense_weight); 0.5 was MiniLM's best
    prefetch: int = 100
    chunk_tokens: int = 256
    title_on_every_chunk: bool = False
    # "" fuses chunks (the product); "maxpool" fuses documents, each at its best chunk's score on each side;
    # "bm25_doc" fuses documents with BM25 over each whole document and dense at its best chunk.
    per_document: str = ""
    # Dense pseudo-relevance feedback (Rocchio): (m, beta) adds beta x the mean vector of the first pass's
    # top m chunks to the query vector, then ranks again.
    feedback: tuple[int, float] | None = None
    # Windows of about this many tokens (sentence-aligned) inside each chunk, embedded too: the chunk's dense
    # score becomes the mean of its own cosine and its best window's (0: the chunk's cosine alone).
    windows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


DEFAULT = Variant("convex, min-max, w 0.7, prefetch 100 (default)")
CORE = [
    Variant("dense only", mode="dense"),
    Variant("BM25 only", mode="bm25"),
    Variant("RRF k 60, prefetch 50 (first default)", mode="rrf", prefetch=50),
    DEFAULT,
]
MORE = [
    Variant("convex, dense weight 0.5", dense_weight=0.5),
    Variant("convex, dense weight 0.6", dense_weight=0.6),
    Variant("convex, dense weight 0.8", dense_weight=0.8),
    Variant("convex, prefetch 50", prefetch=50),
    Variant("convex, prefetch 200", prefetch=200),
    Variant("convex, z-score normalisation", norm="zscore"),
    # Bruch et al. 2023 (TM2C2): divide by the observed max over the theoretical min (cosine -1, BM25 0).
    Variant("convex, theoretical-min normalisation, w 0.5", norm="theory", dense_weight=0.5),
    Variant("convex, theoretical-min normalisation, w 0.7", norm="theory", dense_weight=0.7),
    Variant("convex, theoretical-min normalisation, w 0.8", norm="theory", dense_weight=0.8),
    Variant("title repeated on every chunk", title_on_every_chunk=True),
    Variant("128-token chunks (overlap 32)", chunk_tokens=128),
    Variant("fused per document (best chunk per side)", per_document="maxpool"),
    Variant("fused per document, BM25 over whole documents", per_document="bm25_doc"),
    Variant("fused per document, BM25 over whole documents, w 0.4", per_document="bm25_doc", dense_weight=0.4),
    Variant("dense feedback, top 3 chunks, beta 0.3", feedback=(3, 0.3)),
    Variant("dense feedback, top 5 chunks, beta 0.6", feedback=(5, 0.6)),
    Variant("dense feedback, top 5 chunks, beta 1.0", feedback=(5, 1.0)),
    Variant("dense only, at the mean of the chunk and its best 64-token window", mode="dense", windows=64),
    Variant("dense at the mean of the chunk and its best 64-token window", windows=64),
]


class Corpus:
    """Chunks and their vectors for one chunking, embedded once and cached on disk."""

    def __init__(
        self, cache: Path, docs: list[Any], embedder: Any, chunk_tokens: int, title_on_every_chunk: bool,
        dense: Dense | None = None,
    ) -> None:
        import numpy as np

        dense = dense or Dense(embedder)
        # Chunks are cut with the product embedder's tokenizer: another embedder has chunks of its own.
        tag = f"{chunk_tokens}{'-title' if title_on_every_chunk else ''}{_model_tag(embedder)}"
        chunks_file, vectors_file = cache / f"chunks-{tag}.json", cache / f"dense-{tag}{dense.suffix}.npy"
        chunked = chunks_file.is_file()
        if chunked:
            data = json.loads(chunks_file.read_text())
            self.texts, self.owners = data["texts"], data["owners"]
        else:
            self.texts, self.owners = _chunk(docs, embedder, chunk_tokens, title_on_every_chunk)
        if chunked and vectors_file.is_file():
            self.dense = np.load(vectors_file)
        else:
            t0 = time.perf_counter()
            self.dense = np.asarray(dense.embed_documents(self.texts), dtype="float32")
            print(f"embedded {len(self.texts)} chunks ({tag}) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            chunks_file.write_text(json.dumps({"texts": self.texts, "owners": self.owners}))
            np.save(vectors_file, self.dense)
        self.owner = np.asarray(self.owners)
        self._cache, self._tag, self._dense_side, self._embedder = cache, tag, dense, embedder
        self._bm25: Bm25Scorer | None = None
        self._documents: Documents | None = None

    def best_window_scores(self, tokens: int, qvecs: Any) -> Any:
        """For each query, each chunk's best cosine over its windows of about `tokens` tokens (embedded once, cached)."""
        import numpy as np
        from llama_index.core.node_parser import SentenceSplitter

        path = self._cache / f"windows-{tokens}-{self._tag}{self._dense_side.suffix}.npz"
        if not path.is_file():
            splitter = SentenceSplitter(
                chunk_size=tokens, chunk_overlap=0, tokenizer=self._embedder.token_ids, paragraph_separator="\n\n"
            )
            texts, parents = [], []
            for i, text in enumerate(self.texts):
                pieces = [p.strip() for p in splitter.split_text(text) if p.strip()] or [text]
                texts += pieces
                parents += [i] * len(pieces)
            t0 = time.perf_counter()
            vectors = np.asarray(self._dense_side.embed_documents(texts), dtype="float32")
            print(f"embedded {len(texts)} windows of {tokens} tokens in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            np.savez(path, vectors=vectors, parents=np.asarray(parents))
        saved = np.load(path)
        vectors, parents = saved["vectors"], saved["parents"]
        best = np.full((len(qvecs), len(self.texts)), -np.inf, dtype="float32")
        for j, row in enumerate(qvecs @ vectors.T):
            np.maximum.at(best[j], parents, row)
        return best

    def documents(self) -> Documents:
        """The documents in chunk order of first appearance."""
        if self._documents is None:
            self._documents = Documents(self.owners)
        return self._documents

    def bm25_scores(self, queries: list[str]) -> Any:
        """Qdrant Edge BM25 scores of every chunk for each query."""
        if self._bm25 is None:
            self._bm25 = Bm25Scorer(self.texts)
        return self._bm25.scores(queries)


class Dense:
    """The dense side: the product's embedder, or (--dense-model) another sentence-transformers folder.

    Chunks are always the product's; only their vectors (cached under the folder's name and digest) change.
    """

    def __init__(self, embedder: Any, model_dir: Path | None = None) -> None:
        self._embedder, self._dir, self._model = embedder, model_dir, None
        if model_dir:
            self.suffix = f"-{model_dir.name}-{_folder_digest(model_dir)}"
        else:  # the product's embedder: MiniLM's float32 vectors keep the old cache name, others their own
            self.suffix = _model_tag(embedder) + ("" if embedder.dtype == "float32" else f"-{embedder.dtype}")

    def embed_documents(self, texts: list[str]) -> Any:
        if self._dir is None:
            return self._embedder.embed_documents(texts)
        return self._folder_model().encode_document(texts, batch_size=8, normalize_embeddings=True)

    def embed_queries(self, texts: list[str]) -> Any:
        if self._dir is None:
            return self._embedder.embed_queries(texts)
        return self._folder_model().encode_query(texts, batch_size=8, normalize_embeddings=True)

    def _folder_model(self) -> Any:
        if self._model is None:  # loaded once, for the queries and every chunking that needs vectors
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self._dir), device="cpu", local_files_only=True)
        return self._model


def _model_tag(embedder: Any) -> str:
    """Names cache files after the product's embedder; empty for MiniLM, whose files came first."""
    from ingest.embed_models import MINILM_ID

    return "" if embedder.model_id == MINILM_ID else "-" + embedder.model_id.rsplit("/", 1)[-1]


def with_dtype(settings: Any, dtype: str) -> Any:
    """Settings with embedding.dtype replaced."""
    return settings.model_copy(update={"embedding": settings.embedding.model_copy(update={"dtype": dtype})})


def _query_vectors(path: Path, dense: Dense, queries: list[str]) -> Any:
    """The queries' vectors on one dense side, embedded once and cached at `path`."""
    import numpy as np

    if not path.is_file():
        np.save(path, np.asarray(dense.embed_queries(queries), dtype="float32"))
    return np.load(path)


def _folder_digest(folder: Path) -> str:
    """A short digest of a model folder's place and files (names and sizes): another model, another cache."""
    root = folder.resolve()
    files = sorted((str(f.relative_to(root)), f.stat().st_size) for f in root.rglob("*") if f.is_file())
    return hashlib.sha256(json.dumps([str(root), files]).encode()).hexdigest()[:8]


class Bm25Scorer:
    """Qdrant Edge's BM25 weights over a list of texts, IDF over those texts (as the store's modifier)."""

    def __init__(self, texts: list[str]) -> None:
        import numpy as np
        import scipy.sparse as sp

        from ingest.embed import Bm25Encoder

        self._encoder = Bm25Encoder()
        rows, cols, vals, vocab = [], [], [], {}
        for i, text in enumerate(texts):
            v = self._encoder.embed_document(text)
            for idx, val in zip(v.indices, v.values, strict=True):
                rows.append(i)
                cols.append(vocab.setdefault(idx, len(vocab)))
                vals.append(val)
        self._matrix = sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(vocab))).tocsc()
        df = np.bincount(cols, minlength=len(vocab))
        self._idf = np.log(1 + (len(texts) - df + 0.5) / (df + 0.5))
        self._vocab = vocab

    def scores(self, queries: list[str]) -> Any:
        """One row of scores per query."""
        import numpy as np

        out = np.zeros((len(queries), self._matrix.shape[0]), dtype="float32")
        for j, text in enumerate(queries):
            cols = [self._vocab[x] for x in self._encoder.embed_query(text).indices if x in self._vocab]
            if cols:
                out[j] = np.asarray(self._matrix[:, cols] @ self._idf[cols]).ravel()
        return out


def _chunk(docs: list[Any], embedder: Any, chunk_tokens: int, title_on_every_chunk: bool) -> tuple[list[str], list[str]]:
    from ingest.chunk import chunk_document
    from rag.eval.scratch import eval_document

    texts, owners = [], []
    for d in docs:
        title = d.title.strip()
        for p in chunk_document(eval_document(d.title, d.text, d.doc_id), embedder.token_ids, chunk_tokens, 32):
            text = f"{title}\n\n{p.text}" if title_on_every_chunk and title and not p.text.startswith(title) else p.text
            texts.append(text)
            owners.append(d.doc_id)
    return texts, owners


def _top(scores: Any, k: int) -> Any:
    import numpy as np

    if k >= len(scores):
        return np.argsort(-scores)
    idx = np.argpartition(-scores, k)[:k]
    return idx[np.argsort(-scores[idx])]


def fused_order(v: Variant, dense: Any, sparse: Any) -> list[int]:
    """Indices (of chunks, or of documents when the scores are per document) best first, fused as `v` says."""
    from ingest.index.base import fuse_convex

    d_idx, s_idx = _top(dense, v.prefetch), _top(sparse, v.prefetch)
    s_idx = s_idx[sparse[s_idx] > 0]  # BM25 only returns chunks that share a term
    weights = (v.dense_weight, 1 - v.dense_weight)
    if v.mode == "convex" and v.norm == "minmax":  # the product's own fusion
        candidates = ([(int(c), float(dense[c])) for c in d_idx], [(int(c), float(sparse[c])) for c in s_idx])
        return [c for c, _ in fuse_convex(*candidates, weights)[: 2 * DEPTH]]
    fused: dict[int, float] = {}
    # Each list with its score's theoretical floor: cosine -1, BM25 0 (used by the "theory" norm).
    for idx, scores, weight, floor in ((d_idx, dense, weights[0], -1.0), (s_idx, sparse, weights[1], 0.0)):
        if v.mode == "rrf":
            for r, c in enumerate(idx):
                fused[c] = fused.get(c, 0.0) + weight / (60 + r + 1)
        elif len(idx) and v.norm == "theory":  # absent from one list: that list's floor (0)
            scaled = (scores[idx] - floor) / ((float(scores[idx].max()) - floor) or 1.0)
            for c, x in zip(idx, scaled, strict=True):
                fused[c] = fused.get(c, 0.0) + weight * float(x)
        elif len(idx):  # z-score: a candidate absent from one list gets that list's mean (0)
            z = (scores[idx] - scores[idx].mean()) / (float(scores[idx].std()) or 1.0)
            for c, x in zip(idx, z, strict=True):
                fused[c] = fused.get(c, 0.0) + weight * float(x)
    return sorted(fused, key=lambda c: -fused[c])[: 2 * DEPTH]


def rank(v: Variant, corpus: Corpus, query: Query) -> list[str]:
    """One query's document ranking under variant `v` (per chunk: each document at its best chunk's rank)."""
    from rag.eval.metrics import dedupe_docs

    dense, sparse = query.dense, query.sparse
    if v.windows:
        dense = (dense + query.windows) / 2
    if v.mode in ("dense", "bm25"):
        return dedupe_docs(list(corpus.owner[_top(dense if v.mode == "dense" else sparse, 2 * DEPTH)]))[:DEPTH]
    if v.feedback:
        dense = feedback_dense(corpus, query.vector, dense, sparse, *v.feedback)
    if v.per_document:
        docs = corpus.documents()
        dense = docs.max_per_document(dense)
        sparse = query.document_sparse if v.per_document == "bm25_doc" else docs.max_per_document(sparse)
        return [docs.ids[i] for i in fused_order(v, dense, sparse)][:DEPTH]
    return dedupe_docs(list(corpus.owner[fused_order(v, dense, sparse)]))[:DEPTH]


def feedback_dense(corpus: Corpus, vector: Any, dense: Any, sparse: Any, m: int, beta: float) -> Any:
    """Dense scores after Rocchio feedback: the query vector plus beta x the mean of the default fusion's top m chunks."""
    import numpy as np

    first = fused_order(DEFAULT, dense, sparse)[:m]
    moved = vector + beta * corpus.dense[first].mean(axis=0)
    return corpus.dense @ (moved / np.linalg.norm(moved))


@dataclass
class Query:
    """One query's vector and its scores against every chunk (and, for BM25, every whole document)."""

    vector: Any
    dense: Any
    sparse: Any
    document_sparse: Any = None
    windows: Any = None  # each chunk's best window cosine (variants with `windows`)


class Documents:
    """The documents behind a corpus's chunks, for fusing per document."""

    def __init__(self, owners: list[str]) -> None:
        import numpy as np

        self.ids = list(dict.fromkeys(owners))
        position = {d: i for i, d in enumerate(self.ids)}
        self._of_chunk = np.asarray([position[o] for o in owners])

    def max_per_document(self, chunk_scores: Any) -> Any:
        """Each document's best chunk score."""
        import numpy as np

        out = np.full(len(self.ids), -np.inf, dtype="float32")
        np.maximum.at(out, self._of_chunk, chunk_scores)
        return out


def per_query(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, list[float]]:
    """Each metric per judged query, in qrels order."""
    from rag.eval.metrics import query_metrics

    rows = [query_metrics(run.get(q, []), judged) for q, judged in qrels.items()]
    return {name: [row[name] for row in rows] for name in rows[0]}


def paired_interval(a: list[float], b: list[float], seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of mean(a - b) over queries resampled together."""
    import numpy as np

    diff = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(seed)
    means = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(BOOTSTRAP)]
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


@dataclass
class Probe:
    """What a probe script over this cache needs: the judged queries, their vectors and the product's chunks."""

    name: str  # dataset and split, for the table's title
    qrels: dict[str, dict[str, int]]
    qids: list[str]
    queries: list[str]
    qvecs: Any
    corpus: Corpus  # the default chunking (256 tokens, no title)
    docs: list[Any]
    embedder: Any  # the product's, in the configured dtype
    dense_side: Dense
    cache: Path
    query_tag: str  # names the cached query vectors


def dataset_args(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The dataset and cache options every script over this cache takes."""
    ap.add_argument("--beir", type=Path, required=True)
    ap.add_argument("--split", default="train")
    ap.add_argument("--qrels", type=Path)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "enclave-tune")
    return ap


def load_probe(args: argparse.Namespace, embedder: Any, dense_side: Dense) -> Probe:
    """The judged queries of --beir/--split (or --qrels), their vectors and the default chunks, cached."""
    from rag.eval.beir import load_beir
    from rag.eval.scratch import corpus_digest

    data = load_beir(args.beir, args.qrels, args.split)
    qrels = {q: j for q, j in data.qrels.items() if any(r > 0 for r in j.values())}
    qids = list(qrels)
    queries = [data.queries[q] for q in qids]
    cache = args.cache / f"{args.beir.name}-{corpus_digest(data.docs)[:12]}"
    cache.mkdir(parents=True, exist_ok=True)
    query_tag = hashlib.sha256(json.dumps(qids).encode()).hexdigest()[:12]
    qvecs = _query_vectors(cache / f"queries-{query_tag}{dense_side.suffix}.npy", dense_side, queries)
    corpus = Corpus(cache, data.docs, embedder, DEFAULT.chunk_tokens, False, dense_side)
    split = args.qrels.name if args.qrels else args.split
    return Probe(f"{args.beir.name} {split}", qrels, qids, queries, qvecs, corpus, data.docs, embedder, dense_side, cache, query_tag)


def probe_setup(description: str) -> Probe:
    """Parse the dataset options and load them with the product's embedder (a probe script's first step)."""
    from enclave.settings import load_settings
    from enclave.wiring import build_embedder

    args = dataset_args(argparse.ArgumentParser(description=description)).parse_args()
    embedder = build_embedder(load_settings())
    return load_probe(args, embedder, Dense(embedder))


def print_probe(probe: Probe, rows: dict[str, tuple[Any, Any]]) -> None:
    """Rank each row's (dense, BM25) chunk scores with the default fusion; the first row is the baseline."""
    import numpy as np

    print(f"\n{probe.name}: {len(probe.qids)} judged queries\n")
    print("| variant | nDCG@10 | vs first row (95% interval) | R@100 |")
    print("|---|---|---|---|")
    base = None
    for name, (dense, sparse) in rows.items():
        run = {q: rank(DEFAULT, probe.corpus, Query(probe.qvecs[j], dense[j], sparse[j])) for j, q in enumerate(probe.qids)}
        per = per_query(run, probe.qrels)
        shown = "—"
        if base is None:
            base = per["ndcg@10"]
        else:
            lo, hi = paired_interval(per["ndcg@10"], base)
            shown = f"{float(np.mean(per['ndcg@10']) - np.mean(base)):+.4f} ({lo:+.4f} … {hi:+.4f})"
        print(f"| {name} | {np.mean(per['ndcg@10']):.4f} | {shown} | {np.mean(per['recall@100']):.4f} |")


def main() -> None:
    """Score the variants and print a Markdown table (and --out JSON)."""
    import numpy as np

    from enclave.settings import load_settings
    from enclave.wiring import build_embedder

    ap = dataset_args(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    ap.add_argument("--variants", choices=["core", "all"], default="all")
    ap.add_argument("--dense-model", type=Path, help="a sentence-transformers folder for the dense side (default: the product's)")
    ap.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], help="embedding.dtype for the dense side")
    ap.add_argument("--versus-dtype", choices=["float32", "bfloat16"], help="also score the default and dense alone in this dtype")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    settings = load_settings()
    embedder = build_embedder(with_dtype(settings, args.dtype) if args.dtype else settings)
    dense_side = Dense(embedder, args.dense_model)
    probe = load_probe(args, embedder, dense_side)
    qrels, qids, queries, qvecs, cache, docs = probe.qrels, probe.qids, probe.queries, probe.qvecs, probe.cache, probe.docs

    variants = CORE + (MORE if args.variants == "all" else [])
    corpora: dict[tuple[int, bool], Corpus] = {(DEFAULT.chunk_tokens, False): probe.corpus}
    scores: dict[tuple[int, bool], tuple[Any, Any]] = {}
    document_sparse = None
    window_scores: dict[tuple[int, bool, int], Any] = {}
    results: dict[str, dict[str, list[float]]] = {}
    for v in variants:
        key = (v.chunk_tokens, v.title_on_every_chunk)
        if key not in scores:
            if key not in corpora:
                corpora[key] = Corpus(cache, docs, embedder, *key, dense_side)
            scores[key] = (qvecs @ corpora[key].dense.T, corpora[key].bm25_scores(queries))
        if v.per_document == "bm25_doc" and document_sparse is None:
            ids = corpora[key].documents().ids
            whole = {d.doc_id: f"{d.title.strip()}\n\n{d.text.strip()}".strip() for d in docs}
            document_sparse = Bm25Scorer([whole[i] for i in ids]).scores(queries)
        if v.windows and (*key, v.windows) not in window_scores:
            window_scores[(*key, v.windows)] = corpora[key].best_window_scores(v.windows, qvecs)
        windows = window_scores.get((*key, v.windows))
        dense, sparse = scores[key]
        run = {
            q: rank(v, corpora[key], Query(
                qvecs[j], dense[j], sparse[j], None if document_sparse is None else document_sparse[j],
                None if windows is None else windows[j],
            ))
            for j, q in enumerate(qids)
        }
        results[v.name] = per_query(run, qrels)
    if args.versus_dtype:
        other = Dense(build_embedder(with_dtype(settings, args.versus_dtype)))
        other_qvecs = _query_vectors(cache / f"queries-{probe.query_tag}{other.suffix}.npy", other, queries)
        corpus = Corpus(cache, docs, embedder, DEFAULT.chunk_tokens, False, other)
        # The same chunks as the default row's: only the dense side changes, its BM25 scores are reused.
        dense, sparse = other_qvecs @ corpus.dense.T, scores[(DEFAULT.chunk_tokens, False)][1]
        for v in (DEFAULT, Variant("dense only", mode="dense")):
            run = {q: rank(v, corpus, Query(other_qvecs[j], dense[j], sparse[j])) for j, q in enumerate(qids)}
            results[f"{v.name.removesuffix(' (default)')}, dense side in {args.versus_dtype}"] = per_query(run, qrels)

    base = results[DEFAULT.name]["ndcg@10"]
    split = args.qrels.name if args.qrels else args.split
    model = args.dense_model.name if args.dense_model else f"the product's embedder ({embedder.dtype})"
    print(f"\n{args.beir.name} {split}: {len(qids)} judged queries, {len(docs)} documents; dense side: {model}\n")
    print("| variant | nDCG@10 | R@10 | R@100 | MRR@10 | nDCG@10 vs default (95% interval) |")
    print("|---|---|---|---|---|---|")
    table = []
    for name, per in results.items():
        means = {k: float(np.mean(v)) for k, v in per.items()}
        lo, hi = paired_interval(per["ndcg@10"], base)
        delta = means["ndcg@10"] - float(np.mean(base))
        table.append({"variant": name, **means, "delta_ndcg@10": delta, "interval": [lo, hi]})
        shown = "—" if name == DEFAULT.name else f"{delta:+.4f} ({lo:+.4f} … {hi:+.4f})"
        print(f"| {name} | {means['ndcg@10']:.4f} | {means['recall@10']:.4f} | {means['recall@100']:.4f} | {means['mrr@10']:.4f} | {shown} |")
    if args.out:
        args.out.write_text(json.dumps({"dataset": args.beir.name, "split": split, "queries": len(qids), "rows": table}, indent=2))


if __name__ == "__main__":
    main()
