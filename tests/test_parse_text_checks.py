"""unstructured's title/narrative checks run on punctuation sentences and the tagger alone.

The light checks must give the element types unstructured's own checks give on ordinary text,
and must never load the dependency parser; bench/RESULTS.md measures both on the example
documents (99.4% of elements keep their type; text-heavy files parse 2.8-4.3x faster).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import parse
from tests.corpus import write_docx, write_html, write_markdown

PARAGRAPHS = [
    "Discharge Planning Checklist",
    "ITEM 1A. RISK FACTORS",
    (
        "Patients are reviewed by the ward pharmacist before discharge. The review covers every "
        "medicine started during the stay. Changes are written into the discharge letter."
    ),
    "The duty manager approves overtime requests before the rota is published.",
    "Annual leave, sick leave and parental leave",
    (
        "Overnight cash balances above the branch limit are moved to the vault and counted by two "
        "members of staff. Each count is signed on the ledger sheet."
    ),
    "Appendix B: Contact numbers",
    "2026",
    "Access to the records room requires a badge and a second signature.",
]


def _elements(path: Path) -> list[tuple[str, str, str | None]]:
    return [(e.category, e.text, e.section) for e in parse.parse_file(path).elements]


def test_light_checks_type_elements_like_unstructured_and_never_load_the_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from unstructured.nlp import tokenize
    from unstructured.partition import text_type

    files = [
        write_docx(tmp_path / "policy.docx", "Ward policy", PARAGRAPHS),
        write_html(tmp_path / "policy.html", "Ward policy", PARAGRAPHS),
        write_markdown(tmp_path / "policy.md", "Ward policy", PARAGRAPHS),
    ]
    parse.use_bundled_spacy_model()
    tokenize._get_nlp.cache_clear()

    light = {f.name: _elements(f) for f in files}
    assert tokenize._get_nlp.cache_info().currsize == 0, "the light checks loaded unstructured's full pipeline"

    for name in ("sent_tokenize", "word_tokenize", "pos_tag"):  # unstructured's own checks, for reference
        monkeypatch.setattr(text_type, name, getattr(tokenize, name))
    monkeypatch.setattr(parse, "use_light_text_checks", lambda: None)
    own = {f.name: _elements(f) for f in files}
    assert tokenize._get_nlp.cache_info().currsize == 1  # the reference did run the parser

    assert light == own
    categories = {category for elements in own.values() for category, _, _ in elements}
    assert {"Title", "NarrativeText"} <= categories  # the checks had both kinds to tell apart
    assert sum(text == PARAGRAPHS[2] for elements in light.values() for _, text, _ in elements) == 3


def test_light_checks_count_sentences_split_words_and_tag_verbs() -> None:
    from unstructured.partition import text_type

    parse.use_light_text_checks()
    assert text_type.sent_tokenize("Dr. Okafor signed the form. The ward was told.") == [
        "Dr. Okafor signed the form.",
        "The ward was told.",
    ]
    assert text_type.word_tokenize("ITEM 1. Financial Statements (Unaudited)") == [
        "ITEM", "1", ".", "Financial", "Statements", "(", "Unaudited", ")",
    ]
    assert ("was", "VBD") in text_type.pos_tag("The patient was discharged")
    assert len(text_type.sent_tokenize("The ward was told. " * 600)) == 600  # past the cached size
    assert text_type.is_possible_narrative_text("The patient was discharged on Monday.")
    assert not text_type.is_possible_narrative_text("QUARTERLY RISK REVIEW")
    assert text_type.is_possible_title("Quarterly risk review")
