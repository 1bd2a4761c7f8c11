"""An ingest job: lock, sandboxed parsers, shared store, every source synced, history + audit kept."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from enclave.settings import Settings
from ingest.errors import IngestError, SourceUnavailable
from ingest.history import RunHistory, sync_lock
from ingest.pipeline import IngestReport, Progress, sync_source
from ingest.sources import Source

HISTORY_FILE = "ingest-history.sqlite"


def configured_sources(settings: Settings, names: Sequence[str] = ()) -> list[Source]:
    """The sources declared in settings (all, or those named)."""
    default_max = settings.ingest.max_file_mb << 20
    sources = [
        Source(
            name=s.name, path=Path(s.path), include=tuple(s.include), exclude=tuple(s.exclude),
            max_file_bytes=(s.max_file_mb << 20) if s.max_file_mb else default_max, schedule=s.schedule,
        )
        for s in settings.ingest.sources
    ]
    if names:
        unknown = sorted(set(names) - {s.name for s in sources})
        if unknown:
            raise IngestError(f"no source named {', '.join(unknown)}", hint="see ingest.sources in enclave.toml")
        sources = [s for s in sources if s.name in names]
    if not sources:
        raise IngestError("no sources are configured", hint="pass a folder, or declare ingest.sources in enclave.toml")
    return sources


def folder_source(settings: Settings, path: Path) -> Source:
    """An ad-hoc source for one folder, named after it (as `enclave ingest PATH` always did)."""
    root = Path(path).resolve()
    return Source(name=root.name, path=root, max_file_bytes=settings.ingest.max_file_mb << 20)


def history(settings: Settings) -> RunHistory:
    """The ingest history under ENCLAVE_HOME."""
    return RunHistory(settings.home / HISTORY_FILE)


def run_ingest_job(
    settings: Settings,
    sources: Sequence[Source],
    *,
    trigger: str,
    actor: str,
    embedder: Any = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_step: Callable[[str], None] | None = None,
    retry_failed: bool = False,
    allow_empty: bool = False,
) -> IngestReport:
    """Sync `sources` once under the ingest lock (AlreadyRunning if another sync holds it)."""
    from enclave.wiring import build_embedder, ingest_deps, shared_index
    from ingest.precheck import one_per_core
    from ingest.worker import ParsePool, WorkerLimits

    with sync_lock(settings.home):
        started = datetime.now(UTC).isoformat(timespec="seconds")
        (settings.home / "tmp").mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix="ingest-", dir=settings.home / "tmp"))
        report = IngestReport()
        error: str | None = None
        embedder = embedder or build_embedder(settings)
        index = shared_index(settings, embedder)
        i = settings.ingest
        parsers = ParsePool(
            WorkerLimits(
                timeout_s=i.parse_timeout_s,
                memory_bytes=i.parse_memory_mb << 20,
                parse=_parse_limits(settings),
            ),
            temp / "parse",
            workers=one_per_core(i.parse_workers),
            window=i.write_batch_files + 1,  # the next batch is parsed while this one is embedded
        )
        deps = replace(
            ingest_deps(settings, index, embedder), parse=parsers, on_step=on_step, retry_failed=retry_failed, allow_empty=allow_empty
        )
        try:
            unavailable = []
            for source in sources:
                try:
                    sync_source(source, deps, on_progress, report)
                except SourceUnavailable as exc:  # that source is left as it is; the others are still synced
                    unavailable.append(exc)
            if unavailable:  # the run fails, with every source that could not be synced named
                raise unavailable[0] if len(unavailable) == 1 else SourceUnavailable(
                    "; ".join(str(e) for e in unavailable), hint=unavailable[0].hint
                )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            parsers.close()
            deps.manifest.close()
            index.close()
            shutil.rmtree(temp, ignore_errors=True)
            kept = history(settings)
            run_id = kept.record(started, trigger, actor, report.to_dict(), error)
            kept.close()
            _audit(settings, actor, trigger, run_id, report, error)
        return report


def start_scheduler(
    settings: Settings, embedder: Any = None, on_error: Callable[[Exception], None] = lambda exc: None
) -> tuple[threading.Thread, threading.Event]:
    """Run the sources' schedules in a daemon thread (the server calls this when ingest.schedule_enabled)."""
    from ingest.schedule import Scheduler

    stop = threading.Event()
    scheduler = Scheduler(
        configured_sources(settings),
        lambda due: run_ingest_job(settings, due, trigger="schedule", actor="scheduler", embedder=embedder),
        on_error=on_error,
    )
    thread = threading.Thread(target=scheduler.run_until, args=(stop,), name="enclave-schedule", daemon=True)
    thread.start()
    return thread, stop


def _parse_limits(settings: Settings) -> Any:
    from ingest.precheck import ParseLimits

    i = settings.ingest
    return ParseLimits(
        max_pages=i.max_pages, max_unpacked_bytes=i.max_unpacked_mb << 20, text_encoding=i.text_encoding,
        ocr_threads=i.ocr_threads,
    )


def _audit(settings: Settings, actor: str, trigger: str, run_id: int, report: IngestReport, error: str | None) -> None:
    """One ingest_run audit event per run: which files were added, changed, removed or failed."""
    from enclave.wiring import open_audit_log

    open_audit_log(settings).append(
        "ingest_run", actor, run_id=run_id, trigger=trigger, sources=report.sources, status="failed" if error else "ok",
        error=error, files_seen=report.files_seen, added=report.ingested, changed=report.changed,
        removed=report.removed, unchanged=report.unchanged, recovered=report.recovered,
        failed=[{"source": f.source, "code": f.code} for f in report.failed], moved=report.moved,
        metadata_unread=[f.source for f in report.metadata_unread],
        chunks_written=report.chunks_written, chunks_deleted=report.chunks_deleted, chunks_reused=report.chunks_reused,
    )
