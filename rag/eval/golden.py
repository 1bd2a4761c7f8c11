"""`enclave eval golden`: a site's own questions with expected sources, asked and scored."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.eval.errors import EvalError

if TYPE_CHECKING:
    from policies.model import Principal
    from rag.answer import Answerer
    from rag.retrieve import Retriever


@dataclass(frozen=True)
class GoldenItem:
    """A question a site expects answered from `sources` (paths as `enclave ask` cites them)."""

    question: str
    sources: tuple[str, ...]
    answer: str = ""  # optional text the answer must contain
    user: str = ""  # optional: ask as this user instead of the command's user


def load_golden(path: Path) -> list[GoldenItem]:
    """Read a golden set: a YAML list, or JSON lines, of {question, sources, answer?, user?}."""
    import yaml

    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            entries = [json.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            entries = yaml.safe_load(raw)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise EvalError(f"cannot read golden set {path}: {exc}", hint="a YAML list or JSON lines") from exc
    if not isinstance(entries, list) or not entries:
        raise EvalError(f"{path}: expected a non-empty list of questions", hint="- question: ...\n  sources: [...]")
    items = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not str(e.get("question", "")).strip():
            raise EvalError(f"{path}: entry {i + 1} has no question", hint="each entry needs question and sources")
        sources = e.get("sources") or []
        if isinstance(sources, str):
            sources = [sources]
        items.append(
            GoldenItem(
                question=str(e["question"]),
                sources=tuple(str(s) for s in sources),
                answer=str(e.get("answer") or ""),
                user=str(e.get("user") or ""),
            )
        )
    return items


def source_matches(cited: str, expected: tuple[str, ...]) -> bool:
    """A cited source matches an expected one exactly or as a path suffix (`policies/leave.md`)."""
    return any(cited == s or cited.endswith("/" + s.lstrip("/")) for s in expected)


def ask_golden(
    retriever: Retriever,
    answerer: Answerer,
    principal_of: Callable[[str], Principal],
    items: list[GoldenItem],
    user: str,
    on_answer: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Ask every question as its user (`user` by default); score sources, citations and answers."""
    rows = []
    started = time.perf_counter()
    for n, item in enumerate(items, 1):
        principal = principal_of(item.user or user)
        retrieved = [h.chunk.source for h in retriever.retrieve(item.question, principal).hits]
        answer = answerer.answer(item.question, principal)
        cited = [c.source for c in answer.citations]
        rows.append(
            {
                "question": item.question,
                "retrieved_expected": any(source_matches(s, item.sources) for s in retrieved),
                "first_citation_expected": bool(cited) and source_matches(cited[0], item.sources),
                "found": answer.found,
                "answer_ok": (item.answer.lower() in answer.text.lower()) if item.answer else None,
                "answer": answer.text,
                "citations": cited,
            }
        )
        if on_answer:
            on_answer(n, len(items))
    n = len(rows)
    checked = [r for r in rows if r["answer_ok"] is not None]
    return {
        "questions": n,
        "retrieved_expected": sum(r["retrieved_expected"] for r in rows) / n,
        "first_citation_expected": sum(r["first_citation_expected"] for r in rows) / n,
        "found": sum(r["found"] for r in rows) / n,
        "answer_contains_expected": (sum(r["answer_ok"] for r in checked) / len(checked)) if checked else None,
        "seconds_per_question": (time.perf_counter() - started) / n,
        "items": rows,
    }
