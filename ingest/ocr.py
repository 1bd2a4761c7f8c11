"""OCR of scans and images: one Tesseract run a page instead of two, and a PDF's pages read in parallel.

unstructured imports this module by name when it first needs an OCR agent (see
`ingest.parse.use_single_pass_ocr`); `ingest.parse` imports it before a scanned PDF is read.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from unstructured.partition.utils.ocr_models.tesseract_ocr import OCRAgentTesseract


class SinglePassTesseract(OCRAgentTesseract):
    """unstructured's Tesseract agent, asking Tesseract for the words and the plain text in one run.

    unstructured reads each page twice: once for the words and their boxes (hOCR), once more
    for the plain text that groups those words into lines and paragraphs. One Tesseract run
    writes both (its `hocr` and `txt` configs); the recognition, and so the elements, are the
    same. A page whose text is too small or too large is read again at a better zoom, as in
    unstructured; the plain text always comes from the page as rendered, as in unstructured.
    unstructured shares one agent between threads, so what a page keeps is per thread.
    """

    def __init__(self, language: str = "eng") -> None:
        super().__init__(language)
        self._page = threading.local()

    def get_layout_elements_from_image(self, image: Any) -> Any:
        from unstructured.partition.pdf_image.inference_utils import (
            build_layout_elements_from_ocr_regions,
        )

        self._page.keep_text, self._page.text = True, None
        try:
            regions = self.get_layout_from_image(image)  # its first Tesseract run also keeps the text
        finally:
            self._page.keep_text = False
        text = self._page.text if self._page.text is not None else self.get_text_from_image(image)
        return build_layout_elements_from_ocr_regions(ocr_regions=regions, ocr_text=text, group_by_ocr_text=True)

    def image_to_data_with_character_confidence_filter(
        self, image: Any, lang: str = "eng", config: str = "", character_confidence_threshold: float = 0.0
    ) -> Any:
        if not getattr(self._page, "keep_text", False):
            return super().image_to_data_with_character_confidence_filter(image, lang, config, character_confidence_threshold)
        import unstructured_pytesseract

        self._page.keep_text = False  # a zoomed second run only replaces the words
        hocr, self._page.text = unstructured_pytesseract.run_and_get_multiple_output(
            image, ["hocr", "txt"], lang=lang, extra_config=f"-c hocr_char_boxes=1 {config}".strip()
        )
        return self.hocr_to_dataframe(hocr, character_confidence_threshold)


_PAGE_THREADS = 1


def read_pages_in_threads(threads: int) -> None:
    """Let unstructured OCR up to `threads` pages of a scanned PDF at once (1: one after another).

    unstructured renders a page, reads it with Tesseract (single-threaded by its own setting),
    then renders the next. Tesseract runs as a child process, so threads overlap the pages;
    at most `threads` rendered pages wait or are read at a time, and the elements come back in
    page order, the same as unstructured's own loop gives them.
    """
    global _PAGE_THREADS
    from unstructured.partition import pdf

    _PAGE_THREADS = max(1, threads)
    if getattr(pdf._partition_pdf_or_image_with_ocr, "_enclave_threads", False):
        return
    one_by_one = pdf._partition_pdf_or_image_with_ocr

    def in_threads(filename: str = "", file: Any = None, *, is_image: bool = False, password: str | None = None, **kwargs: Any) -> list:
        if is_image or file is not None or _PAGE_THREADS == 1:
            return one_by_one(filename=filename, file=file, is_image=is_image, password=password, **kwargs)
        return _ocr_pages(filename, password, _PAGE_THREADS, **kwargs)

    in_threads._enclave_threads = True  # type: ignore[attr-defined]
    pdf._partition_pdf_or_image_with_ocr = in_threads


def _ocr_pages(filename: str, password: str | None, threads: int, starting_page_number: int = 1, **kwargs: Any) -> list:
    """unstructured's page loop (`_partition_pdf_or_image_with_ocr`), `threads` pages at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from unstructured.partition import pdf
    from unstructured.partition.pdf_image.pdf_image_utils import convert_pdf_to_images

    def read(page_number: int, image: Any) -> list:
        try:
            return pdf._partition_pdf_or_image_with_ocr_from_image(image=image, page_number=page_number, **kwargs)
        finally:
            image.close()

    elements: list = []
    with ThreadPoolExecutor(threads, thread_name_prefix="ocr-page") as pool:
        pending: deque = deque()
        try:
            pages = enumerate(convert_pdf_to_images(filename, None, password=password), start=starting_page_number)
            for page_number, image in pages:
                pending.append(pool.submit(read, page_number, image))
                if len(pending) >= threads:
                    elements.extend(pending.popleft().result())
            while pending:
                elements.extend(pending.popleft().result())
        finally:
            for future in pending:  # a page failed: the file fails; pages not started are dropped
                future.cancel()
    return elements
