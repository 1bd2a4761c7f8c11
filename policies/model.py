"""Principals, policies and decisions as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """A known person asking. Built only from an authenticated identity and the policy."""

    user: str
    groups: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LabelRule:
    """Documents whose source path matches `match` (a glob) get `labels`."""

    match: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class UserEntry:
    """A user in the local directory."""

    name: str
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """A site's access policy. An empty policy grants nothing."""

    version: str
    users: dict[str, UserEntry] = field(default_factory=dict)
    groups: frozenset[str] = frozenset()
    label_rules: tuple[LabelRule, ...] = ()
    grants: dict[str, frozenset[str]] = field(default_factory=dict)  # group -> labels
    question_logging: str = "full"


@dataclass(frozen=True)
class Decision:
    """An allow or deny, always with the reason."""

    allowed: bool
    reason: str
