"""Does the document title, as a field of its own, help retrieval? A probe over bench/tune_retrieval.py's cache.

Three ways of using the title, each scored on SciFact against the default fusion (paired bootstrap, 95%):
- BM25 over the chunk with the document title prepended, the dense side unchanged (the "title repeated on every
  chunk" row of tune_retrieval.py changes both sides; BM25 gained there and dense lost);
- the dense score as (1 - a) x the chunk's cosine + a x the title's cosine (each title embedded once);
- BM25 of the chunk plus l x BM25 of the title alone (a multi-field BM25, as Anserini's BEIR baseline).

    .venv/bin/python bench/tune_retrieval.py --beir ../shared/data/scifact --split train   # fills the cache first
    .venv/bin/python bench/probe_title_fields.py --beir ../shared/data/scifact --split train
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    import numpy as np

    from bench.tune_retrieval import Bm25Scorer, Corpus, _query_vectors, print_probe, probe_setup

    probe = probe_setup(__doc__.split("\n\n")[0])
    plain = probe.corpus
    titled = Corpus(probe.cache, probe.docs, probe.embedder, 256, True, probe.dense_side)  # the same chunks, title prepended

    title_of = {d.doc_id: d.title.strip() for d in probe.docs}
    ids = list(dict.fromkeys(plain.owners))
    # Each title embedded once, cached like the queries' vectors.
    title_vectors = _query_vectors(
        probe.cache / f"titles{probe.dense_side.suffix}.npy", probe.dense_side, [title_of[i] or " " for i in ids]
    )
    position = {d: i for i, d in enumerate(ids)}
    chunk_doc = np.asarray([position[o] for o in plain.owners])

    dense = probe.qvecs @ plain.dense.T
    sparse = plain.bm25_scores(probe.queries)
    title_cos = (probe.qvecs @ title_vectors.T)[:, chunk_doc]
    title_bm25 = Bm25Scorer([title_of[i] for i in ids]).scores(probe.queries)[:, chunk_doc]
    print_probe(probe, {
        "default": (dense, sparse),
        "BM25 over title + chunk, dense unchanged": (dense, titled.bm25_scores(probe.queries)),
        **{f"dense {1 - a:.1f} x chunk + {a:.1f} x title cosine": ((1 - a) * dense + a * title_cos, sparse) for a in (0.1, 0.2, 0.3)},
        **{f"BM25 chunk + {lam} x BM25 title": (dense, sparse + lam * title_bm25) for lam in (0.2, 0.5)},
    })


if __name__ == "__main__":
    main()
