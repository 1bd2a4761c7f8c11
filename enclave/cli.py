"""The `enclave` command: arguments map onto settings; library errors become one readable line."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from enclave.cli_audit import audit_app
from enclave.cli_eval import eval_app
from enclave.cli_index import index_app
from enclave.cli_policy import policy_app
from enclave.cli_ui import serve, user_app
from enclave import cli_ingest
from ingest.errors import IngestError
from policies.errors import PolicyError
from rag.errors import RagError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Enclave: cited answers from your own documents.")
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")
app.add_typer(eval_app, name="eval")
app.add_typer(user_app, name="user")
app.add_typer(index_app, name="index")
app.command()(serve)
out = Console()
err = Console(stderr=True)

UserOption = Annotated[str | None, typer.Option("--user", help="Answer as this user (default: ENCLAVE_USER or OS user).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def main() -> None:
    """Entry point: run the app and turn known errors into a message and exit code 1."""
    from ingest.offline import enforce_offline_env

    enforce_offline_env()
    try:
        app()
    except (IngestError, RagError, PolicyError) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        if getattr(exc, "hint", ""):
            err.print(f"  next step: {exc.hint}")
        sys.exit(1)
    except ValidationError as exc:  # a setting from enclave.toml or an ENCLAVE_* variable has a bad value
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem["loc"])
            text = f"setting {where}: {problem['msg']} (got {problem.get('input')!r})"
            err.print(f"[bold red]error:[/] {escape(text)}")
        err.print("  next step: fix it in $ENCLAVE_HOME/enclave.toml or the ENCLAVE_* environment variable (README, Settings)")
        sys.exit(1)


def _settings() -> Any:
    from enclave.settings import load_settings

    return load_settings()


@app.command()
def setup() -> None:
    """Create ENCLAVE_HOME, assemble and verify the bundled model, write a default policy."""
    from enclave.wiring import setup_home

    settings = _settings()
    for line in setup_home(settings):
        out.print(f"[green]✓[/] {line}")
    out.print(f"Enclave home: {settings.home.resolve()}")


# `enclave ingest` / `enclave schedule` live in cli_ingest (sync of sources, history, schedule);
# the ingest_run audit event is written by the job itself (enclave.ingest_job), for every trigger.
app.command("ingest")(cli_ingest.ingest)
app.command("schedule")(cli_ingest.schedule)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    user: UserOption = None,
    json_out: JsonOption = False,
) -> None:
    """Answer QUESTION from the documents USER may read, with numbered citations."""
    from enclave.wiring import build_answerer, build_embedder, build_generator, default_user, shared_index
    from rag.answer import Answer

    settings = _settings()
    if not question.strip():
        raise RagError("the question is empty", hint='ask something, e.g. enclave ask "What is the leave policy?"')
    principal = _principal_or_denial(settings, user or default_user())
    embedder = build_embedder(settings)
    index = shared_index(settings, embedder)  # waits while a sync holds the embedded store
    try:
        answerer = build_answerer(settings, index, embedder, build_generator(settings))
        answer = None
        for event in answerer.ask(question, principal):
            if isinstance(event, Answer):
                answer = event
            elif not json_out:
                out.print(event, end="", markup=False, highlight=False, soft_wrap=True)
    finally:
        index.close()
    assert answer is not None
    if json_out:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    out.print()
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            page = f", page {c.page}" if c.page is not None else ""
            out.print(f"[bold][{c.n}][/] {c.source}{page}", highlight=False)
            out.print(f"    “{_one_line(c.quote, 300)}”", markup=False, highlight=False)
    if answer.dropped_passages:
        out.print(f"({answer.dropped_passages} lower-ranked passage(s) did not fit the context budget)")


def _principal_or_denial(settings: Any, name: str) -> Any:
    """The user's principal; an unknown user or unreadable policy is recorded as a denial, then raised."""
    from enclave.wiring import open_audit_log, policy_loader
    from policies.engine import principal_for

    try:
        return principal_for(policy_loader(settings)(), name)
    except PolicyError as exc:
        open_audit_log(settings).append("denial", name or "(anonymous)", reason=str(exc))
        raise


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@app.command()
def status(json_out: JsonOption = False) -> None:
    """Show the index: documents, chunks, models and where everything lives."""
    from enclave.wiring import build_embedder, build_generator, shared_index
    from ingest.manifest import Manifest

    settings = _settings()
    embedder = build_embedder(settings)
    index = shared_index(settings, embedder)  # waits while a sync holds the embedded store
    try:
        documents, chunks = index.counts()
    finally:
        index.close()
    manifest = Manifest(settings.manifest_path)
    records = manifest.all()
    manifest.close()
    generator = build_generator(settings)
    info = {
        "documents": documents,
        "chunks": chunks,
        "failed_files": sum(1 for r in records if r.status == "failed"),
        "embedding_model": embedder.model_id,
        "embedding_dim": embedder.dim,
        "generator_model": generator.model_name,
        "generator_sha256": generator.model_sha256,
        "store": str(settings.store_dir.resolve())
        if settings.index.backend == "edge"
        else f"{settings.index.url} collection {settings.index.collection}",
        "home": str(settings.home.resolve()),
        "policy": str(settings.policy_dir.resolve()),
    }
    if json_out:
        print(json.dumps(info))
        return
    for key, value in info.items():
        out.print(f"{key:>16}: {value}", highlight=False)
