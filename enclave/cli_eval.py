"""`enclave eval retrieval | qa | golden`: measure retrieval and answers before a change goes live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

eval_app = typer.Typer(no_args_is_help=True, help="Measure retrieval and answer quality.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _settings() -> Any:
    from enclave.settings import load_settings

    return load_settings()


def _ingest_bar(enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, disable=not enabled,
    )


def _table(title: str, figures: dict[str, Any], keys: tuple[str, ...]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in keys:
        value = figures.get(key)
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    return table


@eval_app.command()
def retrieval(
    beir: Annotated[Path, typer.Option("--beir", help="A BEIR folder: corpus.jsonl, queries.jsonl, qrels/*.tsv.")],
    qrels: Annotated[Path | None, typer.Option("--qrels", help="A qrels TSV (default: qrels/<split>.tsv).")] = None,
    split: Annotated[str, typer.Option("--split", help="Which qrels/<split>.tsv to score.")] = "test",
    json_out: JsonOption = False,
) -> None:
    """nDCG@10, Recall@10, Recall@100 and MRR@10 of the configured retrieval on a BEIR dataset."""
    from enclave.eval_wiring import evaluate_retrieval
    from rag.eval.beir import load_beir

    settings = _settings()
    data = load_beir(beir, qrels, split)
    with _ingest_bar(not json_out) as bar:
        task = bar.add_task("ingest (reused when unchanged)", total=len(data.docs))
        result = evaluate_retrieval(settings, data, lambda p: bar.update(task, completed=p.done))
    if json_out:
        print(json.dumps(result))
        return
    out.print(_table(f"{beir.name} ({qrels or split})", result, ("ndcg@10", "recall@10", "recall@100", "mrr@10", "queries")))
    r = result["config"]["retrieval"]
    out.print(f"fusion {r['fusion']}, weights {r['dense_weight']}/{r['sparse_weight']}, prefetch {r['prefetch_k']}; "
              f"index {result['config']['index']}", highlight=False)


@eval_app.command()
def qa(
    squad: Annotated[Path, typer.Option("--squad", help="A SQuAD v1.1 JSON file.")],
    limit: Annotated[int | None, typer.Option("--limit", help="Ask only the first N questions.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Exact match, token F1, gold first citation and wrong not-found rate through the real answer path."""
    from enclave.eval_wiring import evaluate_qa
    from rag.eval.squad import load_squad

    settings = _settings()
    data = load_squad(squad, limit)
    with _ingest_bar(not json_out) as bar:
        ingest_task = bar.add_task("ingest (reused when unchanged)", total=len(data.docs))
        ask_task = bar.add_task("answer", total=len(data.items))
        result = evaluate_qa(
            settings, data,
            on_progress=lambda p: bar.update(ingest_task, completed=p.done),
            on_answer=lambda n, total: bar.update(ask_task, completed=n),
        )
    if json_out:
        print(json.dumps(result))
        return
    keys = ("exact_match", "f1", "first_citation_gold", "wrong_not_found", "questions", "seconds_per_question")
    out.print(_table(squad.name, result, keys))


@eval_app.command()
def golden(
    file: Annotated[Path, typer.Argument(help="The site's golden set (YAML list or JSON lines).")],
    user: Annotated[str | None, typer.Option("--user", help="Ask as this user (default: ENCLAVE_USER or OS user).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Ask the site's own questions against the live index; check sources, citations and answers."""
    from enclave.eval_wiring import evaluate_golden
    from enclave.wiring import default_user
    from rag.eval.golden import load_golden

    settings = _settings()
    items = load_golden(file)
    with _ingest_bar(not json_out) as bar:
        task = bar.add_task("answer", total=len(items))
        result = evaluate_golden(settings, items, user or default_user(), lambda n, total: bar.update(task, completed=n))
    if json_out:
        print(json.dumps(result, ensure_ascii=False))
        return
    keys = ("retrieved_expected", "first_citation_expected", "found", "answer_contains_expected", "questions")
    out.print(_table(file.name, result, keys))
    for row in result["items"]:
        if not row["first_citation_expected"]:
            out.print(f"[yellow]miss[/] {row['question']} → cited {row['citations'] or 'nothing'}", highlight=False)
