"""A hostile corpus built by the test: each bad file gives exactly one per-file error, nothing is
written outside the job's temp area, the good files in the same batch are ingested, the job ends."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from enclave.settings import Settings
from tests.corpus import NOVEL, write_docx, write_msg, write_pdf, write_slow_text, write_xlsx
from ingest.manifest import Manifest
from ingest.pipeline import verify

# The `../` attachment name is tried in an Outlook MSG (tests.corpus.write_msg) and in an EML; both mails
# are good files: their bodies are indexed and their attachments are never written (process_attachments=False).
EXPECTED = {
    "zero.pdf": "empty",
    "truncated.pdf": "corrupt",
    "encrypted.pdf": "encrypted",
    "circular.pdf": "corrupt",
    "bomb.docx": "decompression_bomb",
    "bomb.xlsx": "decompression_bomb",
    "laughs.docx": "corrupt",
    "memo.docx": "corrupt",  # a PDF wearing a .docx extension
    "huge.txt": "too_large",  # 8 GiB, sparse: never read
    "binary.txt": "corrupt",  # binary bytes behind a .txt extension
    "cafe.txt": "encoding",  # cp1252 text: refused, since guessing gave cp1250 mojibake
    "include.rst": "unsafe_include",  # pandoc would copy the included file into the index
    "include.org": "unsafe_include",
}
GOOD = ("good.pdf", "good.docx", "notes.md", "mail.eml", "rota.msg", "visitors.msg")
EVIL_NAME = "enclave-escaped.txt"
ROTA_BODY = "Night shift swaps are agreed with the duty manager by Thursday."


def circular_pdf() -> bytes:
    """A PDF whose xref chain (/Prev) and page tree (/Kids) both point back at themselves."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length 44 >>\nstream\nBT /F1 12 Tf 72 720 Td (Loop text) Tj ET\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 5 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (xref, xref)
    return bytes(out)


def replace_part(path: Path, part: str, data: bytes) -> None:
    """Rewrite one part of an OOXML zip."""
    with zipfile.ZipFile(path) as zin:
        items = [(i, zin.read(i.filename)) for i in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, content in items:
            zout.writestr(info.filename, data if info.filename == part else content, compress_type=zipfile.ZIP_DEFLATED)
    path.write_bytes(buf.getvalue())


def bomb_xml(root_open: bytes, root_close: bytes, mib: int = 64) -> bytes:
    return root_open + b"<w:t>" + b"A" * (mib << 20) + b"</w:t>" + root_close


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>
<w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"""


def build_corpus(root: Path) -> None:
    """The hostile files and the good ones, side by side."""
    import pikepdf

    root.mkdir(parents=True)
    good_pdf = write_pdf(root / "good.pdf", ["Visitors sign in at the east gate.", "Badges are returned on exit."])
    write_docx(root / "good.docx", "Parking", ["Staff park in lot B after 6 pm."])
    (root / "notes.md").write_text("# Notes\n\nThe server room door code changes every quarter.\n")
    (root / "cafe.txt").write_bytes("Le café du personnel ouvre à 7 h; crème et thé gratuits.\n".encode("cp1252"))
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = "Rota", "hr@example.org", "all@example.org"
    mail.set_content("The weekend rota is posted on Fridays.")
    mail.add_attachment(b"escaped!", maintype="text", subtype="plain", filename=f"../../../{EVIL_NAME}")
    (root / "mail.eml").write_bytes(mail.as_bytes())
    write_msg(root / "rota.msg", "Night rota", ROTA_BODY, attachments=[(f"../../../{EVIL_NAME}", b"escaped!")])
    write_msg(root / "visitors.msg", "Visitors", "Visitors are escorted beyond reception at all times.")

    (root / "zero.pdf").write_bytes(b"")
    data = good_pdf.read_bytes()
    (root / "truncated.pdf").write_bytes(data[: len(data) // 2])
    with pikepdf.open(good_pdf) as pdf:
        pdf.save(root / "encrypted.pdf", encryption=pikepdf.Encryption(user="secret", owner="owner"))
    (root / "circular.pdf").write_bytes(circular_pdf())
    (root / "memo.docx").write_bytes(data)
    ns = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
    replace_part(write_docx(root / "bomb.docx", "Bomb", ["x"]), "word/document.xml", bomb_xml(ns, b"</w:r></w:p></w:body></w:document>"))
    sheet = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
    replace_part(write_xlsx(root / "bomb.xlsx", [["a", 1]]), "xl/worksheets/sheet1.xml", bomb_xml(sheet, b"</is></c></row></sheetData></worksheet>"))
    replace_part(write_docx(root / "laughs.docx", "Laughs", ["x"]), "word/document.xml", LAUGHS)
    with open(root / "huge.txt", "wb") as f:
        f.truncate(8 << 30)
    (root / "binary.txt").write_bytes(bytes(range(256)) * 64)
    secret = root.parent / "outside-secret.txt"
    secret.write_text("OUTSIDE-SECRET-CANARY\n")
    (root / "include.rst").write_text(f"Title\n=====\n\n.. include:: {secret}\n")
    (root / "include.org").write_text(f"* Notes\n#+INCLUDE: \"{secret}\"\n")


def _snapshot(top: Path, skip: Path) -> set[str]:
    return {str(p) for p in top.rglob("*") if skip not in p.parents and p != skip}


def test_hostile_corpus(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from enclave.ingest_job import folder_source, run_ingest_job
    from enclave.wiring import build_embedder, shared_index

    root = tmp_path / "share"
    build_corpus(root)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = _snapshot(tmp_path, settings.home)
    embedder = build_embedder(settings)
    report = run_ingest_job(settings, [folder_source(settings, root)], trigger="test", actor="tester", embedder=embedder)

    failures: dict[str, list[str]] = {}
    for f in report.failed:
        failures.setdefault(f.source.removeprefix("share/"), []).append(f.code)
    assert failures == {name: [code] for name, code in EXPECTED.items()}
    assert sorted(s.removeprefix("share/") for s in report.ingested) == sorted(GOOD)
    assert all(f.message for f in report.failed)
    assert _snapshot(tmp_path, settings.home) == before  # nothing written beside the share or in the cwd
    assert not list(cwd.iterdir())
    assert not list((settings.home / "tmp").iterdir())  # the job's temp area is removed
    assert not [p for p in tmp_path.parent.rglob(EVIL_NAME)]
    index = shared_index(settings, embedder)
    manifest = Manifest(settings.manifest_path)
    try:
        assert verify(index, manifest) == []  # failed rows hold no chunks; good ones are whole
        records = {r.source: r for r in manifest.all()}
        assert {s for s, r in records.items() if r.status == "failed"} == {f"share/{n}" for n in EXPECTED}
        assert {s for s, r in records.items() if r.status == "ingested"} == {f"share/{n}" for n in GOOD}
        assert all(records[f"share/{n}"].error_code == code for n, code in EXPECTED.items())
        assert ROTA_BODY in " ".join(c.text for c in index.chunks_of(records["share/rota.msg"].doc_id))
    finally:
        manifest.close()


def test_the_msg_writer_makes_an_outlook_file_that_unstructured_and_oxmsg_read(tmp_path: Path) -> None:
    """The corpus' .msg is a real compound file: the product's parser reads its body, python-oxmsg its attachment."""
    import olefile
    from oxmsg import Message

    from ingest.parse import parse_file

    path = write_msg(tmp_path / "rota.msg", "Night rota", ROTA_BODY, "ops@example.org", [(f"../../../{EVIL_NAME}", b"escaped!")])
    assert olefile.isOleFile(str(path))
    parsed = parse_file(path)
    assert [e.text for e in parsed.elements] == ["Night rota", ROTA_BODY]  # the subject is searchable, and the title
    assert parsed.title == "Night rota"
    msg = Message.load(str(path))
    assert (msg.message_class, msg.subject, msg.body, msg.sender) == ("IPM.Note", "Night rota", ROTA_BODY, '"ops@example.org" <ops@example.org>')
    [attachment] = msg.attachments
    assert (attachment.file_name, attachment.file_bytes, attachment.attached_by_value) == (f"../../../{EVIL_NAME}", b"escaped!", True)
    assert not list(tmp_path.parent.rglob(EVIL_NAME))


def test_a_declared_legacy_encoding_decodes_non_utf8_text(tmp_path: Path) -> None:
    from ingest.parse import parse_file
    from ingest.precheck import ParseLimits

    path = tmp_path / "cafe.txt"
    path.write_bytes("Le café du personnel ouvre à 7 h; crème et thé gratuits.".encode("cp1252"))
    text = " ".join(e.text for e in parse_file(path, ParseLimits(text_encoding="cp1252")).elements)
    assert "café" in text and "à 7 h" in text and "crème" in text


def test_limits_stop_a_slow_parse_and_the_next_file_still_parses(settings: Settings, tmp_path: Path) -> None:
    """A real over-long parse (a 1,225-page novel, twelve times over, under a 5 s limit) is killed; the worker restarts."""
    from enclave.ingest_job import folder_source, run_ingest_job

    if not NOVEL.exists():
        pytest.skip("example-docs not present")
    root = tmp_path / "share"
    root.mkdir()
    write_slow_text(root / "a-novel.txt")
    (root / "b-notes.md").write_text("# Notes\n\nThe loading dock closes at 5 pm.\n")
    strict = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"parse_timeout_s": 5})})
    report = run_ingest_job(strict, [folder_source(strict, root)], trigger="test", actor="tester")
    assert [(f.source, f.code) for f in report.failed] == [("share/a-novel.txt", "timeout")]
    assert report.ingested == ["share/b-notes.md"]


def test_worker_counts_the_restart_after_a_timeout(tmp_path: Path) -> None:
    """The parser child stopped for a timeout is started afresh for the next file, and that counts."""
    from ingest.errors import ParseTimeout
    from ingest.worker import ParseWorker, WorkerLimits

    if not NOVEL.exists():
        pytest.skip("example-docs not present")
    slow = write_slow_text(tmp_path / "novel.txt")
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nThe loading dock closes at 5 pm.\n")
    with ParseWorker(WorkerLimits(timeout_s=5), tmp_path / "parse") as worker:
        assert "loading dock" in " ".join(e.text for e in worker(notes).elements)
        assert worker.restarts == 0
        with pytest.raises(ParseTimeout):
            worker(slow)
        assert "loading dock" in " ".join(e.text for e in worker(notes).elements)
        assert worker.restarts == 1
