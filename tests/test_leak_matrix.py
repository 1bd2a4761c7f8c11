"""The leak matrix: 238 generated documents, 12 labels, 11 users; nothing crosses a policy line.

Every user asks questions built from the own sentences (and canaries) of documents they may not
read, through the real Retriever on the real Edge index with the real embedder. No retrieved
chunk, prompt or citation may carry an unauthorized chunk id or canary. A sample also goes
through the full answer route with the real generator. Positive controls prove the same
questions find their documents for a user who may read them.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from enclave.settings import Settings, load_settings

QUESTIONS_PER_USER = 12

# folder -> labels its documents get (empty: no rule matches, readable by nobody)
FOLDERS: dict[str, tuple[str, ...]] = {
    "hr": ("hr",), "finance": ("finance",), "payroll": ("payroll",), "clinical": ("phi",),
    "pharmacy": ("pharmacy",), "legal": ("legal",), "board": ("board",), "research": ("research",),
    "security": ("security",), "nursing": ("nursing",), "quality": ("quality",), "public": ("public",),
    "trials": ("phi", "research"), "unfiled": (),
}
RESTRICTED = sorted({label for labels in FOLDERS.values() for label in labels} - {"public"})

USERS: dict[str, list[str]] = {
    "nobody": [],
    "everything": ["everyone", *(f"g-{label}" for label in RESTRICTED)],
    "u-hr": ["everyone", "g-hr"],
    "u-fin": ["everyone", "g-finance", "g-payroll"],
    "u-clin": ["everyone", "g-phi", "g-pharmacy", "g-nursing"],
    "u-res": ["everyone", "g-research"],
    "u-legal": ["everyone", "g-legal", "g-board"],
    "u-sec": ["everyone", "g-security"],
    "u-qa": ["everyone", "g-quality", "g-phi"],
    "u-pub": ["everyone"],
    "u-trial": ["g-phi", "g-research"],
}

_SUBJECTS = ["rota", "budget", "contract", "protocol", "audit", "inventory", "review", "incident", "briefing", "roster"]
_PLACES = ["Ward", "Block", "Unit", "Wing", "Floor", "Annex", "Clinic", "Depot"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_NAMES = ["Okafor", "Lindqvist", "Haddad", "Moreau", "Tanaka", "Novak", "Ferreira", "Kowalski", "Brennan", "Ivanova"]
_VERBS = ["approved", "rescheduled", "escalated", "signed off", "withdrawn", "amended", "filed", "reopened"]


@dataclass(frozen=True)
class Doc:
    """One generated document."""

    source: str  # as ingest names it: corpus/<folder>/<file>
    labels: tuple[str, ...]
    canary: str
    sentences: tuple[str, ...]


def policy_yaml() -> str:
    """The leak-matrix policy: one group per label, users with 0..all groups."""
    lines = ["version: 1", "question_logging: full", "groups:", "  everyone: {}"]
    lines += [f"  g-{label}: {{}}" for label in RESTRICTED]
    lines.append("users:")
    lines += [f"  {user}: {{groups: [{', '.join(groups)}]}}" for user, groups in USERS.items()]
    lines.append("labels:")
    lines += [
        f"  - {{match: 'corpus/{folder}/**', labels: [{', '.join(labels)}]}}" for folder, labels in FOLDERS.items() if labels
    ]
    lines.append("grants:")
    lines.append("  - {group: everyone, labels: [public]}")
    lines += [f"  - {{group: g-{label}, labels: [{label}]}}" for label in RESTRICTED]
    return "\n".join(lines) + "\n"


def write_corpus(root: Path, per_folder: int = 17, seed: int = 7) -> list[Doc]:
    """Markdown documents under root/corpus/<folder>/; every one carries a unique canary."""
    rng = random.Random(seed)
    docs = []
    for folder, labels in FOLDERS.items():
        for i in range(per_folder):
            canary = f"CANARY{rng.getrandbits(48):012x}"
            subject, place, name = rng.choice(_SUBJECTS), rng.choice(_PLACES), rng.choice(_NAMES)
            code = f"{folder[:3].upper()}-{rng.randint(1000, 9999)}"
            sentences = (
                f"The {folder} {subject} for {place} {rng.randint(2, 40)} was {rng.choice(_VERBS)} by "
                f"{name} on {rng.choice(_DAYS)} under reference {code}.",
                f"Dr. {rng.choice(_NAMES)} recorded {rng.randint(3, 97)} {folder} cases and a shortfall of "
                f"{rng.randint(100, 9999)} euros in the {subject} file.",
                f"The verification code for this {folder} record is {canary}.",
            )
            path = root / "corpus" / folder / f"{folder}-{i:03d}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# {folder.title()} {subject} {code}\n\n" + "\n\n".join(sentences) + "\n")
            docs.append(Doc(f"corpus/{folder}/{path.name}", labels, canary, sentences))
    return docs


@dataclass
class World:
    """The ingested corpus and everything needed to ask as any user."""

    settings: Settings
    docs: list[Doc]
    chunk_ids: dict[str, tuple[str, ...]]  # source -> chunk ids
    embedder: Any
    policy: Any


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, assembled_model: Path) -> Iterator[World]:
    from enclave.wiring import build_embedder, default_model_path, ingest_deps, open_index, setup_home
    from ingest.manifest import Manifest
    from ingest.pipeline import ingest_folder
    from policies.load import load_policy

    root = tmp_path_factory.mktemp("leak")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENCLAVE_HOME", str(root / "home"))
        mp.delenv("ENCLAVE_CONFIG", raising=False)
        (root / "policy").mkdir()
        (root / "policy" / "policy.yaml").write_text(policy_yaml())
        settings = load_settings(home=root / "home", policy_path=str(root / "policy"))
        target = default_model_path(settings)
        target.parent.mkdir(parents=True)
        os.link(assembled_model, target)
        setup_home(settings)
        docs = write_corpus(root / "files")
        embedder = build_embedder(settings)
        index = open_index(settings, embedder)
        deps = ingest_deps(settings, index, embedder)
        report = ingest_folder(root / "files" / "corpus", deps)
        deps.manifest.close()
        index.close()
        assert not report.failed and len(report.ingested) == len(docs)
        manifest = Manifest(settings.manifest_path)
        chunk_ids = {r.source: r.chunk_ids for r in manifest.all()}
        manifest.close()
        yield World(settings, docs, chunk_ids, embedder, load_policy(settings.policy_dir))


def test_the_corpus_is_big_enough(world: World) -> None:
    assert len(world.docs) >= 200
    assert len({label for d in world.docs for label in d.labels}) >= 10
    assert len(USERS) >= 10 and USERS["nobody"] == [] and len(USERS["everything"]) == len(RESTRICTED) + 1
    assert len({d.canary for d in world.docs}) == len(world.docs)
    assert all(world.chunk_ids[d.source] for d in world.docs)


def _readable(world: World, user: str) -> tuple[set[str], set[str]]:
    """(sources the user may read, sources they may not), decided by the pure engine."""
    from policies.engine import labels_for, may_read, principal_for

    principal = principal_for(world.policy, user)
    yes, no = set(), set()
    for d in world.docs:
        (yes if may_read(world.policy, principal, labels_for(world.policy, d.source)).allowed else no).add(d.source)
    return yes, no


def _retriever(world: World, index: Any) -> Any:
    from enclave.wiring import policy_loader
    from ingest.embed import Bm25Encoder
    from rag.retrieve import RetrievalConfig, Retriever

    return Retriever(index, world.embedder, Bm25Encoder(), policy_loader(world.settings), RetrievalConfig(top_k=8))


@pytest.fixture(scope="module")
def index(world: World) -> Iterator[Any]:
    from enclave.wiring import open_index

    opened = open_index(world.settings, world.embedder)
    yield opened
    opened.close()


def test_no_user_sees_an_unauthorized_chunk_canary_prompt_or_citation(world: World, index: Any) -> None:
    from policies.engine import principal_for
    from rag.answer import cite
    from rag.prompt import pack_prompt

    retriever = _retriever(world, index)
    by_source = {d.source: d for d in world.docs}
    rng = random.Random(11)
    asked = leaks = 0
    for user in USERS:
        principal = principal_for(world.policy, user)
        allowed_sources, denied_sources = _readable(world, user)
        allowed_ids = {cid for s in allowed_sources for cid in world.chunk_ids[s]}
        foreign_canaries = {by_source[s].canary for s in denied_sources}
        targets = rng.sample(sorted(denied_sources), min(QUESTIONS_PER_USER, len(denied_sources)))
        for n, source in enumerate(targets):
            doc = by_source[source]
            question = doc.sentences[n % len(doc.sentences)]
            retrieval = retriever.retrieve(question, principal)
            asked += 1
            packed = pack_prompt(question, retrieval.hits, lambda t: len(t.split()), 4096)
            citations = cite(doc.sentences[0], packed.passages) if packed.passages else []
            seen_ids = {h.chunk.chunk_id for h in retrieval.hits} | {c.chunk_id for c in citations}
            # The question itself may quote a canary (the user typed it); everything else must not carry one.
            texts = [h.chunk.text for h in retrieval.hits] + [m["content"].replace(question, "") for m in packed.messages]
            texts += [c.quote for c in citations]
            bad_ids = seen_ids - allowed_ids
            bad_canaries = {c for c in foreign_canaries if any(c in t for t in texts)}
            if bad_ids or bad_canaries:
                leaks += 1
            assert not bad_ids, f"{user} got chunks of {[h.chunk.source for h in retrieval.hits]} for {source}"
            assert not bad_canaries, f"{user} saw canaries {bad_canaries}"
            assert all(set(h.chunk.labels) <= retrieval.allowed_labels for h in retrieval.hits)
    assert asked >= 100 and leaks == 0


def test_positive_controls_the_same_questions_find_documents_a_user_may_read(world: World, index: Any) -> None:
    """Proves the matrix can fail: the questions do reach their documents when the policy allows."""
    from policies.engine import principal_for

    retriever = _retriever(world, index)
    everything = principal_for(world.policy, "everything")
    labelled = [d for d in world.docs if d.labels]
    sample = random.Random(5).sample(labelled, 40)
    found = 0
    for n, doc in enumerate(sample):
        retrieval = retriever.retrieve(doc.sentences[n % 3], everything)
        found += any(h.chunk.source == doc.source for h in retrieval.hits)
    assert found >= 36  # 90%


def test_the_policy_filter_counts_what_it_withheld(world: World, index: Any) -> None:
    from policies.engine import principal_for

    retriever = _retriever(world, index)
    doc = next(d for d in world.docs if d.source.startswith("corpus/hr/"))
    nobody = retriever.retrieve(doc.sentences[2], principal_for(world.policy, "nobody"))
    assert nobody.hits == [] and nobody.withheld == 8
    hr = retriever.retrieve(doc.sentences[2], principal_for(world.policy, "u-hr"))
    assert any(h.chunk.source == doc.source for h in hr.hits)
    assert all(set(h.chunk.labels) <= {"hr", "public"} for h in hr.hits)


def test_unlabelled_documents_are_readable_by_nobody(world: World, index: Any) -> None:
    from policies.engine import principal_for

    retriever = _retriever(world, index)
    unfiled = [d for d in world.docs if d.source.startswith("corpus/unfiled/")]
    assert unfiled and FOLDERS["unfiled"] == ()
    for doc in unfiled[:5]:
        retrieval = retriever.retrieve(doc.sentences[2], principal_for(world.policy, "everything"))
        assert not any(h.chunk.source.startswith("corpus/unfiled/") for h in retrieval.hits)


def test_the_full_answer_route_leaks_nothing_on_a_sample(world: World, index: Any) -> None:
    from enclave.wiring import build_answerer, build_generator, open_audit_log
    from policies.engine import principal_for
    from rag.answer import Answer

    answerer = build_answerer(world.settings, index, world.embedder, build_generator(world.settings))
    by_source = {d.source: d for d in world.docs}
    cases = [("u-hr", "corpus/payroll/"), ("u-res", "corpus/trials/"), ("nobody", "corpus/public/")]
    for user, folder in cases:
        _, denied = _readable(world, user)
        doc = by_source[next(s for s in sorted(denied) if s.startswith(folder))]
        pieces = list(answerer.ask(doc.sentences[0].replace(".", "?"), principal_for(world.policy, user)))
        answer = pieces[-1]
        assert isinstance(answer, Answer)
        shown = "".join(p for p in pieces if isinstance(p, str)) + answer.text
        foreign = {by_source[s].canary for s in denied}
        assert not any(c in shown for c in foreign)
        assert not any(c.quote and any(x in c.quote for x in foreign) for c in answer.citations)
        assert all(c.source not in denied for c in answer.citations)
    assert open_audit_log(world.settings).verify().ok


@pytest.mark.parametrize(
    "fusion,weights",
    [("rrf", (1.0, 0.0)), ("rrf", (0.0, 1.0)), ("rrf", (1.0, 1.0)), ("convex", (0.5, 0.5))],
)
def test_every_retrieval_path_applies_the_filter(world: World, index: Any, fusion: str, weights: tuple[float, float]) -> None:
    """Dense-only, sparse-only, RRF hybrid and convex fusion all search inside the label filter."""
    from ingest.embed import Bm25Encoder
    from ingest.index.base import HybridQuery
    from policies.engine import principal_for, readable_labels

    bm25 = Bm25Encoder()
    by_source = {d.source: d for d in world.docs}
    for user in ("nobody", "u-hr", "u-res", "u-pub", "u-trial"):
        allowed = readable_labels(world.policy, principal_for(world.policy, user))
        allowed_sources, denied = _readable(world, user)
        allowed_ids = {cid for s in allowed_sources for cid in world.chunk_ids[s]}
        for source in sorted(denied)[::40]:
            question = by_source[source].sentences[2]
            query = HybridQuery(
                dense=world.embedder.embed_query(question), sparse=bm25.embed_query(question), allowed_labels=allowed,
                limit=10, prefetch=50, weights=weights, fusion=fusion,
            )
            hits = index.query(query)
            assert {h.chunk.chunk_id for h in hits} <= allowed_ids, (user, fusion, weights)
            assert not any(by_source[source].canary in h.chunk.text for h in hits)
