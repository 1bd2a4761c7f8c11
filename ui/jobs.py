"""Ingest from the admin page: the configured sources, their schedule, past runs, and a run started here."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    """The process-wide ingest job state (what an admin started here; not per user)."""
    return IngestJob()


def configured_sources(cfg: Settings) -> list[Any]:
    """Sources declared in settings (ingest.sources); empty when the site has none."""
    from enclave.ingest_job import configured_sources as declared
    from ingest.errors import IngestError

    try:
        return list(declared(cfg))
    except IngestError:
        return []


def schedule_rows(cfg: Settings, sources: list[Any]) -> list[dict[str, Any]]:
    """Each source with its folder, cron schedule and next run."""
    from ingest.schedule import next_due

    now = datetime.now(UTC)
    rows = []
    for s in sources:
        nxt = ""
        if s.schedule and cfg.ingest.schedule_enabled:
            nxt = next_due(s.schedule, now).strftime("%Y-%m-%d %H:%M UTC")
        rows.append(
            {
                "Source": s.name,
                "Folder": str(s.path),
                "Schedule": s.schedule or "manual only",
                "Next run": nxt or ("schedule off" if s.schedule else "—"),
            }
        )
    return rows


def last_runs(cfg: Settings, limit: int = 10) -> list[dict[str, Any]]:
    """Recent ingest runs, newest first."""
    from enclave.ingest_job import history

    kept = history(cfg)
    try:
        runs = kept.recent(limit)
    finally:
        kept.close()
    return [
        {
            "Run": r.id,
            "Started (UTC)": r.started_at.replace("T", " ").replace("+00:00", ""),
            "Trigger": r.trigger,
            "By": r.actor,
            "Status": r.status,
            "Files": r.report.get("files_seen"),
            "Added": len(r.report.get("ingested") or []),
            "Changed": len(r.report.get("changed") or []),
            "Removed": len(r.report.get("removed") or []),
            "Failed": len(r.report.get("failed") or []),
            "Error": r.error or "",
        }
        for r in runs
    ]


def start_ingest(cfg: Settings, sources: list[Any], started_by: str) -> bool:
    """Start a sync of `sources` in a background thread; False when one is already running here."""
    job = ingest_job()
    with job.lock:
        if job.running:
            return False
        job.running, job.done, job.total, job.current, job.message, job.failed = True, 0, 0, "", "", False
    threading.Thread(target=_run, args=(cfg, sources, started_by), name="enclave-ingest", daemon=True).start()
    return True


def _run(cfg: Settings, sources: list[Any], started_by: str) -> None:
    from enclave.ingest_job import run_ingest_job
    from ingest.pipeline import Progress

    job = ingest_job()

    def progress(p: Progress) -> None:
        job.done, job.total, job.current = p.done, p.total, p.source

    try:
        embedder = _loaded_embedder(cfg)
        report = run_ingest_job(cfg, sources, trigger="ui", actor=started_by, embedder=embedder, on_progress=progress)
        job.message = (
            f"Ingest finished: {report.files_seen} file(s) checked, {len(report.ingested)} added, "
            f"{len(report.changed)} changed, {len(report.removed)} removed, {len(report.failed)} failed."
        )
        if report.failed:
            job.message += " " + "; ".join(f"{f.source}: {f.message}" for f in report.failed[:3])
        job.failed = bool(report.failed)
    except Exception as exc:  # the UI edge: any failure becomes the job's message
        hint = getattr(exc, "hint", "")
        job.message, job.failed = f"Ingest failed: {exc}" + (f" ({hint})" if hint else ""), True
    finally:
        job.running = False


def _loaded_embedder(cfg: Settings) -> Any:
    """The embedder the chat already loaded (saves a second copy in memory), else None."""
    from ui import engine

    return engine.engine(cfg).embedder
