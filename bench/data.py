"""Benchmark inputs: the shared evaluation data when present, generated text otherwise (CI)."""

from __future__ import annotations

import json
import random
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SCIFACT = SHARED / "scifact"
EXAMPLE_DOCS = SHARED / "example-docs"

_WORDS = (
    "patient record consent audit policy retention ward clinic invoice ledger account transfer report "
    "review board member quarter budget risk control access label storage backup incident response "
    "training schedule shift nurse doctor claim payment contract supplier license server network"
).split()


def synthetic_texts(n: int, words: int = 120, seed: int = 7) -> list[str]:
    """`n` paragraphs of plausible office vocabulary (for machines without the shared data)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        body = " ".join(rng.choice(_WORDS) for _ in range(words))
        out.append(f"Document {i}. {body.capitalize()}.")
    return out


def corpus_texts(n: int) -> tuple[list[tuple[str, str, str]], str]:
    """Up to `n` documents (id, title, text): SciFact abstracts when present, else generated ones."""
    path = SCIFACT / "corpus.jsonl"
    if path.is_file():
        docs = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                docs.append((str(d["_id"]), str(d.get("title") or ""), str(d.get("text") or "")))
                if len(docs) >= n:
                    break
        return docs, "scifact"
    return [(str(i), f"Document {i}", t) for i, t in enumerate(synthetic_texts(n))], "synthetic"


def query_texts(n: int) -> list[str]:
    """`n` questions: SciFact claims when present, else generated ones."""
    path = SCIFACT / "queries.jsonl"
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()[:n]
        return [json.loads(line)["text"] for line in lines]
    rng = random.Random(11)
    return [" ".join(rng.choice(_WORDS) for _ in range(8)) + "?" for _ in range(n)]


def write_docs(folder: Path, n: int) -> Path:
    """A folder of small Markdown and text files for an ingest run without the shared data."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(synthetic_texts(n, words=400)):
        suffix = ".md" if i % 2 else ".txt"
        (folder / f"doc{i:03d}{suffix}").write_text(f"# Document {i}\n\n{text}\n")
    return folder
