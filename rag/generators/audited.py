"""Wraps any Generator so that a failure is in the audit log before it reaches the user."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.audit import AuditSink
from rag.errors import RagError
from rag.generators.base import Generator, Message


class AuditedGenerator:
    """Delegates to `inner`; a RagError from loading, counting or generating is recorded, then re-raised."""

    def __init__(self, inner: Generator, audit: AuditSink, backend: str) -> None:
        self._inner = inner
        self._audit = audit
        self._backend = backend

    @property
    def model_name(self) -> str:
        """The inner generator's model identity."""
        return self._inner.model_name

    @property
    def model_sha256(self) -> str:
        """The inner generator's weights hash ('' for a server)."""
        return self._inner.model_sha256

    @property
    def context_window(self) -> int:
        """The inner generator's context size."""
        return self._inner.context_window

    def warm_up(self) -> None:
        """Load or connect."""
        try:
            self._inner.warm_up()
        except RagError as exc:
            self._record(exc, "warm_up")
            raise

    def count_tokens(self, text: str) -> int:
        """Tokens in `text`."""
        try:
            return self._inner.count_tokens(text)
        except RagError as exc:
            self._record(exc, "count_tokens")
            raise

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        """The inner stream, piece by piece."""
        try:
            yield from self._inner.stream(messages, max_tokens)
        except RagError as exc:
            self._record(exc, "stream")
            raise

    def _record(self, exc: RagError, step: str) -> None:
        # The adapters' messages never carry secrets (keys are read from files, never echoed).
        self._audit.append(
            "answer",
            "system",
            found=False,
            error=str(exc),
            error_kind=type(exc).__name__,
            step=step,
            backend=self._backend,
            model=self._inner.model_name,
        )
