"""A scratch Enclave home for an evaluation corpus, built with the product's own ingest route.

Documents are written one file each and ingested by `ingest_folder` (chunk, embed, BM25, write,
manifest) with a parser that reads the file back instead of unstructured. The scratch home sits under
ENCLAVE_HOME/eval/<key>, where the key hashes the corpus and everything that shapes the index, so a
rerun with the same corpus and configuration reuses it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from enclave.settings import Settings
from ingest.parse import Element, ParsedDocument
from ingest.pipeline import IngestReport, Progress
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
class Scratch:
    """A prepared scratch home: its settings and the dataset id of each document file."""

    settings: Settings
    doc_ids: tuple[str, ...]

    def doc_of(self, source: str) -> str:
        """The dataset id of the document a chunk came from (`docs/0000042.json` -> ids[42])."""
        return self.doc_ids[int(Path(source).stem)]


def index_key(settings: Settings, corpus_digest: str) -> str:
    """Hash of the corpus and of every setting that changes what the index holds."""
    from ingest.embed import Bm25Encoder

    shape = {
        "corpus": corpus_digest,
        "schema": SCHEMA_VERSION,
        "embedding": settings.embedding.model_dump(mode="json"),
        "chunking": settings.chunking.model_dump(mode="json"),
        "bm25": Bm25Encoder().params(),
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def corpus_digest(docs: Sequence[EvalDoc]) -> str:
    """Content hash of a corpus in its order."""
    h = hashlib.sha256()
    for d in docs:
        h.update(json.dumps([d.doc_id, d.title, d.text]).encode())
    return h.hexdigest()


def prepare(settings: Settings, docs: Sequence[EvalDoc]) -> Scratch:
    """Create (or find) the scratch home for `docs`: settings, policy and one file per document."""
    home = Path(settings.home) / "eval" / index_key(settings, corpus_digest(docs))
    # Always an embedded Edge store: an evaluation must never write into a site's Qdrant server.
    index = settings.index.model_copy(update={"backend": "edge"})
    scratch = settings.model_copy(update={"home": home, "policy_path": "", "audit_key_file": "", "index": index})
    folder = home / DOCS_DIR
    if not (home / _DONE).exists():
        folder.mkdir(parents=True, exist_ok=True)
        scratch.policy_dir.mkdir(parents=True, exist_ok=True)
        (scratch.policy_dir / "policy.yaml").write_text(EVAL_POLICY)
        for i, d in enumerate(docs):
            (folder / f"{i:07d}.json").write_text(json.dumps({"_id": d.doc_id, "title": d.title, "text": d.text}))
    return Scratch(settings=scratch, doc_ids=tuple(d.doc_id for d in docs))


def parse_eval_doc(path: Path) -> ParsedDocument:
    """A document file written by `prepare`: the title as a Title element, the text as one paragraph."""
    from ingest.errors import EmptyDocument

    data = json.loads(Path(path).read_text())
    title = str(data.get("title") or "").strip()
    text = str(data.get("text") or "").strip()
    section = title[:200] or None
    elements = []
    if title:
        elements.append(Element(text=title, category="Title", page=None, section=section))
    if text:
        elements.append(Element(text=text, category="NarrativeText", page=None, section=section))
    if not elements:
        raise EmptyDocument("empty evaluation document")
    return ParsedDocument(elements=tuple(elements), pages=None, title=title[:200] or Path(path).stem)


def ingest_scratch(scratch: Scratch, on_progress: Callable[[Progress], None] | None = None) -> IngestReport | None:
    """Ingest the scratch corpus with the product's route; None when a complete index was reused."""
    from enclave.wiring import build_embedder, ingest_deps, open_index
    from ingest.pipeline import ingest_folder

    settings = scratch.settings
    done = settings.home / _DONE
    if done.exists():
        return None
    embedder = build_embedder(settings)
    index = open_index(settings, embedder)
    try:
        deps = replace(ingest_deps(settings, index, embedder), parse=parse_eval_doc)
        try:
            report = ingest_folder(settings.home / DOCS_DIR, deps, on_progress)
        finally:
            deps.manifest.close()
    finally:
        index.close()
    done.write_text(json.dumps(_report_summary(report)))
    return report


def _report_summary(report: IngestReport) -> dict[str, Any]:
    return {
        "documents": len(report.ingested) + len(report.changed) + report.unchanged,
        "failed": len(report.failed),
        "chunks": report.chunks_written,
        "seconds": {k: round(v, 2) for k, v in report.seconds.items()},
    }


def scratch_summary(scratch: Scratch) -> dict[str, Any]:
    """What the ingest of this scratch home recorded (documents, chunks, seconds)."""
    done = scratch.settings.home / _DONE
    return json.loads(done.read_text()) if done.exists() else {}
