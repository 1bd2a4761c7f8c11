"""Nothing phones home from native code either: checks the Python-level network block cannot see."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from ingest.worker import ParseWorker, WorkerLimits
from tests.corpus import write_docx, write_eml, write_html, write_pdf, write_pptx, write_xlsx
from tests.test_legacy_office import SOFFICE, _legacy_copy


def test_the_parse_child_loads_onnxruntime_with_its_telemetry_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime creates ~/.cache/Microsoft/DeveloperTools/.onnxruntime (device id + 1DS telemetry store) on
    import unless ORT_DISABLE_TELEMETRY is set; the parse child must set it before unstructured loads it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("ORT_DISABLE_TELEMETRY", raising=False)  # the child must set it itself
    doc = write_pdf(tmp_path / "a.pdf", ["The loading dock closes at 5 pm."])  # unstructured's PDF path loads onnxruntime
    with ParseWorker(WorkerLimits(timeout_s=120), tmp_path / "parse") as worker:
        assert "loading dock" in " ".join(e.text for e in worker(doc).elements)
        maps = [Path(f"/proc/{c.pid}/maps").read_text() for c in psutil.Process().children(recursive=True)]
    assert any("libonnxruntime" in m for m in maps)  # the library in question really is loaded in the child
    assert not (home / ".cache" / "Microsoft").exists()


STRACE = shutil.which("strace")
# What the trace watches: every way a process can start talking to another machine.
TRACED = ["-f", "--seccomp-bpf", "-qq", "-e", "signal=none", "-e", "trace=connect,sendto,sendmsg"]


def _can_trace() -> bool:
    if STRACE is None:
        return False
    return subprocess.run([STRACE, "-f", "-qq", "-o", os.devnull, "true"], capture_output=True, check=False).returncode == 0


def _traced(argv: list[str], log: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Run `argv` with every process it starts traced for connects and sends (the log names their addresses)."""
    return subprocess.run(
        [str(STRACE), *TRACED, "-o", str(log), *argv], capture_output=True, text=True, timeout=timeout, check=False
    )


def _internet(log: Path) -> list[str]:
    """Traced calls that name an IPv4 or IPv6 address (Unix sockets and netlink stay on the machine)."""
    return [line for line in log.read_text().splitlines() if "AF_INET" in line]


@pytest.mark.skipif(not _can_trace(), reason="needs strace and permission to ptrace (apt-get install strace)")
def test_a_sync_and_a_question_make_no_network_call_from_any_process(home: Path, tmp_path: Path) -> None:
    """`enclave ingest` and `enclave ask` with every process traced: the CLI, its parse children, LibreOffice,
    Tesseract, the embedder, Qdrant Edge and llama.cpp. None connects or sends to an internet address, whether
    or not a network is there (the Python-level block in conftest cannot see native code or other programs)."""
    control = tmp_path / "control.log"  # the trace does see a native connect: the check below can fail
    _traced([sys.executable, "-c", "import socket; s = socket.socket(); s.setblocking(False); s.connect_ex(('192.0.2.1', 9))"], control)
    assert any("192.0.2.1" in line for line in _internet(control))

    docs = tmp_path / "docs"
    write_pdf(docs / "dock.pdf", ["The loading dock closes at 5 pm on weekdays."])
    write_docx(docs / "rota.docx", "Night rota", ["Swaps are agreed with the duty manager."])
    write_html(docs / "visits.html", "Visiting", ["Visiting hours end at eight in the evening."])
    write_eml(docs / "notice.eml", "Fire drill", "The fire drill is on Tuesday at ten.")
    write_pptx(docs / "induction.pptx", "Induction", "Badges are collected at reception.")
    write_xlsx(docs / "extensions.xlsx", [["Ward", "Extension"], ["Cardiology", "4471"]])
    expected = {"dock.pdf", "rota.docx", "visits.html", "notice.eml", "induction.pptx", "extensions.xlsx"}
    if SOFFICE is not None:  # a legacy .doc goes through LibreOffice inside the parse child
        modern = write_docx(tmp_path / "modern" / "sterile.docx", "Sterile supply", ["Autoclave logs are kept for seven years."])
        _legacy_copy(modern, "doc", docs)
        expected.add("sterile.doc")
    if shutil.which("tesseract") and shutil.which("pdftoppm"):  # a scan goes through Tesseract
        from tests.test_ocr import PHOTO_TEXT, _render

        _render(PHOTO_TEXT).save(docs / "notice.png")
        expected.add("notice.png")

    ingest_log, ask_log = tmp_path / "ingest.log", tmp_path / "ask.log"
    ingest = _traced([sys.executable, "-m", "enclave", "ingest", str(docs), "--json"], ingest_log)
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    report = json.loads(ingest.stdout)
    assert report["failed"] == [] and {Path(s).name for s in report["ingested"]} == expected
    ask = _traced([sys.executable, "-m", "enclave", "ask", "--json", "When does the loading dock close?"], ask_log)
    assert ask.returncode == 0, ask.stderr[-3000:]
    citations = json.loads(ask.stdout)["citations"]
    assert citations and citations[0]["source"].endswith("dock.pdf")  # answered from the documents
    assert _internet(ingest_log) == []
    assert _internet(ask_log) == []
