"""What can go wrong while answering."""

from __future__ import annotations


class RagError(Exception):
    """Base of answer-path failures; `hint` tells the user or operator what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class ModelRejected(RagError):
    """The model file is missing or is not the one configured (sha256 mismatch)."""


class GenerationFailed(RagError):
    """The generator could not produce an answer."""


class MissingPrincipal(RagError):
    """Retrieval was called without a principal; nothing is retrieved without one."""
