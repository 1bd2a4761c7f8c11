"""Dense embeddings (sentence-transformers) and BM25 sparse vectors for passages and queries."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ingest.offline import enforce_offline_env
from ingest.schema import SparseVec


class DenseEmbedder(Protocol):
    """Turns text into dense vectors; also counts tokens the way the model does."""

    model_id: str

    @property
    def dim(self) -> int:
        """Vector size."""

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for passages."""

    def embed_query(self, text: str) -> list[float]:
        """Vector for one question."""

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for questions (a model with a query prompt embeds them apart from passages)."""

    def token_ids(self, text: str) -> list[int]:
        """The model's tokens for `text` (for token-bounded chunking)."""


# CPU flags (Linux /proc/cpuinfo) for bf16 arithmetic in hardware: AVX512-BF16 (Zen 4, Cooper Lake and
# later Xeons) or AMX (Sapphire Rapids and later). Without them torch emulates bf16, >7x slower than fp32.
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes in bf16 natively (read from the kernel's CPU flags; False where unknown)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(_BF16_FLAGS & set(line.partition(":")[2].split()))
    return False


def resolve_dtype(dtype: str) -> str:
    """The dtype to embed in: "auto" is bfloat16 on a CPU with native bf16, float32 elsewhere."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if native_bf16() else "float32"


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory, never from a hub."""

    def __init__(self, model_id: str, model_path: Path, dtype: str = "float32", batch_size: int = 8) -> None:
        self.model_id = model_id
        self._path = Path(model_path)
        self.dtype = resolve_dtype(dtype)
        self._batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None

    def warm_up(self) -> None:
        """Load the model (seconds); called before the first use."""
        if self._model is not None:
            return
        enforce_offline_env()
        import torch
        from sentence_transformers import SentenceTransformer

        dtype = torch.bfloat16 if self.dtype == "bfloat16" else torch.float32
        # Loaded straight into the dtype: no fp32 copy first (EmbeddingGemma: 285 MiB less at the peak, same vectors).
        model = SentenceTransformer(str(self._path), device="cpu", local_files_only=True, model_kwargs={"dtype": dtype})
        self._model = model.to(dtype)  # the Dense layers after the transformer too

    @property
    def dim(self) -> int:
        """Vector size, read from the model's config (no model load): the last Dense layer's, else the pooling's."""
        import json

        size = json.loads((self._path / "1_Pooling" / "config.json").read_text())["word_embedding_dimension"]
        modules = self._path / "modules.json"
        for module in json.loads(modules.read_text()) if modules.is_file() else []:
            if module["type"].endswith(".Dense"):  # EmbeddingGemma: 768 -> 3072 -> 768
                size = json.loads((self._path / module["path"] / "config.json").read_text())["out_features"]
        return int(size)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalized vectors for passages (with the model's document prompt, if it has one)."""
        return self._embed(texts, "document")

    def embed_query(self, text: str) -> list[float]:
        """Normalized vector for one question."""
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalized vectors for questions (with the model's query prompt, if it has one)."""
        return self._embed(texts, "query")

    def _embed(self, texts: Sequence[str], role: str) -> list[list[float]]:
        self.warm_up()
        if not texts:
            return []
        import numpy as np

        # sentence-transformers prepends the model's "query"/"document" prompt (EmbeddingGemma's
        # "task: search result | query: " and "title: none | text: "); MiniLM has none.
        encode = self._model.encode_query if role == "query" else self._model.encode_document
        vectors = encode(list(texts), batch_size=self._batch_size, convert_to_numpy=True).astype("float32")
        # Unit length in float32, after the cast: normalised in bf16, a length is off by about 0.1%.
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.tolist()

    def token_ids(self, text: str) -> list[int]:
        """The model's token ids without special tokens (fast tokenizer only, no model load)."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()  # the bundled tokenizer.json pads to 128, which would inflate counts
        return self._tokenizer.encode(text, add_special_tokens=False).ids


# BM25 term saturation, length normalisation and the average chunk length in words
# (Qdrant's tokenizer). Tuned on SciFact train (bench/RESULTS.md).
BM25_K = 1.2
BM25_B = 0.75
BM25_AVG_LEN = 256.0


class Bm25Encoder:
    """BM25 term weights from Qdrant's own tokenizer; IDF is applied inside the index."""

    def __init__(self, k: float = BM25_K, b: float = BM25_B, avg_len: float = BM25_AVG_LEN) -> None:
        self._k = k
        self._b = b
        self._avg_len = avg_len
        self._bm25: Any = None

    def params(self) -> dict[str, float]:
        """The BM25 parameters (they shape what the index stores, so eval hashes them)."""
        return {"k": self._k, "b": self._b, "avg_len": self._avg_len}

    def _model(self) -> Any:
        if self._bm25 is None:
            import qdrant_edge as q

            self._bm25 = q.Bm25(q.Bm25Config(k=self._k, b=self._b, avg_len=self._avg_len))
        return self._bm25

    def embed_document(self, text: str) -> SparseVec:
        """Sparse vector for a passage."""
        v = self._model().embed_document(text)
        return SparseVec(indices=list(v.indices), values=list(v.values))

    def embed_query(self, text: str) -> SparseVec:
        """Sparse vector for a question."""
        v = self._model().embed_query(text)
        return SparseVec(indices=list(v.indices), values=list(v.values))
