"""Why a user may or may not read things: plain data for `enclave policy explain`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from policies.engine import may_read, readable_labels
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
            out.extend(f"    {'ALLOW' if d.allowed else 'DENY '} {src}: {d.reason}" for src, d in self.documents)
        return out


def explain(policy: Policy, user: str, documents: Iterable[tuple[str, tuple[str, ...]]] = ()) -> Explanation:
    """Explain `user`'s access under `policy`; `documents` are (source, labels) pairs to decide on."""
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
    decided = [(source, may_read(policy, principal, tuple(labels_))) for source, labels_ in documents]
    return Explanation(
        user=user,
        known=True,
        groups=groups,
        labels=labels,
        denied_labels=sorted(every - allowed),
        documents=sorted(decided, key=lambda x: x[0]),
    )
