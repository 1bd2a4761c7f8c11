"""Embedded -> Qdrant (qdrant-client local mode) -> embedded keeps ids, payloads, vectors and answers."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from enclave.settings import Settings
from enclave.wiring import build_answerer, build_embedder, build_generator, ingest_deps, open_index, policy_loader
from ingest.index.edge import EdgeIndex
from ingest.index.migrate import MigrationFailed, export, migrate
from ingest.index.server import QdrantServerIndex
from ingest.pipeline import ingest_folder
from policies.engine import principal_for
from tests import corpus

QUESTIONS = [
    "How many days of unused annual leave can be carried over?",
    "Which room hosts the MRI safety training?",
    "When does the new badge system go live?",
]


def build_docs(root: Path) -> Path:
    """Three real files in three formats."""
    corpus.write_docx(root / "hr" / "leave.docx", "Annual leave policy", [
        "Every employee receives 28 days of paid annual leave per calendar year.",
        "Up to 7 days of unused annual leave can be carried over into the next year.",
    ])
    corpus.write_html(root / "clinical" / "training.html", "Mandatory training", [
        "Fire safety training takes place every Monday in the main auditorium.",
        "The MRI safety training is held in room B214 on the second floor of the imaging wing.",
    ])
    corpus.write_eml(root / "it" / "badge.eml", "New badge system",
                     "Dear colleagues,\n\nThe new badge system goes live on 3 March.\n\nIT Services")
    return root


@pytest.fixture
def ingested(settings: Settings, tmp_path: Path) -> Settings:
    """The documents ingested into the embedded store of the test's home."""
    embedder = build_embedder(settings)
    index = open_index(settings, embedder)
    try:
        report = ingest_folder(build_docs(tmp_path / "docs"), ingest_deps(settings, index, embedder))
    finally:
        index.close()
    assert not report.failed
    return settings


def snapshot(index: object) -> dict[str, tuple[object, list[float], list[int]]]:
    """Every chunk id -> (payload, dense vector rounded, sparse indices)."""
    return {
        c.chunk.chunk_id: (c.chunk, [round(x, 5) for x in c.dense], sorted(c.sparse.indices))
        for page in export(index)
        for c in page
    }


@pytest.fixture
def models(ingested: Settings) -> Iterator[dict[str, object]]:
    """The embedder and generator, loaded once per test and released before the interpreter exits."""
    loaded: dict[str, object] = {"embedder": build_embedder(ingested), "generator": build_generator(ingested)}
    yield loaded
    loaded.clear()
    gc.collect()


def answers(settings: Settings, index: object, models: dict[str, object]) -> list[tuple[list[str], str]]:
    """(retrieved ids, answer text) per question, through the real answer route."""
    answerer = build_answerer(settings, index, models["embedder"], models["generator"])  # type: ignore[arg-type]
    principal = principal_for(policy_loader(settings)(), "tester")
    results = []
    for q in QUESTIONS:
        a = answerer.answer(q, principal)
        results.append((a.retrieved_ids, a.text))
    return results


def test_round_trip_keeps_ids_payloads_and_answers(ingested: Settings, tmp_path: Path, models: dict[str, object]) -> None:
    settings = ingested
    edge = EdgeIndex(settings.store_dir)
    meta = edge.read_meta()
    assert meta is not None
    edge.ensure(meta)
    before, counts = snapshot(edge), edge.counts()
    before_answers = answers(settings, edge, models)
    edge.close()
    assert "B214" in before_answers[1][1]

    server, source = QdrantServerIndex("enclave", path=tmp_path / "qdrant"), EdgeIndex(settings.store_dir)
    report = migrate(source, server, sample=1000)
    source.close()
    assert report.copied == len(before) and report.target_counts == counts and report.sampled == len(before)
    assert snapshot(server) == before
    assert answers(settings, server, models) == before_answers  # same ids, same order, same words
    server.close()

    back, source = EdgeIndex(tmp_path / "edge-again"), QdrantServerIndex("enclave", path=tmp_path / "qdrant")
    migrate(source, back)
    source.close()
    assert snapshot(back) == before and back.counts() == counts
    assert answers(settings, back, models) == before_answers
    back.close()


def test_refuses_a_non_empty_target_and_a_missing_source(ingested: Settings, tmp_path: Path) -> None:
    settings = ingested
    def run(source: object, target: object) -> None:
        try:
            migrate(source, target)
        finally:
            for index in (source, target):
                index.close()  # type: ignore[attr-defined]

    run(EdgeIndex(settings.store_dir), QdrantServerIndex("enclave", path=tmp_path / "q"))
    with pytest.raises(MigrationFailed, match="already holds chunks"):
        run(EdgeIndex(settings.store_dir), QdrantServerIndex("enclave", path=tmp_path / "q"))
    with pytest.raises(MigrationFailed, match="does not exist"):
        run(EdgeIndex(tmp_path / "nothing"), QdrantServerIndex("other", path=tmp_path / "q2"))


def test_verification_catches_a_changed_vector(ingested: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy whose vectors differ from the source fails verification (the check can fail)."""
    from ingest.index import migrate as m

    real_fetch = m.fetch

    def tampered(index: object, ids: list[str]) -> dict[str, object]:
        got = real_fetch(index, ids)
        if isinstance(index, QdrantServerIndex):
            first = next(iter(got))
            c = got[first]
            got[first] = type(c)(c.chunk, [-x for x in c.dense], c.sparse)
        return got

    monkeypatch.setattr(m, "fetch", tampered)
    with pytest.raises(MigrationFailed, match="different vectors"):
        migrate(EdgeIndex(ingested.store_dir), QdrantServerIndex("enclave", path=tmp_path / "q"))


def test_cli_round_trip(ingested: Settings, tmp_path: Path) -> None:
    """`enclave index migrate` to qdrant-client local mode and back, as an operator runs it."""
    def cli(*args: str) -> dict[str, object]:
        done = subprocess.run([sys.executable, "-m", "enclave", "index", "migrate", "--json", *args],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    there = cli("--to", "qdrant", "--qdrant-path", str(tmp_path / "q"))
    back = cli("--to", "edge", "--qdrant-path", str(tmp_path / "q"), "--edge-path", str(tmp_path / "e"))
    assert there["chunks"] == back["chunks"] and there["documents"] == back["documents"] == 3
    again = subprocess.run([sys.executable, "-m", "enclave", "index", "migrate", "--to", "edge",
                            "--qdrant-path", str(tmp_path / "q"), "--edge-path", str(tmp_path / "e")],
                           capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 1 and "already holds chunks" in again.stderr and "next step" in again.stderr
