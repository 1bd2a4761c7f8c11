"""Legacy .doc/.xls are converted by LibreOffice when it is installed; a clear per-file
`needs_libreoffice` reason when it is not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from enclave.settings import Settings
from tests.corpus import write_docx, write_xlsx
from tests.sync_support import sync_folder, top_passage

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def _legacy_copy(modern: Path, fmt: str, out: Path) -> Path:
    """The same document saved in the old binary format by LibreOffice itself."""
    profile = out / "lo-profile"
    subprocess.run(
        [str(SOFFICE), f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", fmt, "--outdir", str(out), str(modern)],
        check=True, capture_output=True, timeout=180,
    )
    shutil.rmtree(profile, ignore_errors=True)
    return out / f"{modern.stem}.{fmt}"


def test_without_libreoffice_legacy_files_fail_with_a_clear_reason(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "share"
    root.mkdir()
    (root / "old-memo.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)  # an OLE header is enough to be refused first
    (root / "notes.md").write_text("# Notes\n\nThe loading dock closes at 5 pm.\n")
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the parse child starts with this PATH: no soffice
    report = sync_folder(settings, root)
    assert [(f.source, f.code) for f in report.failed] == [("share/old-memo.doc", "needs_libreoffice")]
    assert "LibreOffice" in report.failed[0].message
    assert report.ingested == ["share/notes.md"]


@pytest.mark.skipif(SOFFICE is None, reason="needs LibreOffice (apt-get install libreoffice-writer-nogui libreoffice-calc-nogui)")
def test_with_libreoffice_doc_and_xls_are_converted_and_answerable(settings: Settings, tmp_path: Path) -> None:
    modern, root = tmp_path / "modern", tmp_path / "share"
    modern.mkdir()
    root.mkdir()
    write_docx(modern / "sterile-supply.docx", "Sterile supply", ["Autoclave logs are kept for seven years in the sterile supply unit."])
    write_xlsx(modern / "on-call.xlsx", [["Ward", "On-call extension"], ["Cardiology", "4471"], ["Neurology", "4480"]])
    _legacy_copy(modern / "sterile-supply.docx", "doc", root)
    _legacy_copy(modern / "on-call.xlsx", "xls", root)
    report = sync_folder(settings, root)
    assert report.failed == [] and sorted(report.ingested) == ["share/on-call.xls", "share/sterile-supply.doc"]
    top = top_passage(settings, "How long are autoclave logs kept?")
    assert top.source == "share/sterile-supply.doc" and "seven years" in top.text
    top = top_passage(settings, "What is the cardiology on-call extension?")
    assert top.source == "share/on-call.xls" and "4471" in top.text
