"""A small site for the web page tests: two departments, four people, real documents, a real index."""

from __future__ import annotations

import os
from pathlib import Path

from tests.corpus import write_docx, write_markdown, write_pdf

PASSWORD = "correct horse battery staple"
USERS = ("alice", "bob", "carol", "root", "audrey")

POLICY = """\
version: 1
question_logging: full
users:
  alice: {groups: [hr], roles: [user]}
  bob: {groups: [finance], roles: [user]}
  carol: {groups: [hr], roles: [user]}
  root: {groups: [hr], roles: [user, admin]}
  audrey: {groups: [], roles: [auditor]}
groups:
  hr: {description: Human resources}
  finance: {description: Finance}
labels:
  - match: "docs/hr/**"
    labels: [hr]
  - match: "docs/finance/**"
    labels: [finance]
grants:
  - group: hr
    labels: [hr]
  - group: finance
    labels: [finance]
"""

# A passage that tries to make the browser fetch something and run script, if it were rendered raw.
HOSTILE = (
    "Visitor parking is in garage B on level 2. "
    "![tracker](http://203.0.113.9/pixel.png) <img src=http://203.0.113.9/x.png onerror=alert(1)> "
    "[click here](javascript:alert(1)) see http://203.0.113.9/more"
)


def write_corpus(root: Path) -> Path:
    """Documents under root/docs: HR (docx, pdf, md) and finance (md)."""
    docs = root / "docs"
    write_docx(
        docs / "hr" / "leave-policy.docx",
        "Annual leave policy",
        [
            "Full-time staff receive 27 days of annual leave per calendar year, plus public holidays.",
            "Unused leave of up to 5 days may be carried over to the next year with the manager's approval.",
            "Requests for leave longer than two weeks must be made eight weeks in advance.",
        ],
    )
    write_pdf(
        docs / "hr" / "onboarding.pdf",
        [
            "Onboarding checklist. New starters receive a laptop and a badge on their first day.",
            "Security training must be completed within 10 working days of the start date.",
        ],
    )
    write_markdown(docs / "hr" / "parking.md", "Parking", [HOSTILE])
    write_markdown(
        docs / "finance" / "travel-budget.md",
        "Travel budget 2027",
        ["The travel budget for 2027 is 48,000 euros, approved by the finance committee in October."],
    )
    return docs


def build_site(home: Path, model: Path) -> Path:
    """ENCLAVE_HOME with the model, the policy, passwords for every user and an ingested corpus."""
    from enclave.settings import load_settings
    from enclave.wiring import default_model_path, ingest_folder_now, setup_home
    from policies.accounts import set_password

    settings = load_settings(home=home)
    target = default_model_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.link(model, target)
    setup_home(settings)
    (settings.policy_dir / "policy.yaml").write_text(POLICY)
    for user in USERS:
        set_password(settings.policy_dir, user, PASSWORD)
    docs = write_corpus(home.parent / "corpus")
    report = ingest_folder_now(settings, docs)
    assert not report.failed, report.failed
    return docs
