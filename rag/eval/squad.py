"""`enclave eval qa`: SQuAD paragraphs as documents, its questions answered and scored (EM, F1, citations)."""

from __future__ import annotations

import json
import re
import string
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.eval.errors import EvalError
from rag.eval.scratch import EvalDoc

if TYPE_CHECKING:
    from policies.model import Principal
    from rag.answer import Answer, Answerer

_MARKER = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


@dataclass(frozen=True)
class QaItem:
    """A question, its gold answers and the id of the paragraph that holds them."""

    qid: str
    question: str
    answers: tuple[str, ...]
    doc_id: str


@dataclass(frozen=True)
class SquadData:
    """Paragraphs (documents) and questions."""

    docs: list[EvalDoc]
    items: list[QaItem]


def load_squad(path: Path, limit: int | None = None) -> SquadData:
    """Read a SQuAD v1.1 JSON file; every paragraph is a document, the first `limit` questions are kept."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvalError(f"{path}: not a SQuAD v1.1 file ({exc})", hint="expected {\"data\": [{title, paragraphs}]}") from exc
    docs: list[EvalDoc] = []
    items: list[QaItem] = []
    for article in data:
        title = str(article.get("title", "")).replace("_", " ")
        for n, paragraph in enumerate(article.get("paragraphs", [])):
            doc_id = f"{article.get('title', '')}#{n}"
            docs.append(EvalDoc(doc_id=doc_id, title=title, text=str(paragraph["context"])))
            for qa in paragraph.get("qas", []):
                answers = tuple(dict.fromkeys(str(a["text"]) for a in qa.get("answers", [])))
                if answers:
                    items.append(QaItem(qid=str(qa["id"]), question=str(qa["question"]), answers=answers, doc_id=doc_id))
    if limit is not None:
        items = items[:limit]
    return SquadData(docs=docs, items=items)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: tuple[str, ...]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: tuple[str, ...]) -> float:
    """SQuAD token F1, best over the gold answers."""
    best = 0.0
    pred = normalize_answer(prediction).split()
    for gold in golds:
        ref = normalize_answer(gold).split()
        common = sum((Counter(pred) & Counter(ref)).values())
        if common == 0:
            continue
        precision, recall = common / len(pred), common / len(ref)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def answer_questions(
    answerer: Answerer,
    principal: Principal,
    items: list[QaItem],
    doc_of: Callable[[str], str],
    on_answer: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Answer every question as `principal` and score the answers; `doc_of` maps a cited source to its paragraph."""
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for n, item in enumerate(items, 1):
        answer = answerer.answer(item.question, principal)
        rows.append(_score(doc_of, item, answer))
        if on_answer:
            on_answer(n, len(items))
    return summarize(rows, time.perf_counter() - started)


def _score(doc_of: Callable[[str], str], item: QaItem, answer: Answer) -> dict[str, Any]:
    text = _MARKER.sub("", answer.text).strip()
    first = doc_of(answer.citations[0].source) if answer.citations else None
    return {
        "id": item.qid,
        "question": item.question,
        "em": exact_match(text, item.answers) if answer.found else 0.0,
        "f1": token_f1(text, item.answers) if answer.found else 0.0,
        "citation_gold": float(first == item.doc_id),
        "not_found": float(not answer.found),
        "answer": text,
    }


def summarize(rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Means over the questions (every SQuAD question is answerable, so each not-found is wrong)."""
    n = len(rows)

    def mean(key: str) -> float:
        return sum(r[key] for r in rows) / n if n else 0.0

    return {
        "exact_match": mean("em"),
        "f1": mean("f1"),
        "first_citation_gold": mean("citation_gold"),
        "wrong_not_found": mean("not_found"),
        "questions": n,
        "seconds_per_question": seconds / n if n else 0.0,
        "items": rows,  # per question, to see which failed and to pair two runs question by question
    }
