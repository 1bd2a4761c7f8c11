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


class Unreadable(IngestError):
    """The file is listed in the share but cannot be opened (permissions, I/O error)."""

    code = "unreadable"


class SourceUnavailable(IngestError):
    """A source cannot be synced this time (its folder is missing); the job still syncs the other sources."""

    code = "source_unavailable"


class SourceEmpty(SourceUnavailable):
    """A source lists no files while the index holds documents from it (an unmounted share, most likely)."""

    code = "source_empty"


class IndexMismatch(IngestError):
    """The index was built with another embedding model or schema."""

    code = "index_mismatch"


class IndexLocked(IngestError):
    """Another process holds the embedded index."""

    code = "index_locked"


# -- per-file reason codes of a sync (each a ParseFailed, so existing handlers still apply) --
class Encrypted(ParseFailed):
    """The file is password-protected or encrypted."""

    code = "encrypted"


class Corrupt(ParseFailed):
    """The file is damaged, truncated, hostile, or not what its extension says."""

    code = "corrupt"


class DecompressionBomb(ParseFailed):
    """A container whose parts would decompress to far more than is plausible."""

    code = "decompression_bomb"


class TooManyPages(ParseFailed):
    """The document is over the configured page limit."""

    code = "too_many_pages"


class ParseTimeout(ParseFailed):
    """The parser ran past its wall-clock limit and was killed."""

    code = "timeout"


class ParseMemory(ParseFailed):
    """The parser ran past its memory limit and was stopped."""

    code = "memory"


class ParserCrashed(ParseFailed):
    """The parser process died (segfault, abort) on this file."""

    code = "crashed"


class NeedsOcr(ParseFailed):
    """The file holds only images of text and no OCR engine is installed."""

    code = "needs_ocr"


class NeedsConverter(ParseFailed):
    """A legacy Office format that needs LibreOffice, which is not installed."""

    code = "needs_libreoffice"


class AlreadyRunning(IngestError):
    """Another sync holds the ingest lock."""

    code = "already_running"


class NotUtf8(ParseFailed):
    """A plain-text file that is not UTF-8, and no legacy encoding is configured."""

    code = "encoding"


class UnsafeContent(IngestError):
    """The file asks its parser to pull in other files (org/rst include directives)."""

    code = "unsafe_include"
