"""The web page through Streamlit's AppTest: sign-in, cited answers, isolation between people, role pages.

Real parts throughout: the real index built from real documents, the real embedder and generator.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from policies.session import open_session
from tests.ui_site import PASSWORD, build_site

APP = str(Path(__file__).resolve().parents[1] / "ui" / "app.py")
TIMEOUT = 300  # the first question loads the models


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, assembled_model: Path) -> Iterator[Path]:
    """One ENCLAVE_HOME with an ingested corpus and accounts, shared by this module's tests."""
    home = tmp_path_factory.mktemp("ui") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENCLAVE_HOME", str(home))
        mp.delenv("ENCLAVE_CONFIG", raising=False)
        corpus = home.parent / "corpus" / "docs"
        mp.setenv("ENCLAVE_INGEST__SOURCES", json.dumps([{"name": "docs", "path": str(corpus), "schedule": "0 3 * * *"}]))
        build_site(home, assembled_model)
        yield home


def sign_in(user: str, password: str = PASSWORD) -> AppTest:
    """A fresh browser session that signs in through the form."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input(user)
    at.text_input[1].input(password)
    at.button[0].click().run()
    return at


def ask(at: AppTest, question: str) -> AppTest:
    """Type a question into the chat and wait for the whole answer."""
    return at.chat_input[0].set_value(question).run(timeout=TIMEOUT)


def page_as(module: str, user: str | None) -> AppTest:
    """Run one page directly (as if the navigation were bypassed) in a session signed in as `user`."""
    # Guarded like ui/app.py: a spawned parser process re-imports the main script without running it.
    script = f"from ui.views import {module}\nif __name__ == '__main__':\n    {module}.page()\n"
    at = AppTest.from_string(script, default_timeout=60)
    if user is not None:
        at.session_state["enclave_session"] = open_session(user, "local", time.time())
    return at.run()


def audit_records(home: Path) -> list[dict]:
    """Every record in the site's audit log."""
    from enclave.settings import load_settings
    from enclave.wiring import open_audit_log

    return list(open_audit_log(load_settings(home=home)).records())


def texts(at: AppTest) -> str:
    """All visible text of a run, for 'is X shown anywhere' checks."""
    parts = []
    for kind in ("title", "markdown", "caption", "info", "error", "warning", "success", "subheader"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    parts.extend(e.label for e in at.expander)
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    return "\n".join(parts)


def test_signed_out_every_page_shows_only_the_sign_in_view(site: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert not at.chat_input and not at.dataframe and not at.expander and not at.sidebar.children
    for module in ("chat", "documents", "admin", "audit"):
        direct = page_as(module, None)
        assert [w.value for w in direct.warning] == ["Please sign in."]
        assert not direct.chat_input and not direct.dataframe and not direct.title and not direct.metric


def test_wrong_password_is_refused_and_audited(site: Path) -> None:
    at = sign_in("alice", "not the password at all")
    assert "Unknown user name or wrong password." in [e.value for e in at.error]
    assert not at.chat_input
    at = sign_in("mallory")
    assert not at.chat_input
    failed = [r for r in audit_records(site) if r["kind"] == "signin_failed"]
    assert {r["actor"] for r in failed} >= {"alice", "mallory"}


def test_repeated_failures_lock_the_name(site: Path) -> None:
    for _ in range(5):
        assert not sign_in("carol", "wrong guess number x").chat_input
    at = sign_in("carol")  # the right password, but too late
    assert not at.chat_input
    assert any("too many failed sign-ins" in w.value for w in at.warning)


def test_question_gets_a_streamed_answer_with_citations_that_open_the_passage(site: Path) -> None:
    at = sign_in("alice")
    assert any(r["kind"] == "signin" and r["actor"] == "alice" for r in audit_records(site))
    at = ask(at, "How many days of annual leave do full-time staff get?")
    assert not at.exception
    assistant = [m for m in at.chat_message if m.name == "assistant"][-1]
    answer = assistant.markdown[0].value
    assert "27" in answer and "\\[1\\]" in answer
    sources = [e for e in assistant.expander if e.label.startswith("[1] ")]
    assert sources and "leave-policy.docx" in sources[0].label
    passage = "\n".join(m.value for m in sources[0].markdown)
    assert "27 days of annual leave" in passage
    assert "docs/hr/leave\\-policy\\.docx" in "\n".join(c.value for c in sources[0].caption)
    kinds = [r["kind"] for r in audit_records(site) if r["actor"] == "alice"]
    assert {"question", "retrieval", "answer"} <= set(kinds)

    # A follow-up in the same session: both turns stay on screen, newest last.
    at = ask(at, "How many unused leave days may be carried over to the next year?")
    answers = [m for m in at.chat_message if m.name == "assistant"]
    assert len(answers) == 2
    assert "5" in answers[-1].markdown[0].value


def test_not_in_your_documents_is_clear_and_leaks_nothing(site: Path) -> None:
    at = ask(sign_in("alice"), "What is the travel budget for 2027?")
    assistant = [m for m in at.chat_message if m.name == "assistant"][-1]
    assert any("Not in your documents" in i.value for i in assistant.info)
    assert "48,000" not in texts(at) and "travel-budget" not in texts(at)
    assert not assistant.expander


def test_history_and_documents_belong_to_their_user(site: Path) -> None:
    alice = ask(sign_in("alice"), "How many days of annual leave do full-time staff get?")
    assert [m for m in alice.chat_message if m.name == "assistant"]
    bob = sign_in("bob")
    assert not bob.chat_message
    assert "annual leave" not in texts(bob)

    # Bob's documents: the finance file only.
    docs = page_as("documents", "bob")
    listed = docs.dataframe[0].value
    assert list(listed["File"]) == ["docs/finance/travel-budget.md"]
    assert list(listed["Label"]) == ["finance"]
    alice_docs = page_as("documents", "alice").dataframe[0].value
    assert "docs/finance/travel-budget.md" not in set(alice_docs["File"])
    assert len(alice_docs) == 3

    # Signing out forgets the history; the next person on the same browser starts empty.
    alice.sidebar.button[0].click().run()
    assert not alice.chat_input and not alice.chat_message
    alice.text_input[0].input("bob")
    alice.text_input[1].input(PASSWORD)
    alice.button[0].click().run()
    assert alice.chat_input and not alice.chat_message
    assert alice.session_state["chat_history"] == []
    assert any(r["kind"] == "signout" and r["actor"] == "alice" for r in audit_records(site))


def test_admin_and_auditor_pages_are_refused_to_other_roles(site: Path) -> None:
    for module, role, outsiders in (("admin", "admin", ("alice", "audrey")), ("audit", "auditor", ("alice", "root"))):
        for user in outsiders:
            at = page_as(module, user)
            assert any(f"needs the '{role}' role" in e.value for e in at.error), (module, user)
            assert not at.dataframe and not at.metric and not at.button
    # The navigation offers only what the roles allow.
    assert not _nav_pages(sign_in("alice")) & {"admin", "audit"}
    assert {"admin"} <= _nav_pages(sign_in("root"))
    denials = [r for r in audit_records(site) if r["kind"] == "denial"]
    assert {r["actor"] for r in denials} >= {"alice", "audrey", "root"}


def test_admin_sees_ingest_status_per_file(site: Path) -> None:
    at = page_as("admin", "root")
    assert not at.exception
    assert [t.value for t in at.title] == ["Administration"]
    files = at.dataframe[-1].value
    assert set(files["File"]) == {
        "docs/hr/leave-policy.docx", "docs/hr/onboarding.pdf", "docs/hr/parking.md", "docs/finance/travel-budget.md"
    }
    assert set(files["Status"]) == {"ingested"}


def test_auditor_browses_filters_and_verifies_the_log(site: Path) -> None:
    sign_in("alice")
    at = page_as("audit", "audrey")
    log = at.dataframe[0].value
    assert "signin" in set(log["Kind"])
    at.multiselect[0].select("signin_failed").run()
    assert set(at.dataframe[0].value["Kind"]) <= {"signin_failed"}
    at.button[0].click().run()
    assert any("audit log verifies" in s.value for s in at.success)
    assert any(r["kind"] == "audit_verify" and r["actor"] == "audrey" for r in audit_records(site))


def test_idle_session_is_signed_out(site: Path) -> None:
    at = sign_in("alice")
    assert at.chat_input
    session = at.session_state["enclave_session"]
    at.session_state["enclave_session"] = type(session)(
        user=session.user, method=session.method, started_at=session.started_at - 1000, last_seen=time.time() - 16 * 60
    )
    at.run()
    assert not at.chat_input
    assert any("idle" in i.value for i in at.info)
    ended = [r for r in audit_records(site) if r["kind"] == "signout" and r["actor"] == "alice"]
    assert any("idle" in r["details"].get("reason", "") for r in ended)


def test_oidc_identity_signs_in_the_matching_policy_user(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_UI__AUTH", "oidc")
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": "alice@example.org", "preferred_username": "alice"}
    at.run()
    assert at.chat_input and "Signed in as **alice**" in [m.value for m in at.sidebar.markdown]
    stranger = AppTest.from_file(APP, default_timeout=60)
    stranger.user = {"is_logged_in": True, "email": "mallory@example.org"}
    stranger.run()
    assert not stranger.exception and not stranger.chat_input and not stranger.text_input
    assert any("not allowed to use Enclave" in i.value for i in stranger.info)
    signed_out = AppTest.from_file(APP, default_timeout=60)
    signed_out.user = {"is_logged_in": False}
    signed_out.secrets["auth"] = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32}
    signed_out.run()
    assert not signed_out.exception
    assert [b.label for b in signed_out.button] == ["Sign in with your organisation"]
    assert not signed_out.text_input and not signed_out.chat_input


def test_admin_starts_an_ingest_of_the_configured_sources(site: Path) -> None:
    from tests.corpus import write_markdown
    from ui import jobs

    write_markdown(site.parent / "corpus" / "docs" / "hr" / "canteen.md", "Canteen", ["The canteen opens at 7:30."])
    at = page_as("admin", "root")
    schedule = at.dataframe[0].value
    assert list(schedule["Source"]) == ["docs"] and list(schedule["Schedule"]) == ["0 3 * * *"]
    [start] = [b for b in at.button if b.label == "Start ingest now"]
    start.click().run()
    deadline = time.monotonic() + 300
    while jobs.ingest_job().running and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not jobs.ingest_job().running
    assert "1 added" in jobs.ingest_job().message, jobs.ingest_job().message
    at = page_as("admin", "root")
    runs = at.dataframe[1].value
    assert (runs.iloc[0]["Trigger"], runs.iloc[0]["By"], runs.iloc[0]["Added"]) == ("ui", "root", 1)
    files = at.dataframe[-1].value
    assert "docs/hr/canteen.md" in set(files["File"])
    actions = [r for r in audit_records(site) if r["kind"] == "admin_action" and r["actor"] == "root"]
    assert actions and actions[-1]["details"]["action"] == "ingest_start"


def _nav_pages(at: AppTest) -> set[str]:
    """url paths of the pages the navigation registered for this session."""
    return {str(info.get("url_pathname")) for info in at._registered_pages.values()}
