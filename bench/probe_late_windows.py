"""Windows pooled from each chunk's own token vectors ("late chunking"): the twelfth session's window gain for free?

The twelfth session scored each chunk's dense side at the mean of its cosine and its best ~64-token window's,
each window embedded separately: +0.0093 nDCG@10 on SciFact train (interval above zero), but 1.6x the chunks'
embedding time again at every ingest, and −0.0037 on test. Here the windows cost no encoder pass: the chunk is
encoded once, as the product does, and each window is the mean of the chunk's own token vectors over a span of
w tokens (stride w/2). The chunk's dense score becomes (1 - a) x its cosine + a x its best window's; BM25 and the
fusion are the default's. The pooled vectors are cached beside tune_retrieval.py's.

    .venv/bin/python bench/tune_retrieval.py --beir ../shared/data/scifact --split train   # fills the cache first
    .venv/bin/python bench/probe_late_windows.py --beir ../shared/data/scifact --split train
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPANS = (16, 32, 64, 96)  # window widths in tokens, each at a stride of half its width


def pooled_windows(texts: list[str], embedder: Any, batch: int = 256) -> dict[int, tuple[Any, Any]]:
    """For each width: (unit window vectors, the index of each window's chunk)."""
    import numpy as np

    embedder.warm_up()
    model = embedder._model  # the loaded sentence-transformers model, in the configured dtype
    out: dict[int, tuple[list[Any], list[int]]] = {w: ([], []) for w in SPANS}
    started = time.perf_counter()
    for s in range(0, len(texts), batch):
        for i, tokens in enumerate(model.encode(texts[s:s + batch], batch_size=8, output_value="token_embeddings")):
            body = tokens.float().numpy()[1:-1]  # without [CLS] and [SEP]
            for w in SPANS:
                starts = list(range(0, max(len(body) - w, 0) + 1, w // 2))
                if starts[-1] + w < len(body):
                    starts.append(len(body) - w)  # the tail, so no token is left out
                for a in starts:
                    v = body[a:a + w].mean(axis=0)
                    out[w][0].append(v / np.linalg.norm(v))
                    out[w][1].append(s + i)
        print(f"{min(s + batch, len(texts))} of {len(texts)} chunks, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return {w: (np.asarray(v, dtype="float32"), np.asarray(p)) for w, (v, p) in out.items()}


def main() -> None:
    import numpy as np

    from bench.tune_retrieval import print_probe, probe_setup

    probe = probe_setup(__doc__.split("\n\n")[0])
    corpus = probe.corpus
    path = probe.cache / f"late-windows-{'-'.join(map(str, SPANS))}{probe.dense_side.suffix}.npz"
    if not path.is_file():
        windows = pooled_windows(corpus.texts, probe.embedder)
        np.savez(path, **{f"v{w}": v for w, (v, _) in windows.items()}, **{f"p{w}": p for w, (_, p) in windows.items()})
    saved = np.load(path)

    def best(w: int) -> Any:
        """Each query's best window cosine per chunk."""
        out = np.full((len(probe.qids), len(corpus.texts)), -np.inf, dtype="float32")
        for j, row in enumerate(probe.qvecs @ saved[f"v{w}"].T):
            np.maximum.at(out[j], saved[f"p{w}"], row)
        return out

    dense, sparse = probe.qvecs @ corpus.dense.T, corpus.bm25_scores(probe.queries)
    rows = {
        "default": (dense, sparse),
        "separately embedded 64-token windows, a 0.5 (twelfth session)": ((dense + corpus.best_window_scores(64, probe.qvecs)) / 2, sparse),
    }
    for w in SPANS:
        b = best(w)
        for a in (0.3, 0.5):
            rows[f"pooled {w}-token windows, a {a}"] = ((1 - a) * dense + a * b, sparse)
    print_probe(probe, rows)


if __name__ == "__main__":
    main()
