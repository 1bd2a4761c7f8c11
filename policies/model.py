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
    """Documents that meet every condition given get `labels`: a path glob, metadata values, or both.

    `metadata` pairs a lower-case property name with the values it may hold (any one of them).
    """

    match: str | None
    labels: tuple[str, ...]
    metadata: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def describe(self) -> str:
        """The rule's conditions as a policy author wrote them, e.g. `path "*/hr/**" + sensitivity="Secret"`."""
        parts = [f'path "{self.match}"'] if self.match is not None else []
        for key, values in self.metadata:
            parts.append(f"{key}=" + "|".join(f'"{v}"' for v in values))
        return " + ".join(parts)


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
