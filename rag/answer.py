"""The answer route: retrieve (policy-filtered) → keep relevant → pack → generate → cite.

Audit order (fail closed): after retrieval and before the model is called, the `question` and
`retrieval` events (and a `denial` when the user may read nothing) are appended and fsynced; the
`answer` event is appended before the citation markers and the final Answer are yielded, and before
any text at all on the not-found path. If any append fails, AuditWriteFailed propagates and no
Answer is served. Streamed text is only ever shown after the question was durably recorded.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.index.base import Hit
from policies.audit import AuditSink, question_fields
from policies.model import Principal
from rag.generators.base import Generator, Message
from rag.prompt import NOT_FOUND_MARKER, PROMPT_TEMPLATE_HASH, pack_prompt
from rag.errors import MissingPrincipal
from rag.retrieve import Retrieval, Retriever

NOT_FOUND_TEXT = "I could not find this in the documents you have access to."
QUOTE_CHARS = 600
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class Citation:
    """A numbered reference to a passage that was in the prompt."""

    n: int
    source: str
    page: int | None
    chunk_id: str
    quote: str
    title: str = ""
    section: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `enclave ask --json`."""
        return {"n": self.n, "source": self.source, "page": self.page, "chunk_id": self.chunk_id, "quote": self.quote}


@dataclass
class Answer:
    """A finished answer with its evidence and what it cost."""

    text: str
    citations: list[Citation]
    found: bool
    model: str
    model_sha256: str
    prompt_template: str
    policy_version: str
    retrieved_ids: list[str]
    dropped_passages: int
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `enclave ask --json`."""
        return {
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "model": self.model,
            "found": self.found,
            "dropped_passages": self.dropped_passages,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


@dataclass(frozen=True)
class AnswerConfig:
    """Relevance gate and budgets."""

    context_budget_tokens: int = 2048
    max_answer_tokens: int = 384
    min_dense_score: float = 0.30  # the question is answered only when a passage clears this bar...
    passage_min_dense_score: float = 0.30  # ...and then the prompt gets every passage that clears this one
    min_sparse_match: float = 0.7  # ...or matches this share of the query's terms (bench/tune_gate.py)


class Answerer:
    """Turns a question from a principal into a streamed, cited answer."""

    def __init__(
        self, retriever: Retriever, generator: Generator, config: AnswerConfig, audit: AuditSink | None = None
    ) -> None:
        self._retriever = retriever
        self._generator = generator
        self._config = config
        self._audit = audit  # the composition root always passes the live log

    def ask(
        self, question: str, principal: Principal | None, history: Sequence[Message] = ()
    ) -> Iterator[str | Answer]:
        """Yield text pieces as the model writes them, then the finished Answer."""
        t0 = time.perf_counter()
        try:
            retrieval = self._retriever.retrieve(search_text(question, history), principal)
        except MissingPrincipal:
            self._record("denial", "(anonymous)", reason="question without a signed-in principal")
            raise
        assert principal is not None
        actor = principal.user
        self._record_retrieval(actor, question, retrieval)
        t_retrieve = time.perf_counter() - t0
        relevant = [h for h in retrieval.hits if self._is_evidence(h, self._config.passage_min_dense_score)]
        if not any(self._is_evidence(h, self._config.min_dense_score) for h in relevant):
            answer = self._not_found(retrieval, {"retrieve_s": t_retrieve, "total_s": time.perf_counter() - t0})
            self._record_answer(actor, answer)
            yield NOT_FOUND_TEXT
            yield answer
            return
        self._generator.warm_up()
        budget = min(
            self._config.context_budget_tokens,
            self._generator.context_window - self._config.max_answer_tokens - 256,
        )
        packed = pack_prompt(question, relevant, self._generator.count_tokens, budget, history)
        t1 = time.perf_counter()
        pieces: list[str] = []
        first_token_s = None
        streaming = False  # text is held back while it could still be the not-found marker
        markers = MarkerFilter()  # the model's [n] markers are replaced by verified ones at the end
        for piece in self._generator.stream(packed.messages, self._config.max_answer_tokens):
            if first_token_s is None:
                first_token_s = time.perf_counter() - t1
            pieces.append(piece)
            if not streaming:
                head = "".join(pieces).lstrip()
                if NOT_FOUND_MARKER.startswith(head) or head.startswith(NOT_FOUND_MARKER):
                    continue
                streaming = True
                piece = "".join(pieces)
            visible = markers.feed(piece)
            if visible:
                yield visible
        text = "".join(pieces).strip()
        timings = {
            "retrieve_s": t_retrieve,
            "first_token_s": first_token_s or 0.0,
            "generate_s": time.perf_counter() - t1,
            "total_s": time.perf_counter() - t0,
            "prompt_tokens": float(packed.prompt_tokens),
        }
        if not streaming:
            answer = self._not_found(retrieval, timings, dropped=packed.dropped)
            self._record_answer(actor, answer)
            yield NOT_FOUND_TEXT
            yield answer
            return
        text = text.replace(NOT_FOUND_MARKER, "").strip()
        citations = cite(text, packed.passages, packed.line_passage)
        body = re.sub(r"\s+([.,;:])", r"\1", _CITE.sub("", text)).strip()
        marks = "".join(f"[{c.n}]" for c in citations)
        tail = markers.flush().rstrip()
        answer = Answer(
            text=f"{body} {marks}".strip(),
            citations=citations,
            found=True,
            model=self._generator.model_name,
            model_sha256=self._generator.model_sha256,
            prompt_template=PROMPT_TEMPLATE_HASH,
            policy_version=retrieval.policy_version,
            retrieved_ids=[h.chunk.chunk_id for h in retrieval.hits],
            dropped_passages=packed.dropped,
            timings=timings,
        )
        self._record_answer(actor, answer)
        if tail:
            yield tail
        yield f" {marks}"
        yield answer

    def answer(self, question: str, principal: Principal | None, history: Sequence[Message] = ()) -> Answer:
        """The finished answer without streaming."""
        result = None
        for event in self.ask(question, principal, history):
            if isinstance(event, Answer):
                result = event
        assert result is not None
        return result

    def _record(self, kind: str, actor: str, **details: Any) -> None:
        if self._audit is not None:
            self._audit.append(kind, actor, **details)

    def _record_retrieval(self, actor: str, question: str, retrieval: Retrieval) -> None:
        """The question and what was retrieved for it, durable before the model sees anything."""
        if self._audit is None:
            return
        version = retrieval.policy_version
        self._audit.append(
            "question", actor, policy_version=version, **question_fields(self._audit, question, retrieval.question_logging)
        )
        if not retrieval.allowed_labels:
            self._audit.append("denial", actor, reason="no readable labels under the policy", policy_version=version)
        self._audit.append(
            "retrieval",
            actor,
            chunk_ids=[h.chunk.chunk_id for h in retrieval.hits],
            withheld_by_policy=retrieval.withheld,
            stale_labels_dropped=retrieval.stale_dropped,
            superseded_version_dropped=retrieval.superseded_dropped,
            allowed_labels=sorted(retrieval.allowed_labels),
            policy_version=version,
        )

    def _record_answer(self, actor: str, answer: Answer) -> None:
        if self._audit is None:
            return
        self._audit.append(
            "answer",
            actor,
            answer_sha256=hashlib.sha256(answer.text.encode("utf-8")).hexdigest(),
            found=answer.found,
            citations=[{"n": c.n, "chunk_id": c.chunk_id, "source": c.source, "page": c.page} for c in answer.citations],
            model=answer.model,
            model_sha256=answer.model_sha256,
            prompt_template=answer.prompt_template,
            policy_version=answer.policy_version,
            dropped_passages=answer.dropped_passages,
        )

    def _is_evidence(self, hit: Hit, min_dense: float) -> bool:
        return hit.dense_score >= min_dense or hit.sparse_score >= self._config.min_sparse_match

    def _not_found(self, retrieval: Retrieval, timings: dict[str, float], dropped: int = 0) -> Answer:
        return Answer(
            text=NOT_FOUND_TEXT,
            citations=[],
            found=False,
            model=self._generator.model_name,
            model_sha256=self._generator.model_sha256,
            prompt_template=PROMPT_TEMPLATE_HASH,
            policy_version=retrieval.policy_version,
            retrieved_ids=[h.chunk.chunk_id for h in retrieval.hits],
            dropped_passages=dropped,
            timings=timings,
        )


def search_text(question: str, history: Sequence[Message]) -> str:
    """What to search for: a follow-up ("and how many can be carried over?") leans on the previous
    question for its subject, so the last earlier user question is searched together with it."""
    earlier = [m["content"] for m in history if m.get("role") == "user"]
    return f"{earlier[-1]}\n{question}" if earlier else question


class MarkerFilter:
    """Drops [n] citation markers from streamed text, even when a marker spans several pieces.

    The space before a dropped marker goes with it, and so does a full stop the model repeats
    after it ("in March. [2]." is shown as "in March."). Trailing spaces are held back until the
    next word shows whether a marker follows them.
    """

    def __init__(self) -> None:
        self._pending = ""  # text that may still be the start of a marker
        self._space = ""  # whitespace held back
        self._last = ""  # the last character shown
        self._after_marker = False

    def feed(self, piece: str) -> str:
        """Text that can be shown now."""
        self._pending += piece
        shown: list[str] = []
        while self._pending:
            start = self._pending.find("[")
            if start < 0:
                self._show(self._pending, shown)
                self._pending = ""
                break
            self._show(self._pending[:start], shown)
            rest = self._pending[start:]
            match = re.match(r"\[[\d,\s]*(\])?", rest)
            if match and match.group(1):  # a complete marker: drop it, and the space before it
                self._pending = rest[match.end():]
                self._space, self._after_marker = "", True
            elif match and match.end() == len(rest):  # maybe a marker, wait for more text
                self._pending = rest
                break
            else:  # a bracket that is not a marker
                self._show("[", shown)
                self._pending = rest[1:]
        return "".join(shown)

    def flush(self) -> str:
        """Whatever is still held back at the end (trailing spaces are dropped)."""
        shown: list[str] = []
        self._show(self._pending, shown)
        self._pending = ""
        return "".join(shown)

    def _show(self, text: str, shown: list[str]) -> None:
        if not text:
            return
        if self._after_marker and text.lstrip(" ")[:1] in {".", ",", ";", ":"} and text.lstrip(" ")[0] == self._last:
            text = text.lstrip(" ")[1:]
        self._after_marker = self._after_marker and not text.strip()
        text = self._space + text
        body = text.rstrip()
        self._space = text[len(body):]
        if body:
            shown.append(body)
            self._last = body[-1]


def cite(text: str, passages: Sequence[Hit], line_passage: Sequence[int] | None = None) -> list[Citation]:
    """Citations for an answer, limited to the passages that were in its prompt, numbered 1..n by prompt order.

    The model's own [k] markers (source lines, mapped to their passages) come first, but each is
    checked: a cited passage must contain the answer's facts (its numbers and content words). When a
    small model cites the wrong number, or none, the passage from its prompt that best supports the
    answer is cited instead. A passage that was not in the prompt can never be cited.
    """
    mapping = list(line_passage) if line_passage is not None else list(range(len(passages)))
    claimed: list[int] = []
    for match in _CITE.finditer(text):
        for number in match.group(1).split(","):
            k = int(number)
            if 1 <= k <= len(mapping) and mapping[k - 1] + 1 not in claimed:
                claimed.append(mapping[k - 1] + 1)
    support = {n: support_score(text, passages[n - 1].chunk.text) for n in range(1, len(passages) + 1)}
    best = max(support.values(), default=0.0)
    order = [n for n in claimed if support[n] >= SUPPORT_MIN and support[n] >= best - 1e-9]
    if not order:
        ranked = sorted(support, key=lambda n: (-support[n], n))
        order = [ranked[0]] if ranked and support[ranked[0]] >= SUPPORT_MIN else claimed or ranked[:1]
    result = []
    for n in order:
        c = passages[n - 1].chunk
        quote = c.text if len(c.text) <= QUOTE_CHARS else c.text[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
        result.append(
            Citation(n=n, source=c.source, page=c.page, chunk_id=c.chunk_id, quote=quote, title=c.title, section=c.section)
        )
    return result


SUPPORT_MIN = 0.5
_WORD = re.compile(r"[a-z0-9]+(?:[.,:/-][a-z0-9]+)*")
_STOP = frozenset(
    "a an the of to in on at for by with from and or is are was were be been it its this that these those as "
    "can may must will shall do does did has have had not no yes which who whom what when where why how there "
    "their they them he she his her we our you your i".split()
)


def support_score(answer: str, passage: str) -> float:
    """Share of the answer's content words (citation markers removed) found in the passage."""
    words = [w for w in _WORD.findall(_CITE.sub(" ", answer).lower()) if w not in _STOP]
    if not words:
        return 0.0
    vocabulary = set(_WORD.findall(passage.lower()))
    return sum(1 for w in words if w in vocabulary) / len(words)
