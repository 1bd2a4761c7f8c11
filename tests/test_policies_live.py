"""Policies and audit on a live install: revocation on the next question, relabel without
re-embedding, `enclave policy apply`, the answer route's audit events, and fail-closed answers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from enclave.settings import Settings
from tests.sync_support import install_home

HR_FACT = "The grievance hearing for nurse Okafor is scheduled for 14 March in room B12."
PUBLIC_FACT = "The staff cafeteria on level 2 opens at 07:30 and closes at 15:00."


def policy(alice_groups: str = "[staff, hr-team]", hr_labels: str = "[hr]", logging: str = "full") -> str:
    """A small policy: hr documents for hr-team, public ones for staff."""
    return f"""version: 1
question_logging: {logging}
groups: {{staff: {{}}, hr-team: {{}}}}
users:
  alice: {{groups: {alice_groups}}}
  bob: {{groups: [staff]}}
  nobody: {{groups: []}}
labels:
  - {{match: "docs/hr/**", labels: {hr_labels}}}
  - {{match: "docs/public/**", labels: [public]}}
grants:
  - {{group: staff, labels: [public]}}
  - {{group: hr-team, labels: [hr]}}
"""


@dataclass
class Live:
    """An installed Enclave with a small ingested corpus."""

    settings: Settings
    embedder: Any
    hr_chunks: int


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, assembled_model: Path) -> Iterator[Live]:
    from enclave.wiring import build_embedder, ingest_deps, open_index
    from ingest.pipeline import ingest_folder

    root = tmp_path_factory.mktemp("live")
    with pytest.MonkeyPatch.context() as mp:
        settings = install_home(mp, root / "home", assembled_model, policy())
        docs = root / "docs"
        for name, fact in [("hr/grievance.md", HR_FACT), ("hr/second.md", HR_FACT.replace("14 March", "2 April")),
                           ("public/cafeteria.md", PUBLIC_FACT)]:
            (docs / name).parent.mkdir(parents=True, exist_ok=True)
            (docs / name).write_text(f"# {name}\n\n{fact}\n")
        embedder = build_embedder(settings)
        index = open_index(settings, embedder)
        deps = ingest_deps(settings, index, embedder)
        report = ingest_folder(docs, deps)
        deps.manifest.close()
        index.close()
        assert len(report.ingested) == 3
        yield Live(settings, embedder, hr_chunks=2)


def _write_policy(live: Live, text: str) -> None:
    (live.settings.policy_dir / "policy.yaml").write_text(text)


def _relabel(live: Live) -> Any:
    from enclave.wiring import open_index
    from ingest.manifest import Manifest
    from ingest.relabel import relabel
    from policies.engine import labels_for
    from policies.load import load_policy

    current = load_policy(live.settings.policy_dir)
    index, manifest = open_index(live.settings, live.embedder), Manifest(live.settings.manifest_path)
    try:
        return relabel(manifest, index, partial(labels_for, current))
    finally:
        manifest.close()
        index.close()


def _hr_sources(live: Live, user: str, question: str = "When is the grievance hearing for nurse Okafor?") -> list[str]:
    from enclave.wiring import build_retriever, open_index, policy_loader
    from policies.engine import principal_for

    index = open_index(live.settings, live.embedder)
    try:
        principal = principal_for(policy_loader(live.settings)(), user)
        hits = build_retriever(live.settings, index, live.embedder).retrieve(question, principal).hits
    finally:
        index.close()
    return [h.chunk.source for h in hits if "/hr/" in h.chunk.source]


def test_removing_a_user_from_a_group_revokes_access_on_the_very_next_question(live: Live) -> None:
    from enclave.wiring import build_retriever, open_index, policy_loader
    from policies.engine import principal_for

    _write_policy(live, policy())
    _relabel(live)
    index = open_index(live.settings, live.embedder)
    try:
        retriever = build_retriever(live.settings, index, live.embedder)  # one long-lived retriever, like the UI's
        question = "When is the grievance hearing for nurse Okafor?"
        alice = principal_for(policy_loader(live.settings)(), "alice")
        assert any("/hr/" in h.chunk.source for h in retriever.retrieve(question, alice).hits)
        _write_policy(live, policy(alice_groups="[staff]"))
        after = retriever.retrieve(question, alice)  # the stale principal still claims hr-team
        assert not any("/hr/" in h.chunk.source for h in after.hits)
        assert after.withheld >= 1
    finally:
        index.close()


def test_a_label_change_applies_by_relabelling_without_re_embedding(live: Live) -> None:
    _write_policy(live, policy())
    _relabel(live)
    assert _hr_sources(live, "alice")
    _write_policy(live, policy(hr_labels="[hr-restricted]"))  # tightened: hr documents now need hr-restricted
    assert not _hr_sources(live, "alice")  # at once: stale 'hr' labels are re-decided under today's rules
    assert _stale_dropped(live, "alice") >= 1
    report = _relabel(live)
    assert report.chunks_changed == live.hr_chunks and len(report.documents_changed) == 2
    assert not _hr_sources(live, "alice") and _stale_dropped(live, "alice") == 0  # now filtered inside Qdrant
    assert _relabel(live).chunks_changed == 0  # idempotent
    _write_policy(live, policy(hr_labels="[hr]"))  # loosened again: takes effect once applied
    assert not _hr_sources(live, "alice")
    assert _relabel(live).chunks_changed == live.hr_chunks
    assert _hr_sources(live, "alice")  # the same vectors answer again: nothing was re-embedded


def _stale_dropped(live: Live, user: str) -> int:
    from enclave.wiring import build_retriever, open_index, policy_loader
    from policies.engine import principal_for

    index = open_index(live.settings, live.embedder)
    try:
        principal = principal_for(policy_loader(live.settings)(), user)
        retriever = build_retriever(live.settings, index, live.embedder)
        return retriever.retrieve("When is the grievance hearing for nurse Okafor?", principal).stale_dropped
    finally:
        index.close()


def test_policy_apply_cli_reports_changed_chunks_and_audits_the_change(live: Live) -> None:
    from enclave.cli import app
    from enclave.wiring import open_audit_log

    _write_policy(live, policy())
    _relabel(live)
    _write_policy(live, policy(hr_labels="[hr, hr-restricted]"))
    result = CliRunner().invoke(app, ["policy", "apply"], env={"ENCLAVE_HOME": str(live.settings.home)})
    assert result.exit_code == 0, result.output
    assert f"{live.hr_chunks} chunk(s) in 2 of 3 document(s) relabelled" in result.output
    kinds = [r["kind"] for r in open_audit_log(live.settings).records()][-2:]
    assert kinds == ["policy_change", "policy_apply"]
    _write_policy(live, policy())
    _relabel(live)


class CountingGenerator:
    """The real generator, counting how often it is asked to write (to prove it never was)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stream(self, messages: Sequence[Any], max_tokens: int) -> Iterator[str]:
        self.calls += 1
        yield from self.inner.stream(messages, max_tokens)


def test_the_answer_route_audits_question_retrieval_and_answer_in_order(live: Live) -> None:
    from enclave.wiring import build_answerer, build_generator, open_audit_log, open_index
    from policies.engine import principal_for
    from policies.load import load_policy
    from rag.answer import Answer
    from rag.prompt import PROMPT_TEMPLATE_HASH

    _write_policy(live, policy())
    _relabel(live)
    log = open_audit_log(live.settings)
    before = sum(1 for _ in log.records())
    index = open_index(live.settings, live.embedder)
    try:
        generator = build_generator(live.settings)
        answerer = build_answerer(live.settings, index, live.embedder, generator)
        current = load_policy(live.settings.policy_dir)
        events = list(answerer.ask("When does the staff cafeteria close?", principal_for(current, "bob")))
    finally:
        index.close()
    answer = events[-1]
    assert isinstance(answer, Answer)
    records = [r for r in list(log.records())[before:] if r["kind"] in ("question", "retrieval", "answer")]
    assert [r["kind"] for r in records] == ["question", "retrieval", "answer"]
    question, retrieval, done = (r["details"] for r in records)
    assert all(r["actor"] == "bob" for r in records)
    assert question["question"] == "When does the staff cafeteria close?"
    assert retrieval["chunk_ids"] == answer.retrieved_ids and retrieval["withheld_by_policy"] >= 1
    assert done["answer_sha256"] == hashlib.sha256(answer.text.encode()).hexdigest()
    assert {c["chunk_id"] for c in done["citations"]} <= set(retrieval["chunk_ids"])
    assert done["model_sha256"] == generator.model_sha256 and done["model"] == generator.model_name
    assert done["prompt_template"] == PROMPT_TEMPLATE_HASH and done["policy_version"] == current.version
    assert log.verify().ok


def test_an_audit_write_failure_blocks_the_answer(live: Live) -> None:
    from enclave.wiring import build_answerer, build_generator, open_index
    from policies.audit import AuditLog, AuditWriteFailed
    from policies.engine import principal_for
    from policies.load import load_policy

    _write_policy(live, policy())
    index = open_index(live.settings, live.embedder)
    try:
        generator = CountingGenerator(build_generator(live.settings))
        full_disk = AuditLog(Path("/dev/full"), b"k" * 32)  # every write fails with ENOSPC
        answerer = build_answerer(live.settings, index, live.embedder, generator, audit=full_disk)
        shown: list[Any] = []
        with pytest.raises(AuditWriteFailed):
            for piece in answerer.ask("When does the staff cafeteria close?", principal_for(load_policy(live.settings.policy_dir), "bob")):
                shown.append(piece)
    finally:
        index.close()
    assert shown == [] and generator.calls == 0


def test_questions_are_hashed_when_the_policy_says_so_and_denials_recorded(live: Live) -> None:
    from enclave.wiring import build_answerer, build_generator, open_audit_log, open_index
    from policies.engine import principal_for
    from policies.load import load_policy

    _write_policy(live, policy(logging="hash"))
    secret = "Does nurse Okafor have a grievance hearing?"
    log = open_audit_log(live.settings)
    before = sum(1 for _ in log.records())
    index = open_index(live.settings, live.embedder)
    try:
        answerer = build_answerer(live.settings, index, live.embedder, build_generator(live.settings))
        list(answerer.ask(secret, principal_for(load_policy(live.settings.policy_dir), "nobody")))
    finally:
        index.close()
    new = list(log.records())[before:]
    assert [r["kind"] for r in new] == ["question", "denial", "retrieval", "answer"]
    assert new[0]["details"]["question_hmac"] == log.keyed_hash(secret)
    assert "Okafor" not in log.path.read_text()[-5000:]
    assert new[2]["details"]["chunk_ids"] == [] and new[3]["details"]["found"] is False
    _write_policy(live, policy())


def test_ask_as_an_unknown_user_is_denied_and_recorded(live: Live) -> None:
    from enclave.cli import app
    from enclave.wiring import open_audit_log
    from policies.errors import AccessDenied

    result = CliRunner().invoke(app, ["ask", "--user", "mallory", "What is the cafeteria schedule?"],
                                env={"ENCLAVE_HOME": str(live.settings.home)})
    assert isinstance(result.exception, AccessDenied)
    last = list(open_audit_log(live.settings).records())[-1]
    assert last["kind"] == "denial" and last["actor"] == "mallory"
