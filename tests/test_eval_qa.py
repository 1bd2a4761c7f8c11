"""`enclave eval qa` and `enclave eval golden` run the real answer path (real index, real model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "Harbour_Ferry",
            "paragraphs": [
                {
                    "context": "The harbour ferry leaves the north pier every 20 minutes. A single ticket costs 3 euros "
                    "and children under six travel free.",
                    "qas": [
                        {"id": "f1", "question": "How much does a single ferry ticket cost?",
                         "answers": [{"text": "3 euros", "answer_start": 83}]},
                    ],
                },
                {
                    "context": "The city library on Mill Street is open from 9:00 to 18:00 on weekdays. It holds "
                    "a collection of 40,000 maps.",
                    "qas": [
                        {"id": "l1", "question": "How many maps does the city library hold?",
                         "answers": [{"text": "40,000", "answer_start": 84}, {"text": "40,000 maps", "answer_start": 84}]},
                    ],
                },
            ],
        }
    ],
}


def test_answer_scores_follow_squad_definitions() -> None:
    from rag.eval.squad import exact_match, token_f1

    assert exact_match("The 3 Euros.", ("3 euros",)) == 1.0
    assert exact_match("It costs 3 euros", ("3 euros",)) == 0.0
    assert token_f1("It costs 3 euros", ("3 euros",)) == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert token_f1("nothing", ("3 euros",)) == 0.0


def test_eval_qa_runs_the_real_answer_path(home: Path, tmp_path: Path) -> None:
    from enclave.cli import app

    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps(SQUAD))
    result = CliRunner().invoke(app, ["eval", "qa", "--squad", str(squad), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["questions"] == 2
    # Each question's paragraph is the only one that can answer it: the first citation must be it.
    assert figures["first_citation_gold"] == 1.0
    assert figures["wrong_not_found"] == 0.0
    assert figures["f1"] > 0.2
    # One row per question, whose means are the figures above.
    rows = {row["id"]: row for row in figures["items"]}
    assert set(rows) == {"f1", "l1"}
    assert rows["f1"]["question"] == "How much does a single ferry ticket cost?"
    assert all(row["citation_gold"] == 1.0 and row["answer"] for row in rows.values())
    assert sum(row["f1"] for row in rows.values()) / 2 == pytest.approx(figures["f1"])


def test_eval_golden_checks_sources_of_the_live_index(home: Path, tmp_path: Path) -> None:
    from enclave.cli import app

    docs = tmp_path / "site"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nA single ferry ticket costs 3 euros. The ferry leaves every 20 minutes.\n")
    (docs / "library.md").write_text("# Library\n\nThe city library holds a collection of 40,000 maps.\n")
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", str(docs), "--json"])
    assert ingested.exit_code == 0, ingested.output
    golden = tmp_path / "golden.yaml"
    golden.write_text(
        "- question: How much does a single ferry ticket cost?\n  sources: [ferry.md]\n  answer: 3 euros\n"
        "- question: How many maps does the library hold?\n  sources: [site/library.md]\n"
    )
    result = runner.invoke(app, ["eval", "golden", str(golden), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["questions"] == 2
    assert figures["retrieved_expected"] == 1.0
    assert figures["first_citation_expected"] == 1.0
    assert figures["answer_contains_expected"] == 1.0


def test_golden_set_without_questions_is_refused(tmp_path: Path) -> None:
    from rag.eval.errors import EvalError
    from rag.eval.golden import load_golden

    bad = tmp_path / "golden.yaml"
    bad.write_text("- sources: [a.md]\n")
    with pytest.raises(EvalError):
        load_golden(bad)
