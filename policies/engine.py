"""Pure decisions over a Policy: labels for a document, what a principal may read."""

from __future__ import annotations

import re
from collections.abc import Mapping

from policies.errors import AccessDenied
from policies.model import Decision, LabelRule, Policy, Principal

# Properties that hold a list ("a; b" or "a, b"): a rule value matches any one item.
LIST_PROPERTIES = frozenset({"keywords", "sensitivity", "sensitivity_id"})
_LIST_SEPARATORS = re.compile(r"[;,]")


def labels_for(policy: Policy, source: str, metadata: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Labels of a document from every rule it meets: path glob, metadata values, or both.

    `metadata` is the document's own properties (ingest.docmeta); None or empty means it has none,
    so only path rules apply. No matching rule means no label: readable by nobody.
    """
    labels: set[str] = set()
    for rule in matching_rules(policy, source, metadata):
        labels.update(rule.labels)
    return tuple(sorted(labels))


def matching_rules(policy: Policy, source: str, metadata: Mapping[str, str] | None = None) -> list[LabelRule]:
    """The label rules a document meets, in policy order (what `enclave policy explain` shows)."""
    return [rule for rule in policy.label_rules if rule_matches(rule, source, metadata or {})]


def rule_matches(rule: LabelRule, source: str, metadata: Mapping[str, str]) -> bool:
    """Every condition holds: the glob (if any) matches the path, and each listed property has a listed value.

    Values compare case-insensitively after trimming and collapsing whitespace; a property in
    LIST_PROPERTIES matches when any of its `;`/`,`-separated items does. A missing property fails.
    """
    if rule.match is None and not rule.metadata:
        return False  # the validator rejects such a rule; never let it label everything
    if rule.match is not None and not _glob_match(rule.match, source):
        return False
    for key, wanted in rule.metadata:
        value = metadata.get(key)
        if value is None:
            return False
        held = {_norm(value)}
        if key in LIST_PROPERTIES:
            held |= {_norm(item) for item in _LIST_SEPARATORS.split(value)}
        if not held & {_norm(w) for w in wanted}:
            return False
    return True


def _norm(value: str) -> str:
    return " ".join(str(value).split()).casefold()


def principal_for(policy: Policy, user: str | None) -> Principal:
    """The principal for an authenticated user name; unknown or missing users raise."""
    if not user:
        raise AccessDenied("no identity: sign in or pass --user", hint="every request needs a known user")
    entry = policy.users.get(user)
    if entry is None:
        raise AccessDenied(f"user '{user}' is not in the policy", hint="add the user under users: in the policy")
    return Principal(user=entry.name, groups=frozenset(entry.groups), roles=frozenset(entry.roles))


def effective_groups(policy: Policy, principal: Principal | None) -> frozenset[str]:
    """The principal's groups that the current policy still gives its user and still defines.

    A principal is issued at sign-in; decisions use today's policy, so a revoked membership or a
    removed user takes effect on the next question, and a principal never holds more than that.
    """
    if principal is None:
        return frozenset()
    entry = policy.users.get(principal.user)
    if entry is None:
        return frozenset()
    return frozenset(g for g in principal.groups if g in entry.groups and g in policy.groups)


def readable_labels(policy: Policy, principal: Principal | None) -> frozenset[str]:
    """Every label the principal may read through a group it still holds; empty when none."""
    labels: set[str] = set()
    for group in effective_groups(policy, principal):
        labels.update(policy.grants.get(group, frozenset()))
    return frozenset(labels)


def may_read(policy: Policy, principal: Principal | None, labels: tuple[str, ...]) -> Decision:
    """A document is readable when it has labels and the principal may read every one."""
    if principal is None:
        return Decision(False, "no principal")
    if not labels:
        return Decision(False, "document has no label")
    allowed = readable_labels(policy, principal)
    missing = sorted(set(labels) - allowed)
    if missing:
        return Decision(False, f"{principal.user} has no grant for label(s) {', '.join(missing)}")
    groups = sorted(g for g in effective_groups(policy, principal) if policy.grants.get(g, frozenset()) & set(labels))
    return Decision(True, f"{principal.user} may read {', '.join(labels)} through group(s) {', '.join(groups)}")


def _glob_match(pattern: str, path: str) -> bool:
    """Glob where `**` spans directories and `*` stays within one path segment."""
    if pattern in ("**", "**/*"):
        return True
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, path) is not None
