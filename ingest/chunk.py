"""Token-bounded chunks that keep their source, page, section and element types."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby

from ingest.parse import Element, ParsedDocument


@dataclass(frozen=True)
class Passage:
    """A chunk's text and where it came from, before it gets ids and vectors."""

    text: str
    page: int | None
    section: str | None
    element_types: tuple[str, ...]


def chunk_document(
    doc: ParsedDocument,
    count_tokens: Callable[[str], list[int]],
    max_tokens: int,
    overlap_tokens: int,
) -> list[Passage]:
    """Group elements by (page, section), then split each group with llama-index's SentenceSplitter.

    Chunks never cross a page boundary, so each citation names one page.
    """
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(
        chunk_size=max_tokens,
        chunk_overlap=overlap_tokens,
        tokenizer=count_tokens,
        paragraph_separator="\n\n",
    )
    passages: list[Passage] = []
    for (page, section), group in groupby(doc.elements, key=lambda e: (e.page, e.section)):
        elements = list(group)
        types = tuple(sorted({e.category for e in elements}))
        block = "\n\n".join(_element_text(e) for e in elements)
        for piece in splitter.split_text(block):
            piece = piece.strip()
            if piece:
                passages.append(Passage(text=piece, page=page, section=section, element_types=types))
    return passages


def _element_text(element: Element) -> str:
    return element.text


def iter_batches(items: list, size: int) -> Iterator[list]:
    """Consecutive slices of `items` of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
