"""A scratch corpus for an evaluation: one file per document, a reader for them, and the key that reuses it.

The composition root (`enclave/eval_wiring.py`) places it under ENCLAVE_HOME/eval/<key>, where the key hashes the
corpus and everything that shapes the index, and ingests it with the product's own route (`ingest_folder`)
using `parse_eval_doc` instead of unstructured. A rerun with the same corpus and configuration reuses it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.parse import Element, ParsedDocument
from ingest.pipeline import IngestReport
from ingest.schema import SCHEMA_VERSION

EVAL_USER = "eval"
DOCS_DIR = "docs"
_DONE = "complete.json"
EVAL_POLICY = """\
# Written by enclave eval: one user who may read the whole evaluation corpus.
version: 1
question_logging: hash
users:
  eval: {groups: [everyone], roles: [user]}
groups:
  everyone: {description: The evaluation user}
labels:
  - match: "**"
    labels: [eval]
grants:
  - group: everyone
    labels: [eval]
"""


@dataclass(frozen=True)
class EvalDoc:
    """One evaluation document: its id in the dataset, a title and the text."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class ScratchCorpus:
    """A scratch home's folder and the dataset id of each document file in it."""

    home: Path
    doc_ids: tuple[str, ...]

    @property
    def docs_dir(self) -> Path:
        """The folder of document files that is ingested."""
        return self.home / DOCS_DIR

    @property
    def complete(self) -> bool:
        """True once an ingest of this corpus finished (its index can be reused)."""
        return (self.home / _DONE).exists()

    def doc_of(self, source: str) -> str:
        """The dataset id of the document a chunk came from (`docs/0000042.json` -> ids[42])."""
        return self.doc_ids[int(Path(source).stem)]


def index_key(corpus_digest: str, embedding: Mapping[str, Any], chunking: Mapping[str, Any]) -> str:
    """Hash of the corpus and of every setting that changes what the index holds (settings as plain JSON values)."""
    from ingest.embed import Bm25Encoder

    shape = {
        "corpus": corpus_digest,
        "schema": SCHEMA_VERSION,
        "embedding": dict(embedding),
        "chunking": dict(chunking),
        "bm25": Bm25Encoder().params(),
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def corpus_digest(docs: Sequence[EvalDoc]) -> str:
    """Content hash of a corpus in its order."""
    h = hashlib.sha256()
    for d in docs:
        h.update(json.dumps([d.doc_id, d.title, d.text]).encode())
    return h.hexdigest()


def write_corpus(home: Path, docs: Sequence[EvalDoc], policy_dir: Path) -> ScratchCorpus:
    """Write the eval policy and one file per document under `home`, unless a complete ingest is already there."""
    corpus = ScratchCorpus(home=Path(home), doc_ids=tuple(d.doc_id for d in docs))
    if not corpus.complete:
        corpus.docs_dir.mkdir(parents=True, exist_ok=True)
        policy_dir.mkdir(parents=True, exist_ok=True)
        (policy_dir / "policy.yaml").write_text(EVAL_POLICY)
        for i, d in enumerate(docs):
            (corpus.docs_dir / f"{i:07d}.json").write_text(json.dumps({"_id": d.doc_id, "title": d.title, "text": d.text}))
    return corpus


def parse_eval_doc(path: Path) -> ParsedDocument:
    """A document file written by `prepare`: the title as a Title element, the text as one paragraph."""
    data = json.loads(Path(path).read_text())
    return eval_document(str(data.get("title") or ""), str(data.get("text") or ""), fallback_title=Path(path).stem)


def eval_document(title: str, text: str, fallback_title: str) -> ParsedDocument:
    """An evaluation document as the chunker sees it: the title as a Title element, the text as one paragraph."""
    from ingest.errors import EmptyDocument

    title, text = title.strip(), text.strip()
    section = title[:200] or None
    elements = []
    if title:
        elements.append(Element(text=title, category="Title", page=None, section=section))
    if text:
        elements.append(Element(text=text, category="NarrativeText", page=None, section=section))
    if not elements:
        raise EmptyDocument("empty evaluation document")
    return ParsedDocument(elements=tuple(elements), pages=None, title=title[:200] or fallback_title)


def mark_complete(corpus: ScratchCorpus, report: IngestReport) -> None:
    """Record that the corpus is ingested, with what the ingest counted (read back by `scratch_summary`)."""
    (corpus.home / _DONE).write_text(json.dumps(_report_summary(report)))


def _report_summary(report: IngestReport) -> dict[str, Any]:
    return {
        "documents": len(report.ingested) + len(report.changed) + report.unchanged,
        "failed": len(report.failed),
        "chunks": report.chunks_written,
        "seconds": {k: round(v, 2) for k, v in report.seconds.items()},
    }


def scratch_summary(corpus: ScratchCorpus) -> dict[str, Any]:
    """What the ingest of this scratch home recorded (documents, chunks, seconds)."""
    done = corpus.home / _DONE
    return json.loads(done.read_text()) if done.exists() else {}
