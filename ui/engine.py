"""Process-wide resources for the web page, built through enclave.wiring and cached once per process.

Only shared, user-independent things live here (settings, models, the index, the audit log, the
sign-in failure counter). Everything about a person stays in that person's st.session_state.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from enclave.settings import Settings, load_settings
from policies.model import Policy, Principal


@dataclass
class Engine:
    """The loaded search index, models and answer route; one per process."""

    settings: Settings
    embedder: Any
    index: Any
    answerer: Any
    # llama.cpp runs one generation at a time; questions from several sessions queue here.
    generate_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class SigninGuard:
    """Recent failed sign-ins per user name (a security counter shared by all sessions)."""

    failures: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def recent(self, user: str) -> list[float]:
        """Failure times recorded for `user`."""
        with self.lock:
            return list(self.failures.get(user, []))

    def failed(self, user: str, now: float, window_s: float) -> None:
        """Record one failure, forgetting those older than the window."""
        with self.lock:
            kept = [t for t in self.failures.get(user, []) if now - t < window_s]
            self.failures[user] = [*kept, now]

    def succeeded(self, user: str) -> None:
        """Forget the failures of a user who signed in."""
        with self.lock:
            self.failures.pop(user, None)


def settings() -> Settings:
    """Settings, read from ENCLAVE_* and the settings file on every run (cheap, and never stale)."""
    return load_settings()


def engine(cfg: Settings) -> Engine:
    """The engine for these settings, loaded on first use by any session."""
    return _engine(cfg.model_dump_json())


@st.cache_resource(show_spinner="Loading the search index and models (first question after start, about 20 s)…")
def _engine(settings_json: str) -> Engine:
    from enclave.wiring import build_answerer, build_embedder, build_generator, shared_index

    cfg = Settings.model_validate_json(settings_json)
    embedder = build_embedder(cfg)
    # The store is opened per operation, so a scheduled sync in another process can write between questions.
    index = shared_index(cfg, embedder)
    generator = build_generator(cfg)
    generator.warm_up()
    answerer = build_answerer(cfg, index, embedder, generator, audit=audit_log(cfg))
    return Engine(settings=cfg, embedder=embedder, index=index, answerer=answerer)


def audit_log(cfg: Settings) -> Any:
    """The live audit log (one object per process; appends are serialised by the log itself)."""
    return _audit(cfg.model_dump_json())


@st.cache_resource(show_spinner=False)
def _audit(settings_json: str) -> Any:
    from enclave.wiring import open_audit_log

    return open_audit_log(Settings.model_validate_json(settings_json))


def audit(cfg: Settings, kind: str, actor: str, **details: Any) -> None:
    """Write one audit event; a failure propagates, so the action that needed it does not proceed."""
    audit_log(cfg).append(kind, actor, **details)


@st.cache_resource(show_spinner=False)
def signin_guard() -> SigninGuard:
    """The process-wide failed sign-in counter."""
    return SigninGuard()


def policy(cfg: Settings) -> Policy:
    """The policy as it is now on disk (a change applies to the next page view)."""
    from enclave.wiring import policy_loader

    return policy_loader(cfg)()


QUEUED = "\x00queued"  # yielded once when the question waits for another session's answer


def ask(eng: Engine, question: str, principal: Principal, history: Sequence[dict[str, str]]) -> Iterator[Any]:
    """Stream an answer; yields QUEUED first when another session is generating and this one waits."""
    if not eng.generate_lock.acquire(blocking=False):
        yield QUEUED
        eng.generate_lock.acquire()
    try:
        # One store session for the whole question (retrieval, the withheld count, the cited passages read
        # while the caller handles the Answer), instead of opening the embedded store for each operation.
        session = getattr(eng.index, "session", None)
        with session() if session is not None else contextlib.nullcontext():
            yield from eng.answerer.ask(question, principal, list(history))
    finally:
        eng.generate_lock.release()


@dataclass(frozen=True)
class Passage:
    """A cited passage with the text around it, for the citation view."""

    before: str
    text: str
    after: str


def passage_context(eng: Engine, pol: Policy, principal: Principal, source: str, chunk_id: str, quote: str) -> Passage:
    """The cited chunk in full with its neighbours; neighbours the principal may not read are left out."""
    from ingest.schema import doc_id
    from policies.engine import may_read

    chunks_of = getattr(eng.index, "chunks_of", None)
    if chunks_of is None:
        return Passage("", quote, "")
    chunks = sorted(chunks_of(doc_id(source)), key=lambda c: c.chunk_no)
    pos = next((i for i, c in enumerate(chunks) if c.chunk_id == chunk_id), None)
    if pos is None:
        return Passage("", quote, "")

    def readable(i: int) -> str:
        if 0 <= i < len(chunks) and may_read(pol, principal, chunks[i].labels).allowed:
            return chunks[i].text
        return ""

    return Passage(readable(pos - 1), readable(pos) or quote, readable(pos + 1))


def now() -> float:
    """Wall-clock seconds (one place, so session checks read the same clock)."""
    return time.time()
