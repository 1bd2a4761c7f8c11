"""While a sync rewrites documents in another process, questions keep being answered from the same
embedded store: no lock error, and every retrieval sees each document whole, in one version."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from enclave.settings import Settings
from ingest.schema import doc_id
from tests.sync_support import assert_index_matches_tree, write_doc

DOCS = 24
_VERSION = re.compile(r"Document (\d+) version (\d+)")


def _enclave(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from enclave.cli import main; sys.argv[0] = 'enclave'; main()", *args]


def test_queries_during_a_sync_see_one_version_and_a_second_sync_is_refused(settings: Settings, tmp_path: Path) -> None:
    from enclave.ingest_job import folder_source, run_ingest_job
    from enclave.wiring import build_embedder, policy_loader, shared_index
    from ingest.embed import Bm25Encoder
    from policies.engine import principal_for
    from rag.retrieve import RetrievalConfig, Retriever

    root = tmp_path / "share"
    for n in range(DOCS):
        write_doc(root, f"doc{n:02}.md", n, 1, paragraphs=2)
    embedder = build_embedder(settings)
    run_ingest_job(settings, [folder_source(settings, root)], trigger="test", actor="tester", embedder=embedder)
    for n in range(DOCS):  # version 2 has a different number of chunks
        write_doc(root, f"doc{n:02}.md", n, 2, paragraphs=4)

    env = {**os.environ, "ENCLAVE_HOME": str(settings.home), "ENCLAVE_USER": "tester", "ENCLAVE_INGEST__WRITE_BATCH_FILES": "2"}
    sync = subprocess.Popen(_enclave("ingest", str(root), "--json"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid_file = settings.home / "ingest.pid"
        deadline = time.monotonic() + 120
        while not pid_file.exists() and sync.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid_file.exists(), "the first sync never took the ingest lock"
        second = subprocess.run(_enclave("ingest", str(root)), env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode != 0
        assert "already running" in second.stderr + second.stdout

        index = shared_index(settings, embedder)  # the way the server holds the store
        retriever = Retriever(index, embedder, Bm25Encoder(), policy_loader(settings), RetrievalConfig(top_k=8))
        tester = principal_for(policy_loader(settings)(), "tester")
        seen: dict[int, int] = {}
        states: set[tuple[int, ...]] = set()
        queries = 0
        while sync.poll() is None:
            n = queries % DOCS
            with index.session() as idx:  # one consistent view for the retrieval and the checks
                hits = retriever.retrieve(f"depot code and inspection interval for site {n}", tester).hits
                assert hits
                for doc in {h.chunk.doc_id for h in hits}:
                    shas = {h.chunk.doc_sha256 for h in hits if h.chunk.doc_id == doc}
                    assert len(shas) == 1, "a retrieval mixed two versions of one document"
                    whole = idx.chunks_of(doc)
                    assert {c.doc_sha256 for c in whole} == shas, "retrieved chunks of a version no longer whole"
                    assert sorted(c.chunk_no for c in whole) == list(range(len(whole))), "half a document"
                    versions = {int(_VERSION.search(c.text).group(2)) for c in whole}  # type: ignore[union-attr]
                    assert len(versions) == 1
                    number = int(_VERSION.search(whole[0].text).group(1))  # type: ignore[union-attr]
                    assert versions.pop() >= seen.get(number, 1), "a document went back to an older version"
                    seen[number] = int(_VERSION.search(whole[0].text).group(2))  # type: ignore[union-attr]
                states.add(tuple(sorted({v for v in seen.values()})))
            queries += 1
        out, err = sync.communicate(timeout=60)
        assert sync.returncode == 0, err[-3000:]
    finally:
        if sync.poll() is None:
            sync.kill()
    assert queries >= 5, "the sync ended before the queries could overlap it"
    assert any(2 in s for s in states) and any(1 in s for s in states), states
    assert_index_matches_tree(settings, index, {f"share/doc{n:02}.md": root / f"doc{n:02}.md" for n in range(DOCS)})
    with index.session() as idx:
        assert all(len(idx.chunks_of(doc_id(f"share/doc{n:02}.md"))) >= 1 for n in range(DOCS))
