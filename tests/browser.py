"""Drive `enclave serve` in Debian's headless Chromium (selenium): shared by the e2e test and bench/bench_ui.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,1000",
)
# The page's chat as it stands: answers so far, the last answer's text (without progress captions and
# source lists) and whether it is finished (sources shown, or the not-in-your-documents note). Elements
# Streamlit marks stale during a rerun are ignored, so an old answer is never taken for the new one.
CHAT_STATE_JS = """
const live = [...document.querySelectorAll('[data-testid="stChatMessage"]')]
  .filter(m => !m.closest('[data-stale="true"]') && !m.querySelector('[data-stale="true"]'));
const answers = live.filter(m => m.querySelector('[data-testid="stChatMessageAvatarAssistant"]'));
const last = live.length ? live[live.length - 1] : null;
let text = '';
let finished = false;
if (last && answers.length && last === answers[answers.length - 1]) {
  for (const md of last.querySelectorAll('[data-testid="stMarkdownContainer"]')) {
    if (md.closest('[data-testid="stCaptionContainer"]') || md.closest('[data-testid="stExpander"]')) continue;
    if (md.closest('[data-testid="stAlert"]')) { finished = true; continue; }
    text += md.innerText;
  }
  finished = finished || !!last.querySelector('[data-testid="stExpander"]');
}
const running = document.querySelectorAll('[data-stale="true"]').length > 0;
return {answers: answers.length, text: text.replace('\u258c', '').trim(), finished: finished && !running};
"""
LAST_ANSWER_JS = "return (function(){" + CHAT_STATE_JS + "})().text;"


def browser_available() -> bool:
    """Whether Debian's chromium and chromium-driver are installed."""
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(home: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`enclave serve` on loopback for `home`, until the block ends."""
    env = dict(os.environ, ENCLAVE_HOME=str(home))
    env.pop("ENCLAVE_CONFIG", None)
    enclave = shutil.which("enclave", path=str(Path(sys.executable).parent)) or "enclave"
    with open(log, "wb") as out:
        proc = subprocess.Popen([enclave, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_healthy(port, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Block until Streamlit answers its health check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"enclave serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError("enclave serve did not become healthy")


def chrome(profile: Path) -> Any:
    """A headless Chromium under selenium, with an empty profile and no background traffic."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def wait_for(driver: Any, css: str, timeout: float = 60) -> Any:
    """The first element matching `css`, once it is visible."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def wait_text(driver: Any, css: str, text: str, timeout: float = 30) -> Any:
    """The first element matching `css` once its visible text contains `text`."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return driver.find_element(By.CSS_SELECTOR, css)


def sign_in(driver: Any, url: str, user: str, password: str) -> None:
    """Open the page and sign in through the form; returns when the chat box is shown."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait_for(driver, 'input[aria-label="User name"]').send_keys(user)
    driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys(password)
    driver.find_element(By.XPATH, "//button[.//p[text()='Sign in']]").click()
    wait_for(driver, '[data-testid="stChatInputTextArea"]', timeout=60)


def ask(driver: Any, question: str, timeout: float = 300) -> dict[str, float]:
    """Type a question and press enter; seconds to the first visible answer text and to the finished answer."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    expected = driver.execute_script(CHAT_STATE_JS)["answers"] + 1
    box = driver.find_element(By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]')
    box.send_keys(question)
    t0 = time.perf_counter()
    box.send_keys(Keys.ENTER)
    first = None
    while time.perf_counter() - t0 < timeout:
        state = driver.execute_script(CHAT_STATE_JS)
        if state["answers"] == expected:
            if first is None and state["text"]:
                first = time.perf_counter() - t0
            if state["finished"]:
                full = time.perf_counter() - t0
                return {"first_token_s": first if first is not None else full, "full_answer_s": full}
        time.sleep(0.05)
    raise TimeoutError(f"no answer within {timeout} s")
