"""Web page figures in a real headless Chromium against `enclave serve`.

Measures, on this machine with the default model:
  - seconds from pressing enter to the first visible answer text, and to the full answer with its sources
    (the first question includes loading the models; later ones are warm);
  - resident memory (RSS) of the server process idle, after the first answer, and with 5 signed-in
    sessions asking at once (peak while they run).

Usage: .venv/bin/python bench/bench_ui.py [--phase all|latency|sessions] [--sessions 5] [--home DIR]
Needs Debian's chromium and chromium-driver. Builds its own small site in a temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sys

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tests/ helpers
from tests import browser  # noqa: E402
from tests.ui_site import PASSWORD, build_site  # noqa: E402

WARM_QUESTIONS = [
    "How many days of annual leave do full-time staff get?",
    "When must security training be completed?",
    "How many unused leave days may be carried over?",
]


def server_rss(proc: psutil.Process) -> int:
    """RSS of `enclave serve` and its children (the Streamlit process holds the models)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


class PeakSampler:
    """Samples a process tree's RSS in the background and keeps the peak."""

    def __init__(self, proc: psutil.Process) -> None:
        self.proc, self.peak, self._stop = proc, 0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, server_rss(self.proc))


def main() -> None:
    """Run the measurements and print one JSON object (each figure is also printed as soon as taken)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--phase", choices=["all", "latency", "sessions"], default="all")
    parser.add_argument("--max-wait", type=float, default=600, help="seconds to wait for the concurrent answers")
    parser.add_argument("--home", type=Path, help="reuse a site built by an earlier run (skips building)")
    parser.add_argument("--out", type=Path, default=Path("test-artifacts/bench_ui.json"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server is stopped on the way out
    root = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    home = args.home or build(root)
    os.environ["ENCLAVE_HOME"] = str(home)
    port = browser.free_port()
    result: dict[str, Any] = {"home": str(home)}

    def note(key: str, value: Any) -> None:
        result[key] = value
        print(f"{key}: {json.dumps(value)}", flush=True)

    with browser.serving(home, port, root / "serve.log") as server:
        proc = psutil.Process(server.pid)
        url = f"http://127.0.0.1:{port}/"
        note("rss_idle_mb", round(server_rss(proc) / 2**20))
        driver = browser.chrome(root / "profile")
        try:
            browser.sign_in(driver, url, "alice", PASSWORD)
            note("cold_first_question", browser.ask(driver, WARM_QUESTIONS[0]))
            note("rss_after_first_answer_mb", round(server_rss(proc) / 2**20))
            if args.phase in ("all", "latency"):
                warm = [browser.ask(driver, q) for q in WARM_QUESTIONS]
                note("warm", warm)
                note("warm_first_token_s_median", statistics.median(w["first_token_s"] for w in warm))
                note("warm_full_answer_s_median", statistics.median(w["full_answer_s"] for w in warm))
            if args.phase in ("all", "sessions"):
                for key, value in concurrent(driver, url, proc, args.sessions, args.max_wait).items():
                    note(key, value)
        finally:
            driver.quit()
    result["sessions"] = args.sessions
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def build(root: Path) -> Path:
    """A fresh site (model, policy, accounts, ingested corpus) under `root`."""
    from enclave.settings import DEFAULT_MODEL_NAME
    from rag.models import assemble_bundled_model, bundled_model

    model = assemble_bundled_model(bundled_model(DEFAULT_MODEL_NAME), root / f"{DEFAULT_MODEL_NAME}.gguf")
    os.environ["ENCLAVE_HOME"] = str(root / "home")
    build_site(root / "home", model)
    print(f"site built: {root / 'home'}", flush=True)
    return root / "home"


def concurrent(driver: Any, url: str, proc: psutil.Process, sessions: int, max_wait: float) -> dict[str, Any]:
    """`sessions` signed-in tabs (one Streamlit session each) ask at once; peak server RSS meanwhile."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    handles = []
    for _ in range(sessions):
        driver.switch_to.new_window("tab")
        browser.sign_in(driver, url, "alice" if len(handles) % 2 == 0 else "root", PASSWORD)
        handles.append(driver.current_window_handle)
    rss_signed_in = server_rss(proc) / 2**20
    with PeakSampler(proc) as sampler:
        t0 = time.perf_counter()
        for handle in handles:
            driver.switch_to.window(handle)
            box = driver.find_element(By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]')
            box.send_keys("How many days of annual leave do full-time staff get?" + Keys.ENTER)
        pending = set(handles)
        while pending and time.perf_counter() - t0 < max_wait:
            for handle in list(pending):
                driver.switch_to.window(handle)
                if driver.find_elements(By.CSS_SELECTOR, '[data-testid="stChatMessage"] [data-testid="stExpander"]'):
                    pending.discard(handle)
            time.sleep(0.5)
        all_done = time.perf_counter() - t0
    return {
        "rss_with_sessions_signed_in_mb": round(rss_signed_in),
        "rss_peak_while_sessions_ask_mb": round(sampler.peak / 2**20),
        "rss_after_sessions_mb": round(server_rss(proc) / 2**20),
        "concurrent_all_answered_s": all_done,
        "concurrent_unanswered": len(pending),
    }


if __name__ == "__main__":
    main()
