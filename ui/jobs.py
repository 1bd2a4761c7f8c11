"""Ingest started from the admin page, run in this process because it owns the embedded index."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from enclave.settings import Settings


@dataclass
class IngestJob:
    """The one ingest this process may run at a time, with its progress."""

    running: bool = False
    done: int = 0
    total: int = 0
    current: str = ""
    message: str = ""
    failed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@st.cache_resource(show_spinner=False)
def ingest_job() -> IngestJob:
    """The process-wide ingest job state."""
    return IngestJob()


def configured_sources(cfg: Settings) -> list[Path]:
    """Folders the settings name as ingest sources (none when the site has not configured any)."""
    sources = getattr(cfg, "sources", None) or []
    return [Path(getattr(s, "path", s)) for s in sources]


def schedule_text(cfg: Settings) -> str:
    """The ingest schedule in words."""
    return "not configured"


def last_runs(cfg: Settings) -> list[dict[str, Any]]:
    """Recent ingest runs, newest first (empty when no run history is kept)."""
    return []


def start_ingest(cfg: Settings, sources: list[Path], started_by: str) -> bool:
    """Start an ingest of `sources` in a background thread; False when one is already running."""
    job = ingest_job()
    with job.lock:
        if job.running:
            return False
        job.running, job.done, job.total, job.current, job.message, job.failed = True, 0, 0, "", "", False
    threading.Thread(target=_run, args=(cfg, sources, started_by), name="enclave-ingest", daemon=True).start()
    return True


def _run(cfg: Settings, sources: list[Path], started_by: str) -> None:
    from enclave.wiring import ingest_deps
    from ingest.pipeline import Progress, discover, ingest_folder
    from ui import engine

    job = ingest_job()
    eng = engine.engine(cfg)

    def progress(p: Progress) -> None:
        job.done, job.current = done_before + p.done, p.source

    try:
        job.total = sum(len(discover(s)) for s in sources)
        done_before, seen, failed = 0, 0, 0
        with eng.ingest_lock:
            deps = ingest_deps(cfg, eng.index, eng.embedder)
            try:
                for source in sources:
                    report = ingest_folder(source, deps, progress)
                    done_before += report.files_seen
                    seen += report.files_seen
                    failed += len(report.failed)
            finally:
                deps.manifest.close()
        job.message = f"Ingest finished: {seen} file(s) checked, {failed} failed."
        job.failed = False
        engine.audit(cfg, "ingest_run", started_by, files=seen, failed=failed, sources=[str(s) for s in sources])
    except Exception as exc:  # the UI edge: any failure becomes the job's message
        job.message, job.failed = f"Ingest failed: {exc}", True
    finally:
        job.running = False
