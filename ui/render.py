"""Safe rendering: model output and document text become inert Markdown (no HTML, images or links)."""

from __future__ import annotations

import re

# Every character with a meaning in CommonMark, GFM or Streamlit's Markdown extensions.
_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:@&=\"'^%])")
# Characters that would build HTML, links, images, autolinks, math or Streamlit directives.
_ACTIVE = re.compile(r"([\\\[\]<>$&@:!])")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\s*(\([^)\n]*\)|\[[^\]\n]*\])")
_LINK = re.compile(r"\[([^\]\n]+)\]\(\s*<?((?:[^()\s>]|\([^()\s]*\))*)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE = re.compile(r"(```[\s\S]*?(?:```|$)|`[^`\n]+`)")

# Addresses remark-gfm would turn into links even when escaped (it links them after parsing): shown as code.
_BARE = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)[^\s`<>]*|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

IMAGE_REMOVED = "(image removed)"


def plain_text(text: str) -> str:
    """Markdown that shows `text` exactly as written: every special character is escaped."""
    lines = [_escaped(line.rstrip(), _PUNCT) for line in text.splitlines()]
    return "  \n".join(lines)


def _escaped(text: str, pattern: re.Pattern[str]) -> str:
    """Backslash-escape `pattern` characters; addresses become code spans, which are never linked."""
    out = []
    for i, part in enumerate(_split_bare(text)):
        out.append(_code_span(part) if i % 2 else pattern.sub(r"\\\1", part))
    return "".join(out)


def _split_bare(text: str) -> list[str]:
    """Alternating [text, address, text, address, ..., text]."""
    parts: list[str] = []
    last = 0
    for m in _BARE.finditer(text):
        parts.extend([text[last : m.start()], m.group(0)])
        last = m.end()
    parts.append(text[last:])
    return parts


def _code_span(text: str) -> str:
    return f"`{text}`" if "`" not in text else _PUNCT.sub(r"\\\1", text)


def safe_markdown(text: str) -> str:
    """Model output as Markdown keeping emphasis and lists, but with nothing that fetches or navigates.

    Images are removed, links become their text followed by the address as plain text, raw HTML is
    shown as text, bare addresses are not turned into links, math and Streamlit directives are off.
    Code spans and fenced blocks stay as they are: their content is never interpreted.
    """
    parts = _CODE.split(text.replace("\x00", "").replace("\x01", ""))  # the markers _inert uses
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 1:
            fenced = part.startswith("```")
            out.append(part if not fenced or (part.endswith("```") and len(part) >= 6) else _inert(part))
        else:
            out.append(_inert(part))
    return "".join(out)


def _inert(text: str) -> str:
    text = _IMAGE.sub(lambda m: f"\x00{IMAGE_REMOVED}\x00", text)
    text = _LINK.sub(lambda m: f"{m.group(1)} \x01{m.group(2)}\x01" if m.group(2) else m.group(1), text)
    pieces = re.split(r"([\x00\x01])", text)
    out = []
    mode = ""
    for piece in pieces:
        if piece in ("\x00", "\x01"):
            mode = "" if mode == piece else piece
            continue
        if mode == "\x01":  # a link target: shown as code in parentheses, never a link
            out.append("(" + _code_span(piece) + ")")
        elif mode == "\x00":
            out.append(_PUNCT.sub(r"\\\1", piece))
        else:
            out.append(_escaped(piece, _ACTIVE))
    return "".join(out)


def source_label(source: str, page: int | None) -> str:
    """'file name, page n' as plain text for a citation."""
    name = source.rsplit("/", 1)[-1]
    return f"{name}, page {page}" if page is not None else name
