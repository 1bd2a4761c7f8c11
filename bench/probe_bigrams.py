"""Word pairs on the BM25 side (a phrase signal, as in the sequential dependence model): does it lift the fusion?

The BM25 the index stores scores single terms. A claim such as "vitamin D deficiency raises the risk of ..."
matches an abstract better when "vitamin deficiency" or "raises risk" occur as neighbours, not scattered. Here each
text is cut into words and each word into Qdrant Edge's own BM25 terms (its tokenizer, stop words and stemmer,
one word at a time); neighbouring terms (stop words left out) form pairs, scored with BM25 (the index's k, b and
average length; IDF over the chunks). The chunk's sparse score becomes its term score plus beta x its pair score.
In the product the pairs would go into the same sparse vector, hashed into their own index range, so the index
would need no new field, only a re-ingest. Dense side and fusion are the default's.

    .venv/bin/python bench/tune_retrieval.py --beir ../shared/data/scifact --split train   # fills the cache first
    .venv/bin/python bench/probe_bigrams.py --beir ../shared/data/scifact --split train
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WORD = re.compile(r"[^\W_]+")


class PairScorer:
    """BM25 over neighbouring term pairs of each text."""

    def __init__(self, texts: list[str]) -> None:
        import numpy as np
        import scipy.sparse as sp

        from ingest.embed import BM25_AVG_LEN, BM25_B, BM25_K, Bm25Encoder

        self._encoder, self._terms_of_word = Bm25Encoder(), {}
        self._pairs: dict[tuple[int, int], int] = {}
        rows, cols, vals = [], [], []
        for i, text in enumerate(texts):
            terms = self.terms(text)
            counts: dict[int, int] = {}
            for pair in zip(terms, terms[1:], strict=False):
                col = self._pairs.setdefault(pair, len(self._pairs))
                counts[col] = counts.get(col, 0) + 1
            norm = BM25_K * (1 - BM25_B + BM25_B * len(terms) / BM25_AVG_LEN)
            for col, tf in counts.items():
                rows.append(i)
                cols.append(col)
                vals.append(tf * (BM25_K + 1) / (tf + norm))
        self._matrix = sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self._pairs))).tocsc()
        df = np.bincount(cols, minlength=len(self._pairs))
        self._idf = np.log(1 + (len(texts) - df + 0.5) / (df + 0.5))

    def terms(self, text: str) -> list[int]:
        """The text's BM25 terms in order, each word through the index's own tokenizer (stop words give none)."""
        out: list[int] = []
        for word in WORD.findall(text):
            key = word.lower()
            if key not in self._terms_of_word:
                self._terms_of_word[key] = list(self._encoder.embed_document(word).indices)
            out += self._terms_of_word[key]
        return out

    def scores(self, queries: list[str]) -> Any:
        """One row of pair scores per query."""
        import numpy as np

        out = np.zeros((len(queries), self._matrix.shape[0]), dtype="float32")
        for j, text in enumerate(queries):
            terms = self.terms(text)
            cols = sorted({self._pairs[p] for p in zip(terms, terms[1:], strict=False) if p in self._pairs})
            if cols:
                out[j] = np.asarray(self._matrix[:, cols] @ self._idf[cols]).ravel()
        return out


def main() -> None:
    import time

    from bench.tune_retrieval import print_probe, probe_setup

    probe = probe_setup(__doc__.split("\n\n")[0])
    corpus = probe.corpus
    dense, sparse = probe.qvecs @ corpus.dense.T, corpus.bm25_scores(probe.queries)
    started = time.perf_counter()
    pairs = PairScorer(corpus.texts).scores(probe.queries)
    print(f"pair scores in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    rows = {"default": (dense, sparse)}
    for beta in (0.1, 0.2, 0.3, 0.5, 1.0):
        rows[f"term score + {beta} x pair score"] = (dense, sparse + beta * pairs)
    print_probe(probe, rows)


if __name__ == "__main__":
    main()
