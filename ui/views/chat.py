"""Ask: a chat whose answers stream in, with numbered sources that open the quoted passage."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import streamlit as st

from rag.answer import Answer
from ui import auth, engine
from ui.render import plain_text, safe_markdown, source_label

HISTORY_KEY = "chat_history"
HISTORY_TURNS = 3  # earlier turns passed to the model for follow-ups


def page() -> None:
    """The chat page."""
    cfg, principal = auth.require()
    st.title("Ask your documents")
    turns: list[dict[str, Any]] = st.session_state.setdefault(HISTORY_KEY, [])
    if not turns:
        st.caption("Answers come only from documents you may read, with numbered sources you can open.")
    for i, turn in enumerate(turns):
        _show_turn(turn, i)
    question = st.chat_input("Ask a question about your documents", max_chars=2000)
    if not question or not question.strip():
        return
    with st.chat_message("user"):
        st.markdown(plain_text(question))
    with st.chat_message("assistant"):
        status = st.empty()
        status.caption(":material/hourglass_top: Searching the documents you may read…")
        eng = engine.engine(cfg)
        shown = st.empty()
        text, answer = "", None
        history = [m for t in turns[-HISTORY_TURNS:] for m in t["messages"]]
        for event in engine.ask(eng, question.strip(), principal, history):
            if isinstance(event, Answer):
                answer = event
                turn = _turn(cfg, eng, principal, question.strip(), answer)  # while the store is still open
                continue
            if event == engine.QUEUED:
                status.caption(":material/hourglass_top: Another question is being answered; yours is next…")
                continue
            if not text:
                status.empty()
            text += event
            shown.markdown(safe_markdown(text) + " ▌")
        status.empty()
        if answer is None:
            st.error("The answer was interrupted. Please ask again.")
            return
        shown.empty()
        _answer_body(turn, len(turns))
    turns.append(turn)


def _turn(cfg: Any, eng: engine.Engine, principal: Any, question: str, answer: Answer) -> dict[str, Any]:
    """What the session keeps of one exchange: the answer, its citations with their passages, the messages."""
    pol = engine.policy(cfg)
    return {
        "question": question,
        "answer": answer.text,
        "found": answer.found,
        "citations": [
            {**asdict(c), "context": asdict(engine.passage_context(eng, pol, principal, c.source, c.chunk_id, c.quote))}
            for c in answer.citations
        ],
        "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}],
        "seconds": round(answer.timings.get("total_s", 0.0), 1),
    }


def _show_turn(turn: dict[str, Any], i: int) -> None:
    with st.chat_message("user"):
        st.markdown(plain_text(turn["question"]))
    with st.chat_message("assistant"):
        _answer_body(turn, i)


def _answer_body(turn: dict[str, Any], i: int) -> None:
    if not turn["found"]:
        st.info(
            "**Not in your documents.** Nothing you may read answers this question. "
            "Try other words, or ask whoever manages the documents whether it is covered.",
            icon=":material/search_off:",
        )
        return
    st.markdown(safe_markdown(turn["answer"]))
    if not turn["citations"]:
        return
    st.caption(f"Sources · {turn['seconds']} s")
    for c in turn["citations"]:
        label = f"[{c['n']}] {source_label(c['source'], c['page'])}"
        with st.expander(label, icon=":material/description:"):
            _passage(c)


def _passage(c: dict[str, Any]) -> None:
    where = source_label(c["source"], c["page"])
    st.markdown(f"**{plain_text(c.get('title') or where)}**")
    meta = [plain_text(c["source"])]
    if c.get("page") is not None:
        meta.append(f"page {c['page']}")
    if c.get("section") and c["section"] != c.get("title"):
        meta.append(plain_text(str(c["section"])))
    st.caption(" · ".join(meta))
    ctx = c["context"]
    if ctx["before"]:
        st.caption(plain_text(_tail(ctx["before"])))
    with st.container(border=True):
        st.markdown(plain_text(ctx["text"]))
    if ctx["after"]:
        st.caption(plain_text(_head(ctx["after"])))


def _tail(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else "… " + text[-limit:].split(" ", 1)[-1]


def _head(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
