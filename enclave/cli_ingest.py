"""`enclave ingest` and `enclave schedule`: sync sources once, show the history, or run the schedule."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)


def ingest(
    path: Annotated[Path | None, typer.Argument(help="A folder to sync now (default: every source in settings).")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Sync only this configured source (repeatable).")] = None,
    show_history: Annotated[bool, typer.Option("--history", help="Show the latest runs and exit.")] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Parse files that failed last time again, even if unchanged (after raising a limit).")
    ] = False,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Let a source that lists no files withdraw every document it had (emptied on purpose).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Bring the index in step with the sources: new, changed, moved and deleted files; unchanged ones cost a stat."""
    from enclave.ingest_job import configured_sources, folder_source, run_ingest_job
    from enclave.settings import load_settings
    from enclave.wiring import default_user

    settings = load_settings()
    if show_history:
        _print_history(settings, json_out)
        return
    sources = [folder_source(settings, path)] if path is not None else configured_sources(settings, source or ())
    with _progress_bar(disabled=json_out) as on_progress:
        report = run_ingest_job(
            settings, sources, trigger="cli", actor=default_user(), on_progress=on_progress, retry_failed=retry_failed,
            allow_empty=allow_empty,
        )
    if json_out:
        print(json.dumps(report.to_dict()))
        return
    _print_report(report)


def schedule(
    once: Annotated[bool, typer.Option("--once", help="Print when each source runs next, then exit.")] = False,
) -> None:
    """Run every source's cron schedule in the foreground (Ctrl-C stops); the server does this when enabled."""
    from datetime import UTC, datetime

    from enclave.ingest_job import configured_sources, run_ingest_job
    from enclave.settings import load_settings
    from enclave.wiring import build_embedder
    from ingest.schedule import Scheduler

    settings = load_settings()
    sources = configured_sources(settings)
    if once:
        scheduler = Scheduler(sources, lambda due: None)
        for name, when in scheduler.due_times(datetime.now(UTC)).items():
            out.print(f"{name}: next run {when.isoformat(timespec='minutes')}", highlight=False)
        return
    embedder = build_embedder(settings)

    def run(due: list[Any]) -> None:
        out.print(f"[bold]sync[/] {', '.join(s.name for s in due)}")
        _print_report(run_ingest_job(settings, due, trigger="schedule", actor="scheduler", embedder=embedder))

    stop = threading.Event()
    try:
        Scheduler(sources, run, on_error=lambda exc: err.print(f"[yellow]skipped:[/] {escape(str(exc))}")).run_until(stop)
    except KeyboardInterrupt:
        stop.set()


class _progress_bar:
    """Files, chunks, rate and ETA on stderr while a sync runs."""

    def __init__(self, disabled: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("[bold]ingest[/] {task.fields[source]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[chunks]} chunks  {task.fields[rate]}"), TimeRemainingColumn(),
            TextColumn("{task.fields[current]}"), console=err, transient=False, disable=disabled,
        )
        self._task: Any = None
        self._started = time.perf_counter()

    def __enter__(self) -> Any:
        self._bar.__enter__()
        self._task = self._bar.add_task("ingest", total=None, source="", chunks=0, rate="", current="")
        return self._update

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def _update(self, p: Any) -> None:
        elapsed = max(1e-6, time.perf_counter() - self._started)
        self._bar.update(
            self._task, completed=p.done, total=p.total, source=p.source.split("/", 1)[0], chunks=p.chunks,
            rate=f"{p.done / elapsed:.1f} files/s", current=escape(p.source[-50:]),
        )


def _print_report(report: Any) -> None:
    out.print(
        f"files: {report.files_seen} seen, {len(report.ingested)} new, {len(report.changed)} changed, "
        f"{report.unchanged} unchanged, {len(report.removed)} removed, {len(report.failed)} failed"
        + (f", {len(report.moved)} moved" if report.moved else "")
        + f"; {report.hashed} read and hashed"
        + (f"; {report.recovered} interrupted write(s) recovered" if report.recovered else ""),
        highlight=False,
    )
    out.print(
        f"chunks: {report.chunks_written} written, {report.chunks_deleted} deleted; embeddings computed: "
        f"{report.embeddings}"
        + (f" ({report.chunks_reused} reused from moved files)" if report.chunks_reused else "")
        + f"; {report.seconds['total']:.1f} s",
        highlight=False,
    )
    for f in report.failed:
        out.print(f"[yellow]skipped[/] {escape(f.source)}: {escape(f'[{f.code}] {f.message}')}")
    for f in report.metadata_unread:
        out.print(f"[yellow]path labels only[/] {escape(f.source)}: {escape(f'[{f.code}] {f.message}')}")


def _print_history(settings: Any, json_out: bool) -> None:
    from enclave.ingest_job import history

    kept = history(settings)
    runs = kept.recent(20)
    kept.close()
    if json_out:
        print(json.dumps([r.__dict__ for r in runs]))
        return
    if not runs:
        out.print("no ingest runs yet")
        return
    for r in runs:
        o = r.report.get("outcomes", {})
        out.print(
            f"#{r.id} {r.started_at} {r.trigger}/{r.actor} [{'green' if r.status == 'ok' else 'red'}]{r.status}[/] "
            f"{o.get('ingested', 0)} new, {o.get('changed', 0)} changed, {o.get('removed', 0)} removed, "
            f"{o.get('failed', 0)} failed, {o.get('unchanged', 0)} unchanged in {r.report['seconds']['total']:.1f} s",
            highlight=False,
        )
        for f in r.report.get("failed", []):
            out.print(f"    [yellow]{escape(f['code'])}[/] {escape(f['source'])}: {escape(f['message'])}")
        if r.error:
            out.print(f"    [red]error[/] {escape(r.error)}")

