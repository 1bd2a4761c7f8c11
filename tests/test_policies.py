"""Policies: deny by default, pure decisions with reasons, invalid files rejected with line and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from enclave.cli import app
from policies.engine import labels_for, may_read, principal_for, readable_labels
from policies.errors import AccessDenied, PolicyInvalid
from policies.explain import explain
from policies.load import check_policy, load_policy
from policies.model import LabelRule, Policy, Principal, UserEntry

HOSPITAL = Path(__file__).resolve().parents[1] / "policies" / "examples" / "hospital"

# -- hypothesis: fail closed ------------------------------------------------------------------

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8)
label_sets = st.frozensets(names, max_size=5)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Arbitrary small policies (groups, grants, users) with arbitrary label names."""
    groups = draw(st.frozensets(names, max_size=5))
    grants = {g: draw(label_sets) for g in groups}
    pool = st.sampled_from(sorted(groups)) | names if groups else names  # known and unknown groups
    members = st.frozensets(pool, max_size=4)
    users = {u: UserEntry(u, tuple(sorted(draw(members)))) for u in draw(st.frozensets(names, min_size=1, max_size=4))}
    return Policy(version="p", users=users, groups=groups, grants=grants)


@given(policies(), st.tuples(names).map(tuple) | st.just(()))
def test_no_principal_reads_nothing(policy: Policy, labels: tuple[str, ...]) -> None:
    assert readable_labels(policy, None) == frozenset()
    decision = may_read(policy, None, labels)
    assert not decision.allowed and decision.reason


@given(policies(), label_sets)
def test_a_principal_with_no_groups_reads_nothing(policy: Policy, labels: frozenset[str]) -> None:
    nobody = Principal(user="nobody", groups=frozenset())
    assert readable_labels(policy, nobody) == frozenset()
    assert not may_read(policy, nobody, tuple(sorted(labels))).allowed


@given(policies(), st.frozensets(names, min_size=1, max_size=4), label_sets)
def test_unknown_groups_grant_nothing(policy: Policy, groups: frozenset[str], labels: frozenset[str]) -> None:
    unknown = frozenset(f"zz-{g}" for g in groups)  # never declared under groups:
    grants = dict(policy.grants) | {g: labels for g in unknown}  # even if a grant names them
    principal = Principal(user="u", groups=unknown)
    assert readable_labels(Policy(version="p", groups=policy.groups, grants=grants), principal) == frozenset()


@given(policies(), st.frozensets(names, max_size=4))
def test_a_document_without_labels_is_readable_by_nobody(policy: Policy, groups: frozenset[str]) -> None:
    principal = Principal(user="u", groups=groups | policy.groups)
    decision = may_read(policy, principal, ())
    assert not decision.allowed and "no label" in decision.reason


@given(policies(), st.data(), st.lists(names, min_size=1, max_size=4))
def test_a_document_is_readable_only_when_every_label_is_granted(
    policy: Policy, data: st.DataObject, labels: list[str]
) -> None:
    principal = principal_for(policy, data.draw(st.sampled_from(sorted(policy.users))))
    allowed = readable_labels(policy, principal)
    expected = frozenset().union(*(policy.grants.get(g, frozenset()) for g in principal.groups if g in policy.groups))
    assert allowed == expected
    decision = may_read(policy, principal, tuple(labels))
    assert decision.allowed == set(labels).issubset(allowed)
    assert decision.reason


@given(policies(), st.data(), st.frozensets(names, max_size=4))
def test_a_principal_never_holds_more_than_the_current_policy_gives_its_user(
    policy: Policy, data: st.DataObject, claimed: frozenset[str]
) -> None:
    """A stale or forged principal (extra groups, or a user since removed) gains nothing from them."""
    user = data.draw(st.sampled_from(sorted(policy.users)))
    inflated = Principal(user=user, groups=claimed | frozenset(policy.groups))
    honest = principal_for(policy, user)
    assert readable_labels(policy, inflated) <= readable_labels(policy, honest)
    removed = Policy(version="p2", users={}, groups=policy.groups, grants=policy.grants)
    assert readable_labels(removed, honest) == frozenset()


def test_removing_a_membership_revokes_it_for_an_already_issued_principal() -> None:
    before = Policy(version="1", users={"alice": UserEntry("alice", ("hr",))}, groups=frozenset({"hr"}),
                    grants={"hr": frozenset({"hr-docs"})})
    principal = principal_for(before, "alice")
    after = Policy(version="2", users={"alice": UserEntry("alice", ())}, groups=before.groups, grants=before.grants)
    assert readable_labels(before, principal) == {"hr-docs"}
    assert readable_labels(after, principal) == frozenset()
    assert not may_read(after, principal, ("hr-docs",)).allowed


@given(label_sets)
def test_empty_filter_lists_match_no_chunk(labels: frozenset[str]) -> None:
    """The Qdrant filter built from an empty allowed set must never be built or must match nothing."""
    from ingest.index.base import HybridQuery
    from ingest.index.edge import EdgeIndex
    from ingest.schema import SparseVec

    index = EdgeIndex(Path("/nonexistent"))  # query() must refuse before touching the store
    query = HybridQuery(dense=[0.0], sparse=SparseVec([], []), allowed_labels=frozenset(), limit=5, prefetch=5)
    assert index.query(query) == []


def test_labels_come_from_path_globs() -> None:
    policy = load_policy(HOSPITAL)
    assert labels_for(policy, "share/hr/contracts/ada.docx") == ("hr-confidential", "internal")
    assert labels_for(policy, "share/research/patient-data/x.csv") == ("internal", "phi", "research")
    assert labels_for(Policy(version="p", label_rules=(LabelRule("hr/**", ("hr",)),)), "finance/x.md") == ()


def test_principals_come_only_from_users_in_the_policy() -> None:
    policy = load_policy(HOSPITAL)
    assert principal_for(policy, "dr.ada").groups == frozenset({"all-staff", "clinicians"})
    for who in ("", None, "mallory"):
        with pytest.raises(AccessDenied):
            principal_for(policy, who)


def test_the_hospital_example_is_valid_and_denies_by_default() -> None:
    policy, problems, _ = check_policy(HOSPITAL)
    assert policy is not None and not [p for p in problems if p.severity == "error"]
    assert len(policy.users) >= 10 and len(policy.groups) >= 10
    kim = principal_for(policy, "temp.kim")
    assert readable_labels(policy, kim) == frozenset()
    ada = principal_for(policy, "dr.ada")
    assert may_read(policy, ada, labels_for(policy, "share/clinical/icu/notes.docx")).allowed
    assert not may_read(policy, ada, labels_for(policy, "share/hr/grievances/x.docx")).allowed
    gus = principal_for(policy, "res.gus")  # research without phi may not read patient data
    assert not may_read(policy, gus, labels_for(policy, "share/research/patient-data/x.csv")).allowed


# -- invalid files are rejected with line and reason -------------------------------------------

BAD = {
    "unknown_key": ("version: 1\ngrant:\n  - {group: a, labels: [x]}\n", 2, "unknown key 'grant'"),
    "unknown_group": ("groups: {a: {}}\nusers:\n  bob: {groups: [a, b]}\n", 3, "unknown group 'b'"),
    "grant_unknown_group": ("groups: {a: {}}\ngrants:\n  - {group: c, labels: [x]}\n", 3, "unknown group 'c'"),
    "rule_without_labels": ("labels:\n  - match: 'hr/**'\n", 2, "non-empty 'labels'"),
    "rule_without_match": ("labels:\n  - labels: [x]\n", 2, "needs 'match'"),
    "duplicate_user": ("groups: {a: {}}\nusers:\n  bob: {groups: [a]}\n  bob: {groups: []}\n", 4, "duplicate key 'bob'"),
    "bad_logging": ("question_logging: sometimes\n", 1, "'full' or 'hash'"),
    "not_a_list": ("groups: {a: {}}\nusers:\n  bob: {groups: a}\n", 3, "must be a list"),
    "bad_yaml": ("users:\n  bob: [unclosed\n", 3, "not valid YAML"),
    "top_level_list": ("- a\n- b\n", 1, "top level"),
    "empty_file": ("", 1, "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_policy_files_are_rejected_with_line_and_reason(tmp_path: Path, case: str) -> None:
    text, line, reason = BAD[case]
    (tmp_path / "policy.yaml").write_text(text)
    with pytest.raises(PolicyInvalid) as info:
        load_policy(tmp_path)
    assert f"policy.yaml:{line}:" in str(info.value) and reason in str(info.value)


def test_a_missing_policy_file_means_no_access(tmp_path: Path) -> None:
    with pytest.raises(PolicyInvalid):
        load_policy(tmp_path / "nowhere")


def test_policy_check_cli_lists_every_problem_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_HOME", str(tmp_path / "home"))
    (tmp_path / "policy.yaml").write_text(
        "question_logging: sometimes\ngroups: {a: {}}\nusers:\n  bob: {groups: [b]}\n"
    )
    result = CliRunner().invoke(app, ["policy", "check", "--policy-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "policy.yaml:1: error: question_logging" in result.output
    assert "policy.yaml:4: error: user 'bob' is in unknown group 'b'" in result.output
    ok = CliRunner().invoke(app, ["policy", "check", "--policy-dir", str(HOSPITAL)])
    assert ok.exit_code == 0 and "is valid" in ok.output


# -- explain -----------------------------------------------------------------------------------


def test_explain_says_what_a_user_may_read_and_why() -> None:
    policy = load_policy(HOSPITAL)
    docs = [("share/clinical/a.docx", labels_for(policy, "share/clinical/a.docx")),
            ("share/hr/b.docx", labels_for(policy, "share/hr/b.docx")),
            ("elsewhere/c.md", labels_for(policy, "elsewhere/c.md"))]
    text = "\n".join(explain(policy, "dr.ada", docs).lines())
    assert "phi  (through group clinicians)" in text
    assert "ALLOW share/clinical/a.docx" in text and "DENY  share/hr/b.docx" in text
    assert "hr-confidential" in text.split("may not read labels:")[1]
    assert "may read nothing" in "\n".join(explain(policy, "temp.kim").lines())
    assert "not in the policy" in "\n".join(explain(policy, "mallory").lines())


def test_explain_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(app, ["policy", "explain", "--user", "pharm.cho", "--policy-dir", str(HOSPITAL), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["labels"]["controlled-substances"] == "through group pharmacy"
    assert "phi" in data["denied_labels"]
