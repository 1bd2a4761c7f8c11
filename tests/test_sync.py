"""Sync semantics on a generated tree: add, change, rename, delete; the index follows exactly."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from enclave.settings import Settings, load_settings
from ingest.errors import AlreadyRunning
from ingest.history import sync_lock
from ingest.manifest import Manifest
from ingest.pipeline import Progress, file_sha256, sync_source
from ingest.sources import Source
from ingest.worker import ParseWorker, WorkerLimits
from tests.corpus import write_docx, write_pdf
from tests.sync_support import assert_index_matches_tree, deps_for, write_doc


@pytest.fixture(scope="module")
def embedder() -> Any:
    from enclave.wiring import build_embedder

    return build_embedder(load_settings())


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParseWorker]:
    with ParseWorker(WorkerLimits(timeout_s=120, memory_bytes=3 << 30), tmp_path_factory.mktemp("parse")) as w:
        yield w


class CountingParser:
    """The real worker, counting the files it was asked to parse and those a sync said it would ask for."""

    def __init__(self, worker: ParseWorker) -> None:
        self.worker, self.calls, self.named = worker, [], []

    def ahead(self, paths: list[Path]) -> None:  # as ParsePool is told, before a sync parses anything
        self.named.extend(p.name for p in paths)

    def __call__(self, path: Path) -> Any:
        self.calls.append(path.name)
        return self.worker(path)


def _retriever(settings: Settings, index: Any, embedder: Any) -> Any:
    from enclave.wiring import policy_loader
    from ingest.embed import Bm25Encoder
    from rag.retrieve import RetrievalConfig, Retriever

    return Retriever(index, embedder, Bm25Encoder(), policy_loader(settings), RetrievalConfig(top_k=10))


def _tester(settings: Settings) -> Any:
    from enclave.wiring import policy_loader
    from policies.engine import principal_for

    return principal_for(policy_loader(settings)(), "tester")


def test_sync_follows_add_change_rename_delete(settings: Settings, embedder: Any, worker: ParseWorker, tmp_path: Path) -> None:
    root = tmp_path / "share"
    for n in range(1, 6):
        write_doc(root, f"team{n % 2}/site{n}.md", n, 1)
    write_docx(root / "forms" / "leave.docx", "Leave form", ["Annual leave is requested with form L-17 two weeks ahead."])
    write_pdf(root / "forms" / "safety.pdf", ["Hard hats are required in zone C.", "Fire drills happen each March."])
    source = Source(name="share", path=root)
    parser = CountingParser(worker)
    deps = deps_for(settings, embedder, parser, write_batch_files=3)
    first = sync_source(source, deps)
    assert (len(first.ingested), first.failed) == (7, [])
    assert parser.named == parser.calls and len(parser.calls) == 7  # named ahead: exactly what is parsed, in order
    tree = {f"share/{p.relative_to(root).as_posix()}": p for p in root.rglob("*") if p.is_file()}
    assert_index_matches_tree(settings, deps.index, tree)

    write_doc(root, "team1/site1.md", 1, 2)  # change
    (root / "team0" / "site2.md").rename(root / "team0" / "renamed2.md")  # rename
    (root / "team1" / "site3.md").unlink()  # delete
    write_doc(root, "new/site9.md", 9, 1)  # add
    progress: list[Progress] = []
    parser.calls.clear()
    parser.named.clear()
    second = sync_source(source, deps, progress.append)
    assert second.changed == ["share/team1/site1.md"]
    assert sorted(parser.calls) == ["site1.md", "site9.md"]  # the renamed file is not parsed again...
    assert parser.named == parser.calls  # ...nor named ahead, and neither are the unchanged ones
    manifest = Manifest(settings.manifest_path)
    moved_chunks = len(manifest.get("share/team0/renamed2.md").chunk_ids)
    manifest.close()
    assert second.chunks_reused == moved_chunks > 0  # ...nor embedded: its stored vectors move with it
    assert second.embeddings == second.chunks_written - moved_chunks
    assert sorted(second.ingested) == ["share/new/site9.md", "share/team0/renamed2.md"]
    assert sorted(second.removed) == ["share/team0/site2.md", "share/team1/site3.md"]
    assert second.moved == ["share/team0/site2.md -> share/team0/renamed2.md"]
    assert [p.done for p in progress] == list(range(1, 8)) and progress[-1].total == 7
    tree = {f"share/{p.relative_to(root).as_posix()}": p for p in root.rglob("*") if p.is_file()}
    assert_index_matches_tree(settings, deps.index, tree)

    retriever, tester = _retriever(settings, deps.index, embedder), _tester(settings)
    old = retriever.retrieve("depot code K1V1P0 for site 1", tester).hits
    assert old and all("V1P" not in h.chunk.text for h in old if h.chunk.source == "share/team1/site1.md")
    assert any("K1V2P0" in h.chunk.text for h in old)
    deleted = retriever.retrieve("depot code K3V1P1 for site 3", tester).hits
    assert all(h.chunk.source != "share/team1/site3.md" for h in deleted)
    moved = retriever.retrieve("depot code K2V1P2 for site 2", tester).hits
    assert {h.chunk.source for h in moved if "K2V1" in h.chunk.text} == {"share/team0/renamed2.md"}


def test_a_file_moved_into_a_restricted_folder_keeps_its_vectors_and_takes_the_new_labels(
    settings: Settings, embedder: Any, worker: ParseWorker, tmp_path: Path
) -> None:
    from ingest.schema import doc_id

    (settings.policy_dir / "policy.yaml").write_text(
        "version: 1\n"
        "groups: {staff: {description: Staff}, hr: {description: Human resources}}\n"
        "users: {tester: {groups: [staff]}}\n"
        "labels:\n"
        "  - {match: '**', labels: [internal]}\n"
        "  - {match: '*/hr/**', labels: [hr-confidential]}\n"
        "grants:\n"
        "  - {group: staff, labels: [internal]}\n"
        "  - {group: hr, labels: [internal, hr-confidential]}\n"
    )
    root = tmp_path / "share"
    write_doc(root, "general/site4.md", 4, 1)
    source = Source(name="share", path=root)
    deps = deps_for(settings, embedder, worker)
    sync_source(source, deps)
    retriever, tester = _retriever(settings, deps.index, embedder), _tester(settings)
    question = "depot code K4V1P0 for site 4"
    assert {h.chunk.source for h in retriever.retrieve(question, tester).hits} == {"share/general/site4.md"}

    (root / "hr").mkdir()
    (root / "general" / "site4.md").rename(root / "hr" / "site4.md")
    report = sync_source(source, deps)
    assert report.moved == ["share/general/site4.md -> share/hr/site4.md"]
    assert (report.embeddings, report.chunks_reused > 0) == (0, True)
    with deps.index.session() as idx:
        chunks = idx.chunks_of(doc_id("share/hr/site4.md"))
        assert not idx.chunks_of(doc_id("share/general/site4.md"))
    assert chunks and {c.labels for c in chunks} == {("hr-confidential", "internal")}
    assert retriever.retrieve(question, tester).hits == []  # the move took it out of the tester's reach
    assert_index_matches_tree(settings, deps.index, {"share/hr/site4.md": root / "hr" / "site4.md"})


def test_a_moved_folder_reads_the_store_once_per_batch_and_a_file_whose_chunks_are_gone_is_parsed_again(
    settings: Settings, embedder: Any, worker: ParseWorker, tmp_path: Path
) -> None:
    root = tmp_path / "share"
    for n in range(6):
        write_doc(root, f"old/site{n}.md", n, 1)
    source = Source(name="share", path=root)
    parser = CountingParser(worker)
    deps = deps_for(settings, embedder, parser)
    sync_source(source, deps)
    lost = deps.manifest.get("share/old/site0.md").chunk_ids
    with deps.index.session() as idx:  # the index lost one document's chunks (say, a restored backup)
        idx.delete(list(lost))
    (root / "old").rename(root / "new")
    parser.calls.clear()
    sessions = deps.index.sessions
    report = sync_source(source, deps)
    assert parser.calls == ["site0.md"]  # only the file with nothing left to reuse is parsed again
    assert report.embeddings == len(lost) and report.chunks_reused == report.chunks_written - len(lost) > 0
    assert sorted(report.moved) == [f"share/old/site{n}.md -> share/new/site{n}.md" for n in range(6)]
    # One read for the whole batch of moved files, one write, one removal: not one store session per file.
    assert deps.index.sessions - sessions <= 3
    assert_index_matches_tree(settings, deps.index, {f"share/new/site{n}.md": root / "new" / f"site{n}.md" for n in range(6)})
    hits = _retriever(settings, deps.index, embedder).retrieve("depot code K0V1P0 for site 0", _tester(settings)).hits
    assert "share/new/site0.md" in {h.chunk.source for h in hits}


class Killed(Exception):
    """Stands in for the process dying at a durable step (the kill -9 runs are in test_crash_safety)."""


def test_a_sync_killed_between_writing_and_deleting_leaves_answers_on_one_version(
    settings: Settings, embedder: Any, worker: ParseWorker, tmp_path: Path
) -> None:
    import time

    from ingest.schema import doc_id

    root = tmp_path / "docs"
    path = write_doc(root, "a.md", 1, 1)
    source = Source(name="docs", path=root)
    sync_source(source, deps_for(settings, embedder, worker))
    time.sleep(1.1)  # ingest times have one-second resolution
    write_doc(root, "a.md", 1, 2)

    def die_after_upsert(step: str) -> None:
        if step == "upserted":
            raise Killed(step)

    with pytest.raises(Killed):
        sync_source(source, deps_for(settings, embedder, worker, on_step=die_after_upsert))
    index = deps_for(settings, embedder, worker).index
    with index.session() as idx:
        assert len({c.doc_sha256 for c in idx.chunks_of(doc_id("docs/a.md"))}) == 2  # both versions are stored
    retriever, tester = _retriever(settings, index, embedder), _tester(settings)
    question = "What is the depot code and the inspection interval for site 1?"
    got = retriever.retrieve(question, tester)
    assert got.superseded_dropped > 0 and got.hits
    assert all("version 1" in h.chunk.text and "version 2" not in h.chunk.text for h in got.hits)

    resumed = sync_source(source, deps_for(settings, embedder, worker))
    assert resumed.recovered == 1
    assert_index_matches_tree(settings, index, {"docs/a.md": path})
    got = retriever.retrieve(question, tester)
    assert got.superseded_dropped == 0 and all("version 2" in h.chunk.text for h in got.hits)


def test_unchanged_tree_costs_no_parse_embed_or_write(settings: Settings, embedder: Any, worker: ParseWorker, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    for n in range(8):
        write_doc(root, f"d{n}.md", n, 1)
    parser = CountingParser(worker)
    deps = deps_for(settings, embedder, parser)
    sync_source(Source(name="docs", path=root), deps)
    parser.calls.clear()
    again = sync_source(Source(name="docs", path=root), deps)
    assert (again.unchanged, parser.calls, again.embeddings, again.store_sessions) == (8, [], 0, 0)
    assert (again.chunks_written, again.chunks_deleted) == (0, 0)


def test_a_sync_reads_only_files_whose_size_or_times_changed(
    settings: Settings, embedder: Any, worker: ParseWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose size, mtime and ctime are those of its last hashing, and older than that stat, is not read.
    A file rewritten with its old size and mtime put back is read (its ctime moved), and re-ingested; a file
    only touched is read once, found unchanged, and not read again; ingest.rehash_unchanged reads everything."""
    import os

    from ingest import pipeline

    root = tmp_path / "docs"
    for n in range(4):
        write_doc(root, f"d{n}.md", n, 1)
    source, parser = Source(name="docs", path=root), CountingParser(worker)
    deps = deps_for(settings, embedder, parser)
    read: list[str] = []
    real_sha256 = pipeline.file_sha256
    monkeypatch.setattr(pipeline, "file_sha256", lambda path: read.append(path.name) or real_sha256(path))
    first = sync_source(source, deps)
    assert (len(first.ingested), first.hashed, sorted(read)) == (4, 4, ["d0.md", "d1.md", "d2.md", "d3.md"])

    # Every file changed within the margin before the stat that recorded it: its times cannot vouch for it yet.
    monkeypatch.setattr(pipeline, "RACY_NS", 3600 * 10**9)
    read.clear()
    parser.calls.clear()
    second = sync_source(source, deps)
    assert (second.unchanged, second.hashed, len(read), parser.calls) == (4, 4, 4, [])  # read, found unchanged

    monkeypatch.setattr(pipeline, "RACY_NS", 0)  # from here on the recorded stats are old enough
    read.clear()
    third = sync_source(source, deps)
    assert (third.unchanged, third.hashed, read) == (4, 0, [])

    d1 = root / "d1.md"
    before = d1.stat()
    d1.write_text(d1.read_text().replace("version 1", "version 7"))  # the same size
    os.utime(d1, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old modification time put back
    assert (d1.stat().st_size, d1.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    parser.calls.clear()
    fourth = sync_source(source, deps)
    assert (fourth.changed, fourth.hashed, parser.calls) == (["docs/d1.md"], 1, ["d1.md"])

    os.utime(root / "d2.md")  # touched: new times, the same content
    parser.calls.clear()
    read.clear()
    fifth = sync_source(source, deps)
    assert (fifth.unchanged, fifth.hashed, read, parser.calls) == (4, 1, ["d2.md"], [])
    read.clear()
    assert (sync_source(source, deps).hashed, read) == (0, [])  # its new stat was recorded

    read.clear()
    full = sync_source(source, replace(deps, rehash_unchanged=True))
    assert (full.unchanged, full.hashed, len(read)) == (4, 4, 4)
    assert_index_matches_tree(settings, deps.index, {f"docs/{p.name}": p for p in root.iterdir()})
    with deps.index.session() as idx:
        from ingest.schema import doc_id

        assert all("version 7" in c.text for c in idx.chunks_of(doc_id("docs/d1.md")))


def test_failed_file_is_reported_and_retried_only_when_it_changes(
    settings: Settings, embedder: Any, worker: ParseWorker, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    write_doc(root, "good.md", 1, 1)
    (root / "broken.docx").write_bytes(b"PK\x03\x04 this is not really a zip")
    (root / "tool.exe").write_bytes(b"MZ\x90\x00")
    parser = CountingParser(worker)
    deps = deps_for(settings, embedder, parser)
    first = sync_source(Source(name="docs", path=root), deps)
    assert sorted((f.source, f.code) for f in first.failed) == [("docs/broken.docx", "corrupt"), ("docs/tool.exe", "unsupported")]
    parser.calls.clear()
    second = sync_source(Source(name="docs", path=root), deps)
    assert (second.failed, parser.calls, second.unchanged) == ([], [], 3)
    shutil.copy(tmp_path / "docs" / "good.md", root / "broken.docx")  # still not a docx, but changed
    third = sync_source(Source(name="docs", path=root), deps)
    assert parser.calls == ["broken.docx"] and [f.code for f in third.failed] == ["corrupt"]


def test_retry_failed_parses_an_unchanged_failure_again_once_a_limit_is_raised(
    settings: Settings, embedder: Any, worker: ParseWorker, tmp_path: Path
) -> None:
    """A cp1252 text fails with `encoding`; after the site sets the encoding, only --retry-failed parses it again."""
    from ingest.precheck import ParseLimits

    root = tmp_path / "docs"
    root.mkdir()
    cafe = root / "cafe.txt"
    cafe.write_bytes("Le café du personnel ouvre à 7 h; crème et thé gratuits.\n".encode("cp1252"))
    first = sync_source(Source(name="docs", path=root), deps_for(settings, embedder, worker))
    assert [(f.source, f.code) for f in first.failed] == [("docs/cafe.txt", "encoding")]
    limits = WorkerLimits(timeout_s=120, memory_bytes=3 << 30, parse=ParseLimits(text_encoding="cp1252"))
    with ParseWorker(limits, tmp_path / "parse") as cp1252:
        parser = CountingParser(cp1252)
        plain = sync_source(Source(name="docs", path=root), deps_for(settings, embedder, parser))
        assert (plain.unchanged, plain.failed, parser.calls) == (1, [], [])
        retried = sync_source(Source(name="docs", path=root), deps_for(settings, embedder, parser, retry_failed=True))
    assert (retried.ingested, retried.failed, parser.calls) == (["docs/cafe.txt"], [], ["cafe.txt"])
    index = deps_for(settings, embedder, worker).index
    assert_index_matches_tree(settings, index, {"docs/cafe.txt": cafe})
    hits = _retriever(settings, index, embedder).retrieve("When does the staff café open?", _tester(settings)).hits
    assert "café du personnel" in hits[0].chunk.text


def test_a_file_that_cannot_be_read_or_is_gone_by_then_does_not_stop_the_sync(
    settings: Settings, embedder: Any, worker: ParseWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share changes while a sync runs, and a service account may not read every file. A file deleted after
    the folder was listed, or after it was hashed but before it was parsed, keeps its indexed version until the
    next sync lists the folder (a share unmounted halfway must not read as every file deleted); a file that
    cannot be opened is reported and its old version withdrawn; the rest is synced. Once the file can be read
    again, and the deleted ones are listed as gone, the next sync puts the index in step."""
    import os

    from ingest import pipeline
    from ingest.schema import doc_id

    root = tmp_path / "docs"
    for n in range(4):
        write_doc(root, f"d{n}.md", n, 1)
    locked = write_doc(root, "locked.md", 7, 1)
    source = Source(name="docs", path=root)
    deps = deps_for(settings, embedder, worker)
    assert len(sync_source(source, deps).ingested) == 5

    write_doc(root, "d1.md", 1, 2)
    write_doc(root, "d3.md", 3, 2)

    def parse_after_d3_is_deleted(path: Path) -> Any:
        if path.name == "d3.md":
            path.unlink()  # deleted by a user after the sync hashed it, before its turn to be parsed
        return worker(path)

    listed = pipeline.discover_source

    def listed_then_one_deleted(src: Source) -> list[tuple[str, Path]]:
        files = listed(src)
        (root / "d2.md").unlink()  # a user deletes it while the sync is under way
        return files

    monkeypatch.setattr(pipeline, "discover_source", listed_then_one_deleted)
    if os.geteuid() != 0:
        locked.chmod(0)
    else:  # root opens any file whatever its mode; the open fails here as it does for a service account
        # (the next test has the kernel refuse it, through `enclave ingest`, with nothing injected)
        real_sha256 = pipeline.file_sha256

        def denied(path: Path) -> str:
            if path == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_sha256(path)

        monkeypatch.setattr(pipeline, "file_sha256", denied)
    second = sync_source(source, replace(deps, parse=parse_after_d3_is_deleted))
    assert second.changed == ["docs/d1.md"] and second.removed == []
    assert [(f.source, f.code) for f in second.failed] == [("docs/locked.md", "unreadable")]
    assert "Permission denied" in second.failed[0].message
    with deps.index.session() as idx:
        assert idx.chunks_of(doc_id("docs/locked.md")) == []
        for n in (2, 3):  # still the version last ingested
            assert {f"Document {n} version 1" in c.text for c in idx.chunks_of(doc_id(f"docs/d{n}.md"))} == {True}
        d1 = [c.text for c in idx.chunks_of(doc_id("docs/d1.md"))]
        assert d1 and all("Document 1 version 2" in t and "Document 1 version 1" not in t for t in d1)

    monkeypatch.undo()
    locked.chmod(0o644)  # read access given back (the change time moves, even for root)
    third = sync_source(source, deps)
    assert (third.ingested, third.failed, third.unchanged) == (["docs/locked.md"], [], 2)
    assert sorted(third.removed) == ["docs/d2.md", "docs/d3.md"]
    assert_index_matches_tree(settings, deps.index, {f"docs/{p.name}": p for p in root.iterdir()})


def test_enclave_ingest_as_an_account_a_file_shuts_out_reports_it_and_ingests_the_rest(
    settings: Settings, tmp_path: Path,
) -> None:
    """The same refusal with nothing injected: `enclave ingest` runs as an account the file's mode really
    shuts out. Under root (CI), that is root without the capabilities that override file modes, as a
    service account has none; the kernel refuses the open. Once read access is given, the next run ingests it."""
    import os
    import subprocess
    import sys

    root = tmp_path / "share"
    write_doc(root, "open.md", 1, 1)
    locked = write_doc(root, "locked.md", 2, 1)
    locked.chmod(0)
    account: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")  # util-linux, on every Debian
        assert setpriv, "setpriv (util-linux) is needed to run the job without root's file-mode override"
        account = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
        probe = subprocess.run([*account, "true"], capture_output=True, text=True, check=False)
        if probe.returncode != 0:  # a container without CAP_SETPCAP cannot shed capabilities
            pytest.skip(f"cannot drop root's file-mode override here: {probe.stderr.strip()}")

    def ingest() -> dict[str, Any]:
        done = subprocess.run(
            [*account, sys.executable, "-m", "enclave", "ingest", str(root), "--json"],
            capture_output=True, text=True, timeout=600, check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    first = ingest()
    assert first["ingested"] == ["share/open.md"]
    assert [(f["source"], f["code"]) for f in first["failed"]] == [("share/locked.md", "unreadable")]
    assert "Permission denied" in first["failed"][0]["message"]
    assert '"code":"unreadable"' in settings.audit_log_path.read_text()

    locked.chmod(0o644)
    second = ingest()
    assert (second["ingested"], second["failed"], second["unchanged"]) == (["share/locked.md"], [], 1)


def test_a_source_that_lists_no_files_withdraws_nothing_unless_told(settings: Settings, tmp_path: Path) -> None:
    """An unmounted share is an empty folder to a sync: `enclave ingest` refuses, with the reason and the next
    step, rather than remove every document of the source; `--allow-empty` withdraws them when it was meant."""
    import subprocess
    import sys

    from enclave.ingest_job import history

    root = tmp_path / "share"
    paths = [write_doc(root, f"d{n}.md", n, 1) for n in range(2)]

    def ingest(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "enclave", "ingest", str(root), "--json", *flags],
            capture_output=True, text=True, timeout=600, check=False,
        )

    assert ingest().returncode == 0
    for path in paths:
        path.unlink()  # as the mount point looks when the share is not mounted
    refused = ingest()
    message = " ".join(refused.stderr.split())  # the console wraps long lines
    assert refused.returncode == 1
    assert "lists no files, but the index holds 2 document(s) from it; nothing was removed" in message
    assert "check the share is mounted" in message and "enclave ingest --allow-empty" in message
    manifest = Manifest(settings.manifest_path)
    try:
        assert sorted(r.source for r in manifest.all() if r.status == "ingested") == ["share/d0.md", "share/d1.md"]
    finally:
        manifest.close()
    kept = history(settings)
    assert kept.recent(1)[0].status == "failed" and "SourceEmpty" in (kept.recent(1)[0].error or "")
    kept.close()
    emptied = ingest("--allow-empty")
    assert emptied.returncode == 0, emptied.stderr
    assert sorted(json.loads(emptied.stdout)["removed"]) == ["share/d0.md", "share/d1.md"]


def test_include_exclude_and_size_limit(settings: Settings, embedder: Any, worker: ParseWorker, tmp_path: Path) -> None:
    root = tmp_path / "share"
    write_doc(root, "keep/a.md", 1, 1)
    write_doc(root, "keep/drafts/b.md", 2, 1)
    write_doc(root, "other/c.md", 3, 1)
    (root / "keep" / "big.md").write_text("# Big\n\n" + "word " * 50_000)
    source = Source(name="s", path=root, include=("keep/**",), exclude=("**/drafts/**",), max_file_bytes=100_000)
    report = sync_source(source, deps_for(settings, embedder, worker))
    assert report.ingested == ["s/keep/a.md"]
    assert [(f.source, f.code) for f in report.failed] == [("s/keep/big.md", "too_large")]


def test_job_keeps_history_and_a_second_sync_is_refused(settings: Settings, embedder: Any, tmp_path: Path) -> None:
    from enclave.ingest_job import folder_source, history, run_ingest_job

    root = tmp_path / "docs"
    write_doc(root, "a.md", 1, 1)
    with sync_lock(settings.home), pytest.raises(AlreadyRunning, match="already running"):
        run_ingest_job(settings, [folder_source(settings, root)], trigger="test", actor="tester", embedder=embedder)
    report = run_ingest_job(settings, [folder_source(settings, root)], trigger="test", actor="tester", embedder=embedder)
    assert report.ingested == ["docs/a.md"]
    runs = history(settings).recent()
    assert [(r.trigger, r.actor, r.status, r.report["outcomes"]["ingested"]) for r in runs] == [("test", "tester", "ok", 1)]
    audit = (settings.audit_log_path).read_text()
    assert '"kind":"ingest_run"' in audit and '"docs/a.md"' in audit
    assert not list((settings.home / "tmp").iterdir())  # the job's temp area is gone


def test_a_source_that_cannot_be_synced_leaves_the_others_synced_and_fails_the_run(
    settings: Settings, embedder: Any, tmp_path: Path
) -> None:
    """One job, three sources: one folder is missing, one lists nothing (unmounted shares); the third is synced
    anyway, the two are left as they were, and the run fails naming both."""
    from enclave.ingest_job import history, run_ingest_job
    from ingest.errors import SourceUnavailable

    shares = {name: tmp_path / name for name in ("hr", "wards", "policies")}
    write_doc(shares["hr"], "leave.md", 1, 1)
    write_doc(shares["wards"], "rota.md", 2, 1)
    sources = [Source(name=name, path=path) for name, path in shares.items()]
    first = run_ingest_job(settings, sources[:2], trigger="test", actor="tester", embedder=embedder)
    assert sorted(first.ingested) == ["hr/leave.md", "wards/rota.md"]

    shutil.rmtree(shares["hr"])
    shares["hr"].mkdir()  # the mount point, with nothing mounted on it
    write_doc(shares["wards"], "rota.md", 2, 2)
    write_doc(shares["policies"], "fire.md", 3, 1)  # a new source; "lab" below has no folder at all
    with pytest.raises(SourceUnavailable) as raised:
        run_ingest_job(settings, [*sources, Source(name="lab", path=tmp_path / "lab")], trigger="test", actor="tester", embedder=embedder)
    assert "source 'hr'" in str(raised.value) and "source 'lab'" in str(raised.value) and "is not a folder" in str(raised.value)
    run = history(settings).recent(1)[0]
    assert run.status == "failed" and run.report["outcomes"]["ingested"] == 1  # policies/fire.md
    manifest = Manifest(settings.manifest_path)
    try:
        records = {r.source: r for r in manifest.all()}
    finally:
        manifest.close()
    assert sorted(records) == ["hr/leave.md", "policies/fire.md", "wards/rota.md"]
    assert {r.status for r in records.values()} == {"ingested"}
    assert records["wards/rota.md"].sha256 == file_sha256(shares["wards"] / "rota.md")  # the change was synced
