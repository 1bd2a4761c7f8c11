"""The answer route's pure parts: prompt packing, citation checking, marker filtering, follow-up search."""

from __future__ import annotations

from ingest.index.base import Hit
from ingest.schema import Chunk
from rag.answer import MarkerFilter, cite, search_text
from rag.prompt import SYSTEM_PROMPT, pack_prompt


def hit(n: int, text: str, page: int | None = None) -> Hit:
    """A retrieved chunk with made-up scores."""
    chunk = Chunk(
        chunk_id=f"id-{n}", doc_id=f"doc-{n}", source=f"docs/file{n}.md", doc_sha256="0" * 64, chunk_no=0,
        text=text, page=page, section=None, element_types=("NarrativeText",), labels=("internal",),
    )
    return Hit(chunk=chunk, score=1.0 / n, dense_score=0.5, sparse_score=0.5)


def words(text: str) -> int:
    """A stand-in tokenizer: one token per word."""
    return len(text.split())


def test_pack_numbers_sentences_and_drops_whole_passages_over_budget() -> None:
    """Passages go in by rank; one that does not fit is dropped whole and counted, never cut."""
    hits = [hit(1, "Leave is 28 days. Up to 7 days carry over."), hit(2, "x " * 500), hit(3, "Badges go live in March.")]
    packed = pack_prompt("How many days carry over?", hits, words, budget_tokens=60)
    assert packed.messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    user = packed.messages[-1]["content"]
    assert "[1] Leave is 28 days.\n[2] Up to 7 days carry over.\n[3] Badges go live in March." in user
    assert [h.chunk.chunk_id for h in packed.passages] == ["id-1", "id-3"]
    assert packed.line_passage == [0, 0, 1]
    assert packed.dropped == 1
    assert user.endswith("Question: How many days carry over?")


def test_cite_keeps_a_supported_claim_and_corrects_a_wrong_number() -> None:
    """A model citation is kept when its passage holds the facts, replaced when it does not."""
    passages = [hit(1, "Leave is 28 days per year.", page=2), hit(2, "Up to 7 days can be carried over.", page=5)]
    right = cite("Up to 7 days can be carried over [2].", passages, [0, 1])
    assert [(c.n, c.page) for c in right] == [(2, 5)]
    wrong = cite("Up to 7 days can be carried over [1].", passages, [0, 1])
    assert [(c.n, c.source) for c in wrong] == [(2, "docs/file2.md")]
    out_of_range = cite("Leave is 28 days [9].", passages, [0, 1])
    assert [c.n for c in out_of_range] == [1]  # never a passage that was not in the prompt


def test_marker_filter_hides_markers_split_across_pieces() -> None:
    """[n] markers vanish from the stream even when tokens split them; other brackets stay."""
    f = MarkerFilter()
    shown = "".join(f.feed(p) for p in ["Seven days ", "[", "1", "2]", " apply [see", " note]."]) + f.flush()
    assert shown == "Seven days apply [see note]."
    f = MarkerFilter()
    shown = "".join(f.feed(p) for p in ["Badges go live in March.", " [", "2]", ".", " Ask", " HR [3, 4]", "\n\nThanks", " "]) + f.flush()
    assert shown == "Badges go live in March. Ask HR\n\nThanks"


def test_follow_up_searches_with_the_previous_question() -> None:
    """A follow-up is searched together with the last earlier question; a first question alone."""
    history = [{"role": "user", "content": "What is the leave policy?"}, {"role": "assistant", "content": "28 days [1]"}]
    assert search_text("And how many carry over?", history) == "What is the leave policy?\nAnd how many carry over?"
    assert search_text("What is the leave policy?", []) == "What is the leave policy?"
