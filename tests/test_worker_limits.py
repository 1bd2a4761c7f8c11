"""A parser crash and a parser over its memory limit, provoked for real inside an ingest job: the child
process dies or is stopped, the file gets its reason code, and the next file of the same job is ingested."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from enclave.settings import Settings
from ingest.pipeline import Progress
from tests.corpus import NOVEL

# The parse child imports unstructured under its RLIMIT_AS: it starts at about 950 MiB of address space
# (900 fails while warming up), so 1,280 leaves room to start and to parse a small file, not a big table.
TIGHT_MEMORY_MB = 1280
BIG_CSV_ROWS = 500_000  # 19 MiB of CSV; parsed without a limit it peaks at 2.6 GiB of address space


def _with_ingest(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"ingest": settings.ingest.model_copy(update=changes)})


def _parse_child() -> psutil.Process:
    """The job's parse worker: the one spawned multiprocessing child of this test process."""
    children = [p for p in psutil.Process().children(recursive=True) if "multiprocessing.spawn" in " ".join(p.cmdline())]
    assert len(children) == 1, children
    return children[0]


def _segfault_once_busy(child: psutil.Process, busy_cpu_s: float, sent: list[int]) -> None:
    """Send SIGSEGV once the idle child has spent `busy_cpu_s` of CPU on the next file (it is mid-parse then)."""
    start = sum(child.cpu_times()[:2])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(child.cpu_times()[:2]) - start >= busy_cpu_s:
            os.kill(child.pid, signal.SIGSEGV)
            sent.append(child.pid)
            return
        time.sleep(0.05)


def test_a_parser_crash_fails_that_file_and_the_next_file_is_ingested(settings: Settings, tmp_path: Path) -> None:
    """SIGSEGV in the child while it parses a 1,225-page novel: `crashed`, and a fresh child parses the next file."""
    from enclave.ingest_job import folder_source, run_ingest_job

    if not NOVEL.exists():
        pytest.skip("example-docs not present")
    root = tmp_path / "share"
    root.mkdir()
    (root / "1-first.md").write_text("# Gate\n\nVisitors sign in at the east gate.\n")
    (root / "2-novel.txt").write_bytes(NOVEL.read_bytes())  # some 14 s of parsing here: long enough to be hit at 1 s
    (root / "3-last.md").write_text("# Dock\n\nThe loading dock closes at 5 pm.\n")
    sent: list[int] = []
    watchers: list[threading.Thread] = []

    def on_progress(progress: Progress) -> None:
        if progress.source == "share/1-first.md":  # the child is up and idle: arm the crash
            watcher = threading.Thread(target=_segfault_once_busy, args=(_parse_child(), 1.0, sent), daemon=True)
            watcher.start()
            watchers.append(watcher)

    began = time.monotonic()
    job = _with_ingest(settings, parse_timeout_s=120, parse_workers=1)  # one child: the one the watcher finds
    report = run_ingest_job(job, [folder_source(job, root)], trigger="test", actor="tester", on_progress=on_progress)
    for watcher in watchers:
        watcher.join()
    assert len(sent) == 1, "the child never got busy on the novel"
    assert not psutil.pid_exists(sent[0]) or psutil.Process(sent[0]).status() == psutil.STATUS_ZOMBIE
    assert [(f.source, f.code) for f in report.failed] == [("share/2-novel.txt", "crashed")]
    assert "-11" in report.failed[0].message  # died of SIGSEGV, reported as such
    assert sorted(report.ingested) == ["share/1-first.md", "share/3-last.md"]
    assert time.monotonic() - began < 90  # the crash was not waited out as a timeout


def test_a_parse_over_the_memory_limit_fails_that_file_and_the_next_file_is_ingested(
    settings: Settings, tmp_path: Path
) -> None:
    """A big CSV under a tight RLIMIT_AS: `memory`; the child is replaced and the small file is ingested."""
    from enclave.ingest_job import folder_source, run_ingest_job

    root = tmp_path / "share"
    root.mkdir()
    rows = "".join(f"{i},Member {i},Depot {i % 97},{i * 3}.50\n" for i in range(BIG_CSV_ROWS))
    (root / "a-ledger.csv").write_text("id,name,depot,amount\n" + rows)
    (root / "b-notes.md").write_text("# Notes\n\nThe loading dock closes at 5 pm.\n")
    job = _with_ingest(settings, parse_memory_mb=TIGHT_MEMORY_MB, parse_timeout_s=120)
    report = run_ingest_job(job, [folder_source(job, root)], trigger="test", actor="tester")
    assert [(f.source, f.code) for f in report.failed] == [("share/a-ledger.csv", "memory")]
    assert report.ingested == ["share/b-notes.md"]
