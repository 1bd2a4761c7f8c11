"""`enclave audit verify | show | export`: check and read the tamper-evident audit log."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from policies.errors import PolicyError

audit_app = typer.Typer(no_args_is_help=True, help="Verify, show and export the audit log.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

LogOption = Annotated[Path | None, typer.Option("--log", help="A log file to read (default: the live log).")]
KeyOption = Annotated[Path | None, typer.Option("--key-file", help="The HMAC key (default: settings audit_key_file).")]
UserFilter = Annotated[str | None, typer.Option("--user", help="Only events by this actor.")]
KindFilter = Annotated[str | None, typer.Option("--kind", help="Only events of this kind (e.g. answer, denial).")]
SinceFilter = Annotated[str | None, typer.Option("--since", help="From this UTC time (ISO, e.g. 2026-11-28T09:00).")]
UntilFilter = Annotated[str | None, typer.Option("--until", help="Before this UTC time (ISO).")]


def _open(log: Path | None, key_file: Path | None) -> Any:
    from enclave.settings import load_settings
    from enclave.wiring import open_audit_log
    from policies.audit import AuditLog, load_key

    settings = load_settings()
    if log is None and key_file is None:
        return open_audit_log(settings)
    key = load_key(key_file or settings.audit_key_path)
    return AuditLog(log or settings.audit_log_path, key)


def _record_live(kind: str, **details: Any) -> None:
    """Note the action in the live log; a failure is reported, the read-only command still runs."""
    from enclave.settings import load_settings
    from enclave.wiring import default_user, open_audit_log

    try:
        open_audit_log(load_settings()).append(kind, default_user(), **details)
    except PolicyError as exc:
        err.print(f"[yellow]warning:[/] could not record this in the audit log: {exc}")


@audit_app.command()
def verify(
    log: LogOption = None,
    key_file: KeyOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Check hashes, chain, HMACs and checkpoint; exit 1 naming the first bad record."""
    audit = _open(log, key_file)
    result = audit.verify()
    _record_live("audit_verify", log=str(audit.path), **result.to_dict())
    if json_out:
        print(json.dumps(result.to_dict()))
    elif result.ok:
        out.print(f"[green]✓[/] {escape(result.message())} ({result.seconds:.2f} s)", highlight=False)
    else:
        err.print(f"[bold red]✗[/] {escape(str(audit.path))}: {escape(result.message())}", highlight=False)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command()
def show(
    user: UserFilter = None,
    kind: KindFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many (the latest).")] = 50,
    log: LogOption = None,
    key_file: KeyOption = None,
) -> None:
    """Show events, newest last, filtered by user, kind and time."""
    rows = list(_filtered(_open(log, key_file).records(), user, kind, since, until))[-limit:] if limit > 0 else []
    for r in rows:
        details = json.dumps(r.get("details", {}), ensure_ascii=False)
        out.print(f"{r['seq']:>7} {r['ts']} {r['kind']:<14} {escape(r['actor'])}  {escape(_cut(details, 160))}", highlight=False)
    out.print(f"({len(rows)} event(s))")


@audit_app.command()
def export(
    output: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    user: UserFilter = None,
    kind: KindFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    log: LogOption = None,
    key_file: KeyOption = None,
) -> None:
    """Write events as JSON Lines (one record per line, with hash and mac) for a SIEM."""
    audit = _open(log, key_file)
    rows = _filtered(audit.records(), user, kind, since, until)
    count = 0
    target = open(output, "w") if output else sys.stdout  # noqa: SIM115 - stdout is not ours to close
    try:
        for r in rows:
            target.write(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n")
            count += 1
    finally:
        if output:
            target.close()
    _record_live("admin_action", action="audit_export", records=count, to=str(output) if output else "stdout")
    if output:
        err.print(f"exported {count} event(s) to {output}")


def _filtered(
    records: Iterator[dict[str, Any]], user: str | None, kind: str | None, since: str | None, until: str | None
) -> Iterator[dict[str, Any]]:
    start, end = _when(since), _when(until)
    for r in records:
        if user and r.get("actor") != user:
            continue
        if kind and r.get("kind") != kind:
            continue
        if start or end:
            ts = _when(r.get("ts", ""))
            if ts is None or (start and ts < start) or (end and ts >= end):
                continue
        yield r


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"'{text}' is not an ISO time such as 2026-11-28T09:00") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
