"""Apply a policy change to the index: recompute labels from paths and stored metadata; no re-embedding."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from ingest.manifest import Manifest

# A document's labels from its source path and its own metadata ({} when it has none):
# policies.engine.labels_for bound to the current policy. Ingest and relabel both use it.
Labeler = Callable[[str, Mapping[str, str]], tuple[str, ...]]


class LabelWriter(Protocol):
    """The one index operation a relabel needs (EdgeIndex.set_labels)."""

    def set_labels(self, chunk_ids: Sequence[str], labels: Sequence[str]) -> None:
        """Replace the labels of the given chunks."""


@dataclass
class RelabelReport:
    """What `enclave policy apply` changed."""

    documents: int = 0
    documents_changed: list[str] = field(default_factory=list)
    chunks_changed: int = 0
    unlabelled: list[str] = field(default_factory=list)  # documents no rule labels: readable by nobody
    # Documents ingested before Enclave recorded metadata: only path rules apply until they are re-ingested.
    metadata_never_recorded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Plain data for --json and the audit log."""
        return {
            "documents": self.documents,
            "documents_changed": len(self.documents_changed),
            "chunks_changed": self.chunks_changed,
            "unlabelled_documents": len(self.unlabelled),
            "documents_without_recorded_metadata": len(self.metadata_never_recorded),
        }


def relabel(manifest: Manifest, index: LabelWriter, labeler: Labeler) -> RelabelReport:
    """Bring every ingested document's chunk labels in line with the current policy.

    Metadata rules are decided on the properties the manifest kept at ingest: nothing is re-parsed.
    The index is written before the manifest, so a crash in between is repaired by the next run
    (the manifest still shows the old labels and the document is relabelled again).
    """
    report = RelabelReport()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for rec in manifest.all():
        report.documents += 1
        if rec.metadata is None:
            report.metadata_never_recorded.append(rec.source)
        labels = tuple(sorted(labeler(rec.source, rec.metadata or {})))  # no metadata: path rules alone
        if not labels:
            report.unlabelled.append(rec.source)
        if labels == tuple(sorted(rec.labels)):
            continue
        index.set_labels(list(rec.chunk_ids), list(labels))
        manifest.put(replace(rec, labels=labels, updated_at=now))
        report.documents_changed.append(rec.source)
        report.chunks_changed += len(rec.chunk_ids)
    return report
