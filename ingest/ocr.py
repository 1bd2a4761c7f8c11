"""OCR with one Tesseract run per page where unstructured's Tesseract agent makes two.

unstructured imports this module by name when it first needs an OCR agent (see
`ingest.parse.use_single_pass_ocr`), so only a parse that reads a scan or an image loads it.
"""

from __future__ import annotations

from typing import Any

from unstructured.partition.utils.ocr_models.tesseract_ocr import OCRAgentTesseract


class SinglePassTesseract(OCRAgentTesseract):
    """unstructured's Tesseract agent, asking Tesseract for the words and the plain text in one run.

    unstructured reads each page twice: once for the words and their boxes (hOCR), once more
    for the plain text that groups those words into lines and paragraphs. One Tesseract run
    writes both (its `hocr` and `txt` configs); the recognition, and so the elements, are the
    same. A page whose text is too small or too large is read again at a better zoom, as in
    unstructured; the plain text always comes from the page as rendered, as in unstructured.
    """

    def __init__(self, language: str = "eng") -> None:
        super().__init__(language)
        self._page_text: str | None = None
        self._keep_text = False

    def get_layout_elements_from_image(self, image: Any) -> Any:
        from unstructured.partition.pdf_image.inference_utils import (
            build_layout_elements_from_ocr_regions,
        )

        self._keep_text, self._page_text = True, None
        try:
            regions = self.get_layout_from_image(image)  # its first Tesseract run also keeps the text
        finally:
            self._keep_text = False
        text = self._page_text if self._page_text is not None else self.get_text_from_image(image)
        return build_layout_elements_from_ocr_regions(ocr_regions=regions, ocr_text=text, group_by_ocr_text=True)

    def image_to_data_with_character_confidence_filter(
        self, image: Any, lang: str = "eng", config: str = "", character_confidence_threshold: float = 0.0
    ) -> Any:
        if not self._keep_text:
            return super().image_to_data_with_character_confidence_filter(image, lang, config, character_confidence_threshold)
        import unstructured_pytesseract

        self._keep_text = False  # a zoomed second run only replaces the words
        hocr, self._page_text = unstructured_pytesseract.run_and_get_multiple_output(
            image, ["hocr", "txt"], lang=lang, extra_config=f"-c hocr_char_boxes=1 {config}".strip()
        )
        return self.hocr_to_dataframe(hocr, character_confidence_threshold)

