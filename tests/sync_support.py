"""Helpers for the sync, crash, hostile and concurrency tests: trees, deps, and exact index checks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from enclave.settings import Settings
from ingest.manifest import Manifest
from ingest.pipeline import IngestDeps, file_sha256, verify
from ingest.schema import doc_id


def write_doc(root: Path, rel: str, n: int, version: int, paragraphs: int = 3) -> Path:
    """A markdown document whose every paragraph names the document and its version."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n\n".join(
        f"Document {n} version {version} paragraph {p}: the depot code for site {n} is "
        f"K{n}V{version}P{p}, and the inspection interval is {n * 7 + version} days. " * 4
        for p in range(paragraphs)
    )
    path.write_text(f"# Site {n} handbook, version {version}\n\n{body}\n")
    return path


def deps_for(settings: Settings, embedder: Any, parse: Any, **overrides: Any) -> IngestDeps:
    """The production deps on a shared (session) index, with a given parser."""
    from enclave.wiring import ingest_deps, shared_index

    return replace(ingest_deps(settings, shared_index(settings, embedder), embedder), parse=parse, **overrides)


def assert_index_matches_tree(settings: Settings, index: Any, tree: dict[str, Path]) -> None:
    """The manifest lists exactly `tree` (source key -> file) as ingested, and the index holds
    exactly each document's current chunks: one version, chunk numbers 0..n-1, no orphans."""
    manifest = Manifest(settings.manifest_path)
    try:
        assert verify(index, manifest) == []
        records = {r.source: r for r in manifest.all()}
        assert sorted(records) == sorted(tree)
        with index.session() as idx:
            for key, path in tree.items():
                rec = records[key]
                assert rec.status == "ingested", (key, rec.error_code, rec.error)
                assert rec.sha256 == file_sha256(path), key
                chunks = idx.chunks_of(doc_id(key))
                assert sorted(c.chunk_id for c in chunks) == sorted(rec.chunk_ids), key
                assert {c.doc_sha256 for c in chunks} == {rec.sha256}, key
                assert sorted(c.chunk_no for c in chunks) == list(range(len(rec.chunk_ids))), key
                assert all(c.labels for c in chunks), key  # labels (the ACL payload) intact
    finally:
        manifest.close()


def sync_folder(settings: Settings, root: Path) -> Any:
    """One production ingest job over `root` (lock, parse child, history, audit), as the CLI runs it."""
    from enclave.ingest_job import folder_source, run_ingest_job

    return run_ingest_job(settings, [folder_source(settings, root)], trigger="test", actor="tester")


def top_passage(settings: Settings, question: str, user: str = "tester") -> Any:
    """The best chunk `user` retrieves for `question` through the product's retriever."""
    from enclave.wiring import (
        build_embedder,
        build_retriever,
        policy_loader,
        shared_index,
    )
    from policies.engine import principal_for

    embedder = build_embedder(settings)
    retriever = build_retriever(settings, shared_index(settings, embedder), embedder)
    return retriever.retrieve(question, principal_for(policy_loader(settings)(), user)).hits[0].chunk


def install_home(
    mp: Any, home: Path, assembled_model: Path, policy_yaml: str | None = None, user: str = "operator"
) -> Settings:
    """An installed ENCLAVE_HOME as `enclave setup` leaves it (model hard-linked, keys), with `policy_yaml` if given.

    `mp` is the fixture's MonkeyPatch context: ENCLAVE_HOME and ENCLAVE_USER stay set while it lasts.
    """
    import os

    from enclave.settings import load_settings
    from enclave.wiring import default_model_path, setup_home

    mp.setenv("ENCLAVE_HOME", str(home))
    mp.setenv("ENCLAVE_USER", user)
    mp.delenv("ENCLAVE_CONFIG", raising=False)
    settings = load_settings(home=home)
    default_model_path(settings).parent.mkdir(parents=True, exist_ok=True)
    os.link(assembled_model, default_model_path(settings))
    setup_home(settings)
    if policy_yaml is not None:
        (settings.policy_dir / "policy.yaml").write_text(policy_yaml)
    return settings
