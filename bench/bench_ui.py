"""Web page figures in a real headless Chromium against `enclave serve`.

Measures, on this machine with the default model:
  - seconds from pressing enter to the first visible answer text, and to the full answer with its sources
    (the first question includes loading the models; later ones are warm);
  - resident memory (RSS) of the server process idle, after the first answer, and with 5 signed-in
    sessions asking at once (peak while they run).

Usage: .venv/bin/python bench/bench_ui.py [--sessions 5] [--out test-artifacts/bench_ui.json]
Needs Debian's chromium and chromium-driver. Builds its own small site in a temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from tests import browser
from tests.ui_site import PASSWORD, build_site

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
    """Run the measurements and print one JSON object."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("test-artifacts/bench_ui.json"))
    args = parser.parse_args()
    from enclave.settings import DEFAULT_MODEL_NAME, DEFAULT_MODEL_SHA256
    from rag.models import assemble_default_model

    root = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    model = assemble_default_model(root / f"{DEFAULT_MODEL_NAME}.gguf", DEFAULT_MODEL_SHA256)
    os.environ["ENCLAVE_HOME"] = str(root / "home")
    build_site(root / "home", model)
    port = browser.free_port()
    result: dict[str, Any] = {}
    with browser.serving(root / "home", port, root / "serve.log") as server:
        proc = psutil.Process(server.pid)
        url = f"http://127.0.0.1:{port}/"
        result["rss_idle_mb"] = server_rss(proc) / 2**20
        driver = browser.chrome(root / "profile")
        try:
            browser.sign_in(driver, url, "alice", PASSWORD)
            cold = browser.ask(driver, WARM_QUESTIONS[0])
            result["cold_first_question"] = cold
            result["rss_after_first_answer_mb"] = server_rss(proc) / 2**20
            warm = [browser.ask(driver, q) for q in WARM_QUESTIONS]
            result["warm"] = warm
            result["warm_first_token_s_median"] = statistics.median(w["first_token_s"] for w in warm)
            result["warm_full_answer_s_median"] = statistics.median(w["full_answer_s"] for w in warm)
            result.update(concurrent(driver, url, proc, args.sessions))
        finally:
            driver.quit()
    result["sessions"] = args.sessions
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def concurrent(driver: Any, url: str, proc: psutil.Process, sessions: int) -> dict[str, Any]:
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
        while pending and time.perf_counter() - t0 < 600:
            for handle in list(pending):
                driver.switch_to.window(handle)
                if driver.find_elements(By.CSS_SELECTOR, '[data-testid="stChatMessage"] [data-testid="stExpander"]'):
                    pending.discard(handle)
            time.sleep(0.5)
        all_done = time.perf_counter() - t0
    return {
        "rss_with_sessions_signed_in_mb": rss_signed_in,
        "rss_peak_while_sessions_ask_mb": sampler.peak / 2**20,
        "rss_after_sessions_mb": server_rss(proc) / 2**20,
        "concurrent_all_answered_s": all_done,
        "concurrent_unanswered": len(pending),
    }


if __name__ == "__main__":
    main()
