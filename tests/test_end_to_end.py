"""Issue 2 end to end: real files in five formats, the real store, the real model, no network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from enclave.settings import EmbeddingSettings, Settings
from enclave.wiring import build_answerer, build_embedder, build_generator, ingest_deps, open_index, policy_loader
from ingest.pipeline import ingest_folder
from policies.engine import principal_for
from rag.answer import NOT_FOUND_TEXT
from tests import corpus

FACTS = [
    # (question, words the answer must contain, file, page)
    ("How many days of annual leave can be carried over into the next year?", ["7"], "hr/leave-policy.docx", None),
    ("What is the overtime pay rate on public holidays?", ["2.5"], "hr/handbook.pdf", 3),
    ("Which room hosts the MRI safety training?", ["B214"], "clinical/training.html", None),
    ("What is the maximum dose of paracetamol per day for adults?", ["4"], "clinical/dosing.md", None),
    ("When does the new badge system go live?", ["March"], "it/badge-announcement.eml", None),
]


def build_corpus(root: Path) -> Path:
    """Five formats, each holding one known fact among distractors."""
    corpus.write_docx(
        root / "hr" / "leave-policy.docx",
        "Annual leave policy",
        [
            "Every employee receives 28 days of paid annual leave per calendar year.",
            "Up to 7 days of unused annual leave can be carried over into the next year.",
            "Leave requests must be approved by the line manager two weeks in advance.",
        ],
    )
    corpus.write_pdf(
        root / "hr" / "handbook.pdf",
        [
            "Staff handbook. Chapter 1: Working hours. The standard working week is 37.5 hours.",
            "Chapter 2: Expenses. Travel expenses are reimbursed within 30 days of a claim.",
            "Chapter 3: Overtime. Overtime worked on public holidays is paid at 2.5 times the hourly rate.",
            "Chapter 4: Pensions. The employer contributes 8 percent of salary to the pension scheme.",
        ],
    )
    corpus.write_html(
        root / "clinical" / "training.html",
        "Mandatory training schedule",
        [
            "Fire safety training takes place every Monday in the main auditorium.",
            "The MRI safety training is held in room B214 on the second floor of the imaging wing.",
        ],
    )
    corpus.write_markdown(
        root / "clinical" / "dosing.md",
        "Dosing guidance",
        [
            "For adults, the maximum dose of paracetamol is 4 grams per day, in doses at least four hours apart.",
            "Children's doses are calculated by body weight; consult the paediatric formulary.",
        ],
    )
    corpus.write_eml(
        root / "it" / "badge-announcement.eml",
        "New badge system",
        "Dear colleagues,\n\nThe new badge system goes live on 3 March. "
        "Please collect your new badge from the security office before then.\n\nIT Services",
    )
    return root


@pytest.fixture
def ingested(settings: Settings, tmp_path: Path) -> tuple[Settings, Path]:
    """The corpus, ingested into the test's ENCLAVE_HOME."""
    root = build_corpus(tmp_path / "docs")
    embedder = build_embedder(settings)
    index = open_index(settings, embedder)
    try:
        report = ingest_folder(root, ingest_deps(settings, index, embedder))
    finally:
        index.close()
    assert len(report.ingested) == 5 and not report.failed
    return settings, root


def test_cited_answers_offline(ingested: tuple[Settings, Path], no_network: list[str]) -> None:
    """Each question is answered with its fact, and the first citation is the right file and page."""
    settings, _ = ingested
    embedder = build_embedder(settings)
    index = open_index(settings, embedder)
    try:
        answerer = build_answerer(settings, index, embedder, build_generator(settings))
        principal = principal_for(policy_loader(settings)(), "tester")
        wrong_source, missing_fact = [], []
        for question, must_contain, source, page in FACTS:
            answer = answerer.answer(question, principal)
            first = answer.citations[0] if answer.citations else None
            if not (answer.found and first is not None and first.source == f"docs/{source}"
                    and (page is None or first.page == page)):
                wrong_source.append((question, answer.text, first))
            if not all(word in answer.text for word in must_contain):
                missing_fact.append((question, answer.text))
    finally:
        index.close()
    # Every answer must cite the right file and page.
    assert not wrong_source, wrong_source
    # Small models sometimes restate the question instead of the fact (the 0.5B, the default until the
    # thirteenth session: 4-5 of 5 depending on wording). One miss is tolerated; two mean the answer path regressed.
    assert len(missing_fact) <= 1, missing_fact
    assert no_network == []


def test_question_without_answer_says_so(ingested: tuple[Settings, Path]) -> None:
    """A question the documents cannot answer gets the not-found response and no citations."""
    settings, _ = ingested
    embedder = build_embedder(settings)
    index = open_index(settings, embedder)
    try:
        answerer = build_answerer(settings, index, embedder, build_generator(settings))
        principal = principal_for(policy_loader(settings)(), "tester")
        answer = answerer.answer("Who won the football world cup in 1966?", principal)
    finally:
        index.close()
    assert not answer.found
    assert answer.text == NOT_FOUND_TEXT
    assert answer.citations == []


def test_the_gate_settings_reach_the_answerer(ingested: tuple[Settings, Path]) -> None:
    """With the dense bar out of reach, the term-share setting alone decides whether a question is answered."""
    settings, _ = ingested
    question, must_contain = FACTS[2][0], FACTS[2][1]
    embedder = build_embedder(settings)
    index = open_index(settings, embedder)
    try:
        principal = principal_for(policy_loader(settings)(), "tester")
        answers = {}
        for share in (1.01, 0.0):
            gate = settings.retrieval.model_copy(update={"min_dense_score": 1.01, "min_sparse_match": share})
            gated = settings.model_copy(update={"retrieval": gate})
            answers[share] = build_answerer(gated, index, embedder, build_generator(gated)).answer(question, principal)
    finally:
        index.close()
    assert not answers[1.01].found and answers[1.01].text == NOT_FOUND_TEXT
    assert answers[0.0].found and all(word in answers[0.0].text for word in must_contain), answers[0.0].text


def test_cli_ask_json_shape(ingested: tuple[Settings, Path], home: Path) -> None:
    """`enclave ask --json` prints one object with answer, citations, model and timings."""
    result = subprocess.run(
        [sys.executable, "-m", "enclave", "ask", "--json", FACTS[2][0]],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"answer", "citations", "model", "timings"}
    assert "B214" in data["answer"]
    cit = data["citations"][0]
    assert set(cit) == {"n", "source", "page", "chunk_id", "quote"}
    assert cit["source"] == "docs/clinical/training.html" and "B214" in cit["quote"]


def test_cli_status_json(ingested: tuple[Settings, Path]) -> None:
    """`enclave status --json` counts documents and chunks and names both models."""
    result = subprocess.run(
        [sys.executable, "-m", "enclave", "status", "--json"], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["documents"] == 5 and data["chunks"] >= 5
    assert data["generator_sha256"] and data["embedding_model"] == EmbeddingSettings().model_id
