"""What can go wrong in an evaluation run."""

from __future__ import annotations

from rag.errors import RagError


class EvalError(RagError):
    """An evaluation dataset is missing or malformed."""
