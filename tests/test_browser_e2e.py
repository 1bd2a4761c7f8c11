"""End to end in a real headless Chromium against `enclave serve`: sign in, ask, see the cited answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import browser
from tests.ui_site import PASSWORD, build_site

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not browser.browser_available(), reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, assembled_model: Path) -> Iterator[tuple[str, Path]]:
    """`enclave serve` on a free loopback port over a freshly ingested site."""
    root = tmp_path_factory.mktemp("e2e")
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENCLAVE_HOME", str(home))
        build_site(home, assembled_model)
    port = browser.free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    with browser.serving(home, port, ARTIFACTS / "enclave-serve.log"):
        yield f"http://127.0.0.1:{port}/", root


def test_sign_in_ask_and_open_the_cited_passage(served: tuple[str, Path]) -> None:
    from selenium.webdriver.common.by import By

    url, root = served
    driver = browser.chrome(root / "profile")
    try:
        driver.get(url)
        browser.wait_for(driver, 'input[aria-label="User name"]')
        assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]')
        assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"]')

        browser.sign_in(driver, url, "alice", PASSWORD)
        timing = browser.ask(driver, "How many days of annual leave do full-time staff get?")
        answer = browser.last_answer(driver)
        assert "27" in answer and "[1]" in answer, answer
        # The prompt's worked example is about a cafeteria; a small model used to copy its subject into the
        # answer ("The cafeteria receives 27 days of annual leave").
        assert "cafeteria" not in answer.lower(), answer
        labels = browser.source_labels(driver)
        assert labels and "leave-policy.docx" in labels[0], labels
        browser.open_source(driver, 0)
        passage = browser.wait_text(driver, '[data-testid="stExpanderDetails"]', "27 days of annual leave")
        assert "docs/hr/leave-policy.docx" in passage.text
        driver.save_screenshot(str(ARTIFACTS / "ui-cited-answer.png"))
        assert timing["full_answer_s"] >= timing["first_token_s"] > 0

        # A document that carries an image, raw HTML and a javascript: link is shown as inert text.
        browser.ask(driver, "Where is visitor parking?")
        labels = browser.source_labels(driver)
        parking = [i for i, label in enumerate(labels) if "parking.md" in label]
        assert parking, labels
        browser.open_source(driver, parking[-1])
        browser.wait_text(driver, "body", "Visitor parking is in garage B")
        driver.save_screenshot(str(ARTIFACTS / "ui-hostile-passage.png"))
        assert not driver.find_elements(By.CSS_SELECTOR, 'img[src*="203.0.113.9"]')
        assert not driver.find_elements(By.CSS_SELECTOR, 'a[href^="javascript:"], a[href*="203.0.113.9"]')
        requested = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert not [r for r in requested if "203.0.113.9" in r]
    except Exception:
        driver.save_screenshot(str(ARTIFACTS / "ui-failure.png"))
        raise
    finally:
        driver.quit()
