"""Cheap structural checks before a parser sees a file: bombs, hostile XML, encryption, page limits."""

from __future__ import annotations

import codecs
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import Corrupt, DecompressionBomb, Encrypted, NotUtf8, TooManyPages, UnsafeContent

ZIP_CONTAINERS = frozenset({".docx", ".pptx", ".xlsx", ".odt", ".epub"})
MARKUP = frozenset({".xml", ".html", ".htm", ".xhtml"})
PLAIN_TEXT = frozenset({".txt", ".text", ".md", ".markdown", ".csv", ".tsv", ".rst", ".org", ".json", ".ndjson"})
_SNIFF = 65536
# pandoc follows these and would copy any readable file on the machine into the index.
_INCLUDE_DIRECTIVES = {
    ".org": re.compile(rb"^[ \t]*#\+(include|setupfile)\s*:", re.IGNORECASE | re.MULTILINE),
    ".rst": re.compile(rb"^[ \t]*\.\.[ \t]+(include|literalinclude|raw|csv-table|image|figure)[ \t]*::", re.IGNORECASE | re.MULTILINE),
}
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class ParseLimits:
    """What a single file may cost before it is refused."""

    max_pages: int = 5000
    max_unpacked_bytes: int = 1 << 30  # sum of a zip container's declared part sizes
    max_ratio: int = 200  # declared size / compressed size of one part
    # Plain text that is not UTF-8 is refused unless the site names its legacy encoding (e.g. cp1252).
    text_encoding: str = ""
    # Pages of one scanned PDF read by OCR at a time (a Tesseract process and a rendered page each,
    # within parse_memory_mb); 0: one per core, at most 4.
    ocr_threads: int = 0


def one_per_core(setting: int, at_most: int = 4) -> int:
    """A count setting where 0 means one per core this process may use, at most `at_most`."""
    return setting or min(at_most, len(os.sched_getaffinity(0)))


def precheck(path: Path, limits: ParseLimits) -> None:
    """Raise the matching IngestError when `path` is encrypted, a bomb, hostile, or over a limit."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        _check_pdf(path, limits)
    elif suffix in ZIP_CONTAINERS:
        _check_zip(path, suffix, limits)
    elif suffix in MARKUP:
        if b"<!ENTITY" in _head(path).upper():
            raise Corrupt("XML entity declarations (the billion-laughs pattern)", hint="remove the DTD from the file")
    elif suffix in PLAIN_TEXT:
        _check_text(path)
        _check_includes(path, suffix)
        if not limits.text_encoding and not is_utf8(path):
            raise NotUtf8(
                "plain text that is not UTF-8 (its encoding cannot be told reliably)",
                hint="convert it to UTF-8, or set ingest.text_encoding to the share's legacy encoding (e.g. cp1252)",
            )


def is_utf8(path: Path) -> bool:
    """Whether the whole file decodes as UTF-8 (a UTF-16 BOM counts as declared, so yes)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        first = True
        for block in iter(lambda: f.read(1 << 20), b""):
            if first and (block.startswith(_BOMS[1:]) or _looks_utf16(block[:_SNIFF])):
                return True
            first = False
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(_SNIFF)


def _check_pdf(path: Path, limits: ParseLimits) -> None:
    from pypdf import PdfReader

    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 4096))
        if b"%%EOF" not in f.read():
            raise Corrupt("truncated PDF (no end-of-file marker)", hint="copy the file again from its origin")
    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Encrypted("encrypted or password-protected PDF", hint="ask the owner for an unprotected copy")
        pages = len(reader.pages)
    except Encrypted:
        raise
    except RecursionError as exc:
        raise Corrupt("the PDF's structure loops back on itself", hint="re-save the PDF in a viewer") from exc
    except Exception as exc:  # pypdf cannot even read the structure: corrupt
        raise Corrupt(f"not a readable PDF ({type(exc).__name__}: {str(exc)[:200]})", hint="check it opens in a PDF viewer") from exc
    if pages > limits.max_pages:
        raise TooManyPages(f"{pages:,} pages is over the {limits.max_pages:,}-page limit", hint="raise ingest.max_pages")
    if pages == 0:
        raise Corrupt("the PDF has no pages", hint="check it opens in a PDF viewer")


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: NUL bytes on one parity only (ASCII-range text), none on the other."""
    if len(head) < 16:
        return False
    even, odd = head[0::2].count(0), head[1::2].count(0)
    half = len(head) // 2
    return (even > 0.3 * half and odd == 0) or (odd > 0.3 * half and even == 0)


def _check_zip(path: Path, suffix: str, limits: ParseLimits) -> None:
    with open(path, "rb") as f:
        if f.read(8) == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # an OLE container: how Office stores encrypted files
            raise Encrypted(
                f"a password-protected (or legacy-format) {suffix} file", hint="ask the owner for an unprotected copy"
            )
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > limits.max_unpacked_bytes:
                raise DecompressionBomb(
                    f"parts would unpack to {total:,} bytes (limit {limits.max_unpacked_bytes:,})",
                    hint="a legitimate file this large: raise ingest.max_unpacked_mb",
                )
            for i in infos:
                if i.file_size > (1 << 20) and i.file_size > limits.max_ratio * max(1, i.compress_size):
                    raise DecompressionBomb(
                        f"part {i.filename!r} unpacks {i.file_size // max(1, i.compress_size):,}x its size",
                        hint="this is the shape of a zip bomb; ask for the original file",
                    )
            for i in infos:
                if i.filename.endswith((".xml", ".rels")):
                    with zf.open(i) as part:
                        head = part.read(4096).upper()
                    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                        raise Corrupt(
                            f"part {i.filename!r} declares a DTD/entities (the billion-laughs pattern)",
                            hint="Office files never need a DTD; ask for the original file",
                        )
    except zipfile.BadZipFile as exc:
        raise Corrupt(f"not a valid {suffix} (zip) container: {exc}", hint="the extension may be wrong") from exc


def _check_includes(path: Path, suffix: str) -> None:
    directive = _INCLUDE_DIRECTIVES.get(suffix)
    if directive is None:
        return
    with open(path, "rb") as f:
        found = directive.search(f.read(64 << 20))
    if found:
        raise UnsafeContent(
            f"'{found.group(0).decode(errors='replace').strip()}' directive would make the parser read other files",
            hint="remove the include directive, or export the document to PDF/HTML",
        )


def _check_text(path: Path) -> None:
    head = _head(path)
    if head.startswith(_BOMS) or _looks_utf16(head):
        return
    if b"\x00" in head:
        raise Corrupt("binary content in a text file (NUL bytes)", hint="the extension may be wrong")
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if head and controls / len(head) > 0.05:
        raise Corrupt("binary content in a text file (control bytes)", hint="the extension may be wrong")
