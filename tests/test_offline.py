"""Nothing phones home from native code either: checks the Python-level network block cannot see."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from ingest.worker import ParseWorker, WorkerLimits
from tests.corpus import write_pdf


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
