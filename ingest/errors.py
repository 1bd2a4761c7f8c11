"""What can go wrong while ingesting, with the next step for the operator."""

from __future__ import annotations


class IngestError(Exception):
    """Base of ingest failures; `hint` tells the operator what to do next."""

    code = "ingest_error"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class UnsupportedFormat(IngestError):
    """The file type has no parser."""

    code = "unsupported"


class EmptyDocument(IngestError):
    """The file parsed but holds no text."""

    code = "empty"


class ParseFailed(IngestError):
    """The parser could not read the file (corrupt, encrypted, hostile)."""

    code = "parse_failed"


class TooLarge(IngestError):
    """The file is over the configured size limit."""

    code = "too_large"


class IndexMismatch(IngestError):
    """The index was built with another embedding model or schema."""

    code = "index_mismatch"


class IndexLocked(IngestError):
    """Another process holds the embedded index."""

    code = "index_locked"
