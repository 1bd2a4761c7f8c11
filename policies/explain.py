"""Why a user may or may not read things: plain data for `enclave policy explain`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from policies.engine import matching_rules, may_read, readable_labels
from policies.model import Decision, Policy, Principal


@dataclass(frozen=True)
class Explanation:
    """What one user may read, and the reason for each allow and deny."""

    user: str
    known: bool
    groups: list[tuple[str, str]] = field(default_factory=list)  # (group, "grants a, b" | why not)
    labels: list[tuple[str, str]] = field(default_factory=list)  # (label, "through group g")
    denied_labels: list[str] = field(default_factory=list)
    documents: list[tuple[str, Decision]] = field(default_factory=list)  # (source, decision)
    # source -> the rules that label it under the current policy, e.g. 'path "*/hr/**" -> hr-confidential'
    label_rules: dict[str, list[str]] = field(default_factory=dict)
    # source -> the labels the current rules give, where they differ from the stored ones (apply pending)
    pending: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)  # sources whose metadata was never recorded (older ingest)

    def lines(self) -> list[str]:
        """Human-readable report."""
        if not self.known:
            return [f"user '{self.user}' is not in the policy: may read nothing (deny by default)"]
        out = [f"user {self.user}"]
        if not self.groups:
            out.append("  groups: none — may read nothing (deny by default)")
        for group, why in self.groups:
            out.append(f"  group {group}: {why}")
        out.append("  may read labels:" + ("" if self.labels else " none"))
        out.extend(f"    {label}  ({why})" for label, why in self.labels)
        if self.denied_labels:
            out.append("  may not read labels: " + ", ".join(self.denied_labels))
        if self.documents:
            readable = sum(1 for _, d in self.documents if d.allowed)
            out.append(f"  ingested documents: may read {readable} of {len(self.documents)}")
            for src, d in self.documents:
                out.append(f"    {'ALLOW' if d.allowed else 'DENY '} {src}: {d.reason}")
                out.append("      labelled by: " + ("; ".join(self.label_rules.get(src, [])) or "no rule"))
                if src in self.unread:
                    out.append("      metadata: never recorded (ingested by an older Enclave); metadata rules skip it")
                if src in self.pending:
                    now = ", ".join(self.pending[src]) or "none"
                    out.append(f"      the current rules give: {now} (run enclave policy apply)")
        return out


def explain(
    policy: Policy,
    user: str,
    documents: Iterable[tuple[str, tuple[str, ...]]] = (),
    metadata: Mapping[str, Mapping[str, str] | None] | None = None,
) -> Explanation:
    """Explain `user`'s access under `policy`; `documents` are (source, stored labels) pairs to decide on.

    `metadata` (source -> the document's properties) lets each document name the rules, path and
    metadata, that label it.
    """
    entry = policy.users.get(user)
    if entry is None:
        return Explanation(user=user, known=False)
    principal = Principal(user=entry.name, groups=frozenset(entry.groups), roles=frozenset(entry.roles))
    groups = []
    for group in sorted(principal.groups):
        if group not in policy.groups:
            groups.append((group, "unknown group: grants nothing"))
        else:
            granted = sorted(policy.grants.get(group, frozenset()))
            groups.append((group, "grants " + ", ".join(granted) if granted else "no grants"))
    allowed = readable_labels(policy, principal)
    labels = []
    for label in sorted(allowed):
        via = sorted(g for g in principal.groups if g in policy.groups and label in policy.grants.get(g, frozenset()))
        labels.append((label, "through group " + ", ".join(via)))
    every = {label for rule in policy.label_rules for label in rule.labels} | {
        label for granted in policy.grants.values() for label in granted
    }
    documents = list(documents)
    decided = [(source, may_read(policy, principal, tuple(labels_))) for source, labels_ in documents]
    label_rules: dict[str, list[str]] = {}
    pending: dict[str, tuple[str, ...]] = {}
    for source, stored in documents:
        rules = matching_rules(policy, source, (metadata or {}).get(source))
        label_rules[source] = [f"{rule.describe()} -> {', '.join(rule.labels)}" for rule in rules]
        current = tuple(sorted({label for rule in rules for label in rule.labels}))
        if current != tuple(sorted(stored)):
            pending[source] = current
    return Explanation(
        user=user,
        known=True,
        groups=groups,
        labels=labels,
        denied_labels=sorted(every - allowed),
        documents=sorted(decided, key=lambda x: x[0]),
        label_rules=label_rules,
        pending=pending,
        unread=sorted(s for s, _ in documents if metadata is not None and s in metadata and metadata[s] is None),
    )
