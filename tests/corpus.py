"""Writers for real documents in real formats, built by the tests themselves."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path


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
