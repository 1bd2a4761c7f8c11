"""`enclave index …`: move the index between the embedded store and a Qdrant server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

index_app = typer.Typer(no_args_is_help=True, help="The vector index: migrate between embedded and server.")
out = Console()


@index_app.command()
def migrate(
    to: Annotated[str, typer.Option("--to", help="Target backend: 'qdrant' (from the embedded store) or 'edge' (back).")],
    qdrant_path: Annotated[
        Path | None, typer.Option("--qdrant-path", help="Use qdrant-client local mode at this folder instead of index.url.")
    ] = None,
    edge_path: Annotated[
        Path | None, typer.Option("--edge-path", help="The embedded store's folder (default: ENCLAVE_HOME/index).")
    ] = None,
    sample: Annotated[int, typer.Option("--sample", help="Chunks whose payload and vectors are compared after the copy.")] = 64,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Copy every chunk with its vectors (no re-embedding) into an empty target, then verify counts and a sample."""
    from enclave.settings import load_settings
    from enclave.wiring import index_adapter
    from ingest.index.migrate import MigrationFailed, migrate as run_migration

    if to not in ("qdrant", "edge"):
        raise MigrationFailed(f"--to {to!r} is not a backend", hint="use --to qdrant or --to edge")
    settings = load_settings()
    direction = ("edge", "qdrant") if to == "qdrant" else ("qdrant", "edge")
    paths = {"edge": edge_path, "qdrant": qdrant_path}
    source = index_adapter(settings, direction[0], paths[direction[0]])
    target = index_adapter(settings, direction[1], paths[direction[1]])
    try:
        report = run_migration(source, target, sample=sample)
    finally:
        source.close()
        target.close()
    if json_out:
        print(json.dumps(report.to_dict()))
        return
    docs, chunks = report.target_counts
    out.print(
        f"[green]✓[/] copied {report.copied} chunks of {docs} documents from {direction[0]} to {direction[1]} "
        f"in {report.seconds:.1f} s; counts match, {report.sampled} sampled chunks identical",
        highlight=False,
    )
