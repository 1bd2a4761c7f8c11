"""Writers for real documents in real formats, built by the tests themselves."""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path


# A 1,225-page novel from the shared example documents.
NOVEL = Path(os.environ.get("ENCLAVE_EXAMPLE_DOCS", "/work/shared/data/example-docs")) / "book-war-and-peace-1225p.txt"


def write_slow_text(path: Path, copies: int = 12) -> Path:
    """A plain-text file that no machine parses within a test's time limit: `copies` of NOVEL
    back to back. War and Peace once takes unstructured 14 s on this project's 2-core Xeon and took less
    than 10 s on a CI host; twelve copies keep a 10 s limit four times too short on a CPU three times
    faster than the Xeon."""
    text = NOVEL.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text * copies)
    return path


def write_docx(path: Path, title: str, paragraphs: list[str]) -> Path:
    """A Word document with a heading and paragraphs."""
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for p in paragraphs:
        document.add_paragraph(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF with one block of text per page."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def write_html(path: Path, title: str, paragraphs: list[str]) -> Path:
    """An HTML page."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>")
    return path


def write_markdown(path: Path, title: str, paragraphs: list[str]) -> Path:
    """A Markdown file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n")
    return path


def write_eml(path: Path, subject: str, body: str, sender: str = "hr@example.org") -> Path:
    """An RFC 822 e-mail."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "staff@example.org"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 09:00:00 +0000"
    msg.set_content(body)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(msg))
    return path


def write_pptx(path: Path, title: str, bullet: str) -> Path:
    """A one-slide presentation."""
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = title
    slide.placeholders[1].text = bullet
    path.parent.mkdir(parents=True, exist_ok=True)
    deck.save(str(path))
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    """A one-sheet workbook."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(str(path))
    return path


def write_msg(
    path: Path, subject: str, body: str, sender: str = "hr@example.org", attachments: Sequence[tuple[str, bytes]] = ()
) -> Path:
    """An Outlook .msg: MAPI property streams ([MS-OXMSG]) in an OLE2 compound file ([MS-CFB])."""
    tree: dict[str, bytes | dict] = _mapi_streams(
        struct.pack("<8x4I8x", 0, len(attachments), 0, len(attachments)),  # top-level header: 32 bytes
        {0x001A001F: "IPM.Note", 0x0037001F: subject, 0x1000001F: body, 0x0C1F001F: sender,
         0x0C1A001F: sender, 0x0E070003: 1, 0x340D0003: 0x40000},  # flags: read; store: Unicode ok
    )
    tree["__nameid_version1.0"] = {f"__substg1.0_000{n}0102": b"" for n in (2, 3, 4)}
    for number, (name, data) in enumerate(attachments):
        tree[f"__attach_version1.0_#{number:08X}"] = _mapi_streams(
            bytes(8),  # attachment header: 8 reserved bytes
            {0x37050003: 1, 0x0E210003: number, 0x370B0003: 0xFFFFFFFF,  # by value; number; no position
             0x3707001F: name, 0x3704001F: name, 0x3001001F: name, 0x37010102: data},
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(compound_file(tree))
    return path


def _mapi_streams(header: bytes, props: dict[int, int | str | bytes]) -> dict[str, bytes | dict]:
    """A property stream (16 bytes a property) and one `__substg1.0_` stream per string or binary value."""
    streams: dict[str, bytes | dict] = {}
    rows = []
    for tag, value in sorted(props.items()):
        if isinstance(value, int):
            rows.append(struct.pack("<IIQ", tag, 6, value))  # flags 6: readable, writable
            continue
        data = value.encode("utf-16-le") if isinstance(value, str) else value
        streams[f"__substg1.0_{tag:08X}"] = data
        rows.append(struct.pack("<IIII", tag, 6, len(data) + (2 if isinstance(value, str) else 0), 0))
    return {"__properties_version1.0": header + b"".join(rows), **streams}


SECTOR, MINI_SECTOR, MINI_CUTOFF = 512, 64, 4096
FREE, END_OF_CHAIN, FAT_SECTOR, NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def compound_file(tree: dict[str, bytes | dict]) -> bytes:
    """A version 3 compound file (512-byte sectors): dicts are storages, bytes are streams."""
    nodes: list[tuple[str, bytes | dict]] = [("Root Entry", tree)]
    kids: dict[int, list[int]] = {}
    for i, (_, node) in enumerate(nodes):  # breadth first; the list grows while it is walked
        if isinstance(node, dict):
            ordered = sorted(node.items(), key=lambda kv: (len(kv[0]), kv[0].upper()))  # [MS-CFB] 2.6.4 order
            kids[i] = list(range(len(nodes), len(nodes) + len(ordered)))
            nodes.extend(ordered)
    fat: list[int] = []
    body = bytearray()
    mini_fat: list[int] = []
    mini = bytearray()

    def chain(table: list[int], store: bytearray, data: bytes, size: int) -> int:
        if not data:
            return END_OF_CHAIN
        start, count = len(table), -(-len(data) // size)
        table.extend([*range(start + 1, start + count), END_OF_CHAIN])
        store.extend(data.ljust(count * size, b"\0"))
        return start

    starts = {0: 0}
    for i, (_, node) in enumerate(nodes):
        if isinstance(node, bytes):
            small = len(node) < MINI_CUTOFF
            starts[i] = chain(mini_fat, mini, node, MINI_SECTOR) if small else chain(fat, body, node, SECTOR)
    starts[0] = chain(fat, body, bytes(mini), SECTOR)
    mini_fat_bytes = struct.pack(f"<{len(mini_fat)}I", *mini_fat).ljust(-(-len(mini_fat) // 128) * SECTOR, b"\xff")
    mini_fat_start = chain(fat, body, mini_fat_bytes, SECTOR)
    left, right, child = [NO_STREAM] * len(nodes), [NO_STREAM] * len(nodes), [NO_STREAM] * len(nodes)

    def balanced(ids: list[int]) -> int:  # a balanced binary tree of siblings, all nodes black
        if not ids:
            return NO_STREAM
        mid = len(ids) // 2
        left[ids[mid]], right[ids[mid]] = balanced(ids[:mid]), balanced(ids[mid + 1 :])
        return ids[mid]

    for parent, ids in kids.items():
        child[parent] = balanced(ids)
    directory = bytearray()
    for i, (name, node) in enumerate(nodes):
        raw = name.encode("utf-16-le") + b"\0\0"
        kind, size = (2, len(node)) if isinstance(node, bytes) else (5, len(mini)) if i == 0 else (1, 0)
        directory += struct.pack(
            "<64sHBBIII16sIQQIQ", raw, len(raw), kind, 1, left[i], right[i], child[i], b"", 0, 0, 0, starts.get(i, 0), size
        )
    while len(directory) % SECTOR:  # unused entries
        directory += struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NO_STREAM, NO_STREAM, NO_STREAM, b"", 0, 0, 0, 0, 0)
    directory_start = chain(fat, body, bytes(directory), SECTOR)
    fat_count = -(-len(fat) // 127)  # each FAT sector also maps itself
    assert fat_count <= 109, "no DIFAT sectors: keep compound files under ~7 MB"
    fat_sectors = list(range(len(fat), len(fat) + fat_count))
    fat += [FAT_SECTOR] * fat_count
    fat += [FREE] * (fat_count * 128 - len(fat))
    header = struct.pack(
        "<8s16s5H6s9I109I", bytes.fromhex("d0cf11e0a1b11ae1"), b"", 0x3E, 3, 0xFFFE, 9, 6, b"",
        0, fat_count, directory_start, 0, MINI_CUTOFF, mini_fat_start, len(mini_fat_bytes) // SECTOR, END_OF_CHAIN, 0,
        *fat_sectors, *[FREE] * (109 - fat_count),
    )
    return header + bytes(body) + struct.pack(f"<{len(fat)}I", *fat)
