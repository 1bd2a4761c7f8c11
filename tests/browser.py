"""Drive `enclave serve` in Debian's headless Chromium (selenium): shared by the e2e test and bench/bench_ui.py."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
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
# The answer to question number `n` (0-based) is chat message 2n+1. A message at that position did not
# exist before the question was asked, so Streamlit's stale leftovers from the previous run cannot be
# mistaken for it. Its text excludes progress captions, spinners, alerts and source lists; it is
# finished once the sources (or the not-in-your-documents note) are shown.
ANSWER_STATE_JS = """
const n = arguments[0];
const msgs = document.querySelectorAll('[data-testid="stChatMessage"]');
const msg = msgs.length > 2 * n + 1 ? msgs[2 * n + 1] : null;
if (!msg || !msg.querySelector('[data-testid="stChatMessageAvatarAssistant"]')) return {text: '', finished: false};
let text = '';
let finished = !!msg.querySelector('[data-testid="stExpander"]');
for (const md of msg.querySelectorAll('[data-testid="stMarkdownContainer"]')) {
  if (md.closest('[data-stale="true"]')) continue;
  if (md.closest('[data-testid="stAlert"]')) { finished = true; continue; }
  if (md.closest('[data-testid="stCaptionContainer"], [data-testid="stExpander"], [data-testid="stSpinner"]')) continue;
  text += md.innerText;
}
return {text: text.replace('\\u258c', '').trim(), finished: finished};
"""
QUESTIONS_JS = """
return [...document.querySelectorAll('[data-testid="stChatMessage"]')]
  .filter(m => m.querySelector('[data-testid="stChatMessageAvatarUser"]')).length;
"""


def last_answer(driver: Any) -> str:
    """The visible text of the latest answer."""
    n = driver.execute_script(QUESTIONS_JS) - 1
    return str(driver.execute_script(ANSWER_STATE_JS, n)["text"])


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
        proc = subprocess.Popen(
            [enclave, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_healthy(port, proc)
            yield proc
        finally:
            proc.terminate()  # serve stops its children itself; the group kill is the safety net
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
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


SOURCES_CSS = '[data-testid="stChatMessage"] [data-testid="stExpander"] summary'


def source_labels(driver: Any) -> list[str]:
    """The labels of every cited source shown, read in one step (Streamlit may re-render between steps)."""
    return list(driver.execute_script("return [...document.querySelectorAll(arguments[0])].map(e => e.innerText)", SOURCES_CSS))


def open_source(driver: Any, index: int) -> None:
    """Open the `index`-th cited source: found afresh, scrolled clear of the pinned chat input, clicked."""
    driver.execute_script(
        "const s = document.querySelectorAll(arguments[0])[arguments[1]];"
        "s.scrollIntoView({block: 'center'}); s.click();",
        SOURCES_CSS, index,
    )


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

    n = driver.execute_script(QUESTIONS_JS)  # this question's number
    box = driver.find_element(By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]')
    box.send_keys(question)
    t0 = time.perf_counter()
    box.send_keys(Keys.ENTER)
    first = None
    while time.perf_counter() - t0 < timeout:
        state = driver.execute_script(ANSWER_STATE_JS, n)
        if first is None and state["text"]:
            first = time.perf_counter() - t0
        if state["finished"]:
            full = time.perf_counter() - t0
            return {"first_token_s": first if first is not None else full, "full_answer_s": full}
        time.sleep(0.05)
    raise TimeoutError(f"no answer within {timeout} s")
