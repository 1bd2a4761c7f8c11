"""OCR of scans and images when Debian's tesseract-ocr (and poppler-utils for PDFs) is installed;
a clear per-file `needs_ocr` reason when it is not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from enclave.settings import Settings
from tests.sync_support import sync_folder, top_passage

SCAN_TEXT = "The pharmacy night safe opens with key 7 at the east desk"
PHOTO_TEXT = "Fire assembly point is the north car park"
NEEDS_OCR = pytest.mark.skipif(
    not (shutil.which("tesseract") and shutil.which("pdftoppm")), reason="needs apt-get install tesseract-ocr poppler-utils"
)


def _render(text: str) -> object:
    """A white page with black text, as a scanner would give it (no text layer anywhere)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=36)
    image = Image.new("RGB", (1400, 300), "white")
    ImageDraw.Draw(image).text((40, 120), text, fill="black", font=font)
    return image


def _build(root: Path) -> None:
    root.mkdir(parents=True)
    _render(SCAN_TEXT).save(root / "scan.pdf")  # an image-only PDF
    _render(PHOTO_TEXT).save(root / "notice.png")
    (root / "notes.md").write_text("# Notes\n\nThe loading dock closes at 5 pm.\n")


def test_without_ocr_scans_and_images_fail_with_a_clear_reason(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "share"
    _build(root)
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the parse child starts with this PATH: no tesseract, no pdftoppm
    report = sync_folder(settings, root)
    assert sorted((f.source, f.code) for f in report.failed) == [("share/notice.png", "needs_ocr"), ("share/scan.pdf", "needs_ocr")]
    assert all("apt-get install tesseract-ocr" in f.message or "not installed" in f.message for f in report.failed)
    assert report.ingested == ["share/notes.md"]


@NEEDS_OCR
def test_with_ocr_a_scanned_pdf_and_an_image_are_read_and_answerable(settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "share"
    _build(root)
    report = sync_folder(settings, root)
    assert report.failed == [] and sorted(report.ingested) == ["share/notes.md", "share/notice.png", "share/scan.pdf"]
    for question, source, words in (
        ("Which key opens the pharmacy night safe?", "share/scan.pdf", ("pharmacy", "night", "safe", "key")),
        ("Where is the fire assembly point?", "share/notice.png", ("assembly", "north", "car", "park")),
    ):
        top = top_passage(settings, question)
        assert top.source == source and top.page == 1, (top.source, top.page)
        assert all(w in top.text.lower() for w in words), top.text


@NEEDS_OCR
def test_each_page_takes_one_tesseract_run_fewer_with_the_same_elements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """unstructured's own agent runs Tesseract for the words (hOCR), then again for the plain text;
    Enclave's default agent gets both from one run. Same elements, one run fewer a page."""
    from unstructured_pytesseract import pytesseract

    from ingest.parse import SINGLE_PASS_OCR, parse_file

    scan, photo = tmp_path / "scan.pdf", tmp_path / "notice.png"
    _render(SCAN_TEXT).save(scan, save_all=True, append_images=[_render(PHOTO_TEXT)], resolution=150)
    _render(PHOTO_TEXT).save(photo)
    runs: list[str] = []
    real = pytesseract.run_tesseract

    def counted(*args: object, **kwargs: object) -> object:
        runs.append(str(kwargs.get("extension", "")))
        return real(*args, **kwargs)

    monkeypatch.setattr(pytesseract, "run_tesseract", counted)
    monkeypatch.setenv("OCR_AGENT", "")  # recorded, so the parse's own setting is undone after the test
    own_agent = "unstructured.partition.utils.ocr_models.tesseract_ocr.OCRAgentTesseract"

    def parse(path: Path, agent: str | None) -> tuple[list[tuple], list[str]]:
        if agent is None:
            monkeypatch.delenv("OCR_AGENT", raising=False)  # Enclave's default
        else:
            monkeypatch.setenv("OCR_AGENT", agent)
        runs.clear()
        elements = [(e.text, e.category, e.page) for e in parse_file(path).elements]
        return elements, list(runs)

    for path, pages, words in ((scan, 2, ("pharmacy", "assembly")), (photo, 1, ("assembly",))):
        own, own_runs = parse(path, own_agent)
        default, default_runs = parse(path, None)
        named, _ = parse(path, SINGLE_PASS_OCR)
        assert default == own == named, path.name
        assert all(w in " ".join(text for text, _, _ in default).lower() for w in words), default
        assert [page for _, _, page in default] == sorted(page for _, _, page in default) and default[-1][2] == pages
        assert len(default_runs) == len(own_runs) - pages, (own_runs, default_runs)
        assert own_runs.count("txt") == pages and default_runs.count("hocr txt") == pages, (own_runs, default_runs)


@NEEDS_OCR
def test_a_scans_pages_are_read_at_once_and_come_back_in_page_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ingest.ocr_threads` pages of one scanned PDF go to Tesseract together; the elements are the
    ones a page-by-page read gives, in page order."""
    import threading
    import time
    from itertools import pairwise

    from unstructured_pytesseract import pytesseract

    from ingest.parse import parse_file
    from ingest.precheck import ParseLimits

    scan = tmp_path / "rota.pdf"
    pages = [_render(f"Page {n} the night pharmacist on call is desk {n}") for n in range(1, 6)]
    pages[0].save(scan, save_all=True, append_images=pages[1:], resolution=150)
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()
    real = pytesseract.run_tesseract

    def timed(*args: object, **kwargs: object) -> object:
        start = time.monotonic()
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                spans.append((start, time.monotonic()))

    monkeypatch.setattr(pytesseract, "run_tesseract", timed)

    def read(threads: int) -> tuple[list[tuple], int]:
        spans.clear()
        elements = [(e.text, e.category, e.page) for e in parse_file(scan, ParseLimits(ocr_threads=threads)).elements]
        ordered = sorted(spans)
        overlaps = sum(later[0] < earlier[1] for earlier, later in pairwise(ordered))
        return elements, overlaps

    one_by_one, none_overlap = read(1)
    at_once, overlapping = read(3)
    assert at_once == one_by_one
    assert [page for _, _, page in at_once] == [1, 2, 3, 4, 5]
    assert all(f"desk {page}" in text for text, _, page in at_once), at_once
    assert none_overlap == 0 and overlapping >= 2, (none_overlap, overlapping)


@NEEDS_OCR
def test_a_scan_past_the_time_limit_stops_its_tesseract_runs_too(tmp_path: Path) -> None:
    """The parse child leads its own process group: stopping it at the time limit also ends the
    Tesseract processes it started, instead of leaving them running on the machine."""
    import time

    import psutil
    from PIL import Image, ImageDraw, ImageFont

    from ingest.errors import ParseTimeout
    from ingest.precheck import ParseLimits
    from ingest.worker import ParseWorker, WorkerLimits

    font = ImageFont.load_default(size=28)
    pages = []
    for n in range(40):  # dense pages: each one keeps Tesseract busy for a while
        page = Image.new("RGB", (1654, 2339), "white")
        draw = ImageDraw.Draw(page)
        for line in range(60):
            draw.text((80, 60 + line * 37), f"Page {n} line {line}: the ward rota changes on Monday at seven", fill="black", font=font)
        pages.append(page)
    scan = tmp_path / "long-scan.pdf"
    pages[0].save(scan, save_all=True, append_images=pages[1:], resolution=200)
    temp = tmp_path / "parse"

    def tesseracts() -> list[psutil.Process]:
        found = []
        for p in psutil.process_iter(["name", "cmdline", "status"]):
            mine = p.info["name"] == "tesseract" and str(temp) in " ".join(p.info["cmdline"] or [])
            if mine and p.info["status"] != psutil.STATUS_ZOMBIE:  # killed, waiting for init to reap it
                found.append(p)
        return found

    worker = ParseWorker(WorkerLimits(timeout_s=8, parse=ParseLimits(ocr_threads=2)), temp)
    try:
        with pytest.raises(ParseTimeout):
            worker(scan)
        time.sleep(0.3)
        assert tesseracts() == []
    finally:
        worker.close()
        for p in tesseracts():
            p.kill()
