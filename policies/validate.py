"""Validate a policy file's YAML node tree, so every problem names its line and reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

TOP_KEYS = frozenset({"version", "description", "question_logging", "users", "groups", "labels", "grants"})
USER_KEYS = frozenset({"groups", "roles", "description", "name"})
RULE_KEYS = frozenset({"match", "metadata", "labels", "description"})
# Scalar tags a metadata value may carry; other scalars (true, 1.5, dates) would not compare as written.
_TEXT_TAGS = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:int"})
GRANT_KEYS = frozenset({"group", "labels", "description"})
QUESTION_LOGGING = frozenset({"full", "hash"})
ROLES = frozenset({"user", "admin", "auditor"})


@dataclass(frozen=True)
class Problem:
    """One finding in a policy file: where, what, and whether it blocks loading."""

    line: int
    message: str
    severity: str = "error"  # error | warning

    def render(self, origin: str) -> str:
        """`file:line: severity: message`."""
        return f"{origin}:{self.line}: {self.severity}: {self.message}"


def validate_tree(root: yaml.Node | None) -> list[Problem]:
    """Every structural and referential problem in a composed policy document, in file order."""
    if root is None:
        return [Problem(1, "the policy file is empty: nobody may read anything")]
    if not isinstance(root, yaml.MappingNode):
        return [Problem(_line(root), "the top level must be a mapping of version, users, groups, labels, grants")]
    problems: list[Problem] = []
    top = _mapping(root, problems, "top level")
    for key, (knode, _) in top.items():
        if key not in TOP_KEYS:
            problems.append(Problem(_line(knode), f"unknown key '{key}' (expected one of {', '.join(sorted(TOP_KEYS))})"))
    if "question_logging" in top:
        node = top["question_logging"][1]
        if not isinstance(node, yaml.ScalarNode) or node.value not in QUESTION_LOGGING:
            problems.append(Problem(_line(node), "question_logging must be 'full' or 'hash'"))
    groups = _groups(top.get("groups"), problems)
    granted: set[str] = set()
    assigned: set[str] = set()
    _users(top.get("users"), groups, problems)
    _rules(top.get("labels"), assigned, problems)
    _grants(top.get("grants"), groups, granted, problems)
    if "labels" in top and "grants" in top:
        for label in sorted(granted - assigned):
            line = _line(top["grants"][1])
            problems.append(Problem(line, f"label '{label}' is granted but no label rule assigns it", "warning"))
    return sorted(problems, key=lambda p: (p.line, p.severity))


def _groups(entry: tuple[yaml.Node, yaml.Node] | None, problems: list[Problem]) -> set[str]:
    if entry is None:
        return set()
    node = entry[1]
    if _is_null(node):
        return set()
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(_line(node), "groups must be a mapping of group name to {description: ...}"))
        return set()
    found = _mapping(node, problems, "groups")
    for name, (_, value) in found.items():
        if not (_is_null(value) or isinstance(value, yaml.MappingNode)):
            problems.append(Problem(_line(value), f"groups.{name} must be a mapping (or empty)"))
    return set(found)


def _users(entry: tuple[yaml.Node, yaml.Node] | None, groups: set[str], problems: list[Problem]) -> None:
    if entry is None or _is_null(entry[1]):
        return
    node = entry[1]
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(_line(node), "users must be a mapping of user name to {groups: [...], roles: [...]}"))
        return
    for name, (_, value) in _mapping(node, problems, "users").items():
        if _is_null(value):
            problems.append(Problem(_line(value), f"user '{name}' has no groups: they may read nothing", "warning"))
            continue
        if not isinstance(value, yaml.MappingNode):
            problems.append(Problem(_line(value), f"users.{name} must be a mapping"))
            continue
        fields = _mapping(value, problems, f"users.{name}")
        for key, (knode, _) in fields.items():
            if key not in USER_KEYS:
                problems.append(Problem(_line(knode), f"users.{name}: unknown key '{key}'"))
        member_of = _string_list(fields.get("groups"), problems, f"users.{name}.groups")
        for group, gnode in member_of:
            if group not in groups:
                problems.append(Problem(_line(gnode), f"user '{name}' is in unknown group '{group}' (define it under groups:)"))
        if not member_of:
            problems.append(Problem(_line(value), f"user '{name}' has no groups: they may read nothing", "warning"))
        for role, rnode in _string_list(fields.get("roles"), problems, f"users.{name}.roles"):
            if role not in ROLES:
                problems.append(Problem(_line(rnode), f"unknown role '{role}' (expected {', '.join(sorted(ROLES))})"))


def _rules(entry: tuple[yaml.Node, yaml.Node] | None, assigned: set[str], problems: list[Problem]) -> None:
    if entry is None or _is_null(entry[1]):
        return
    node = entry[1]
    if not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(_line(node), "labels must be a list of {match: <glob>, metadata: {...}, labels: [...]}"))
        return
    for i, item in enumerate(node.value):
        if not isinstance(item, yaml.MappingNode):
            problems.append(Problem(_line(item), f"labels[{i}] must be a mapping with 'match' and/or 'metadata', and 'labels'"))
            continue
        fields = _mapping(item, problems, f"labels[{i}]")
        for key, (knode, _) in fields.items():
            if key not in RULE_KEYS:
                problems.append(Problem(_line(knode), f"labels[{i}]: unknown key '{key}'"))
        match, metadata = fields.get("match"), fields.get("metadata")
        if match is None and metadata is None:
            problems.append(Problem(_line(item), f"labels[{i}] needs 'match' (a path glob such as 'hr/**') or 'metadata'"))
        elif match is not None and (not isinstance(match[1], yaml.ScalarNode) or _is_null(match[1]) or not match[1].value.strip()):
            problems.append(Problem(_line(match[1]), f"labels[{i}].match must be a path glob such as 'hr/**'"))
        if metadata is not None:
            _metadata_condition(metadata[1], problems, f"labels[{i}].metadata")
        values = _string_list(fields.get("labels"), problems, f"labels[{i}].labels")
        if not values:
            problems.append(Problem(_line(item), f"labels[{i}] needs a non-empty 'labels' list"))
        assigned.update(v for v, _ in values)


def _metadata_condition(node: yaml.Node, problems: list[Problem], where: str) -> None:
    """A non-empty mapping of property name to a value, or a list of values (any one matches)."""
    if not isinstance(node, yaml.MappingNode) or not node.value:
        problems.append(Problem(_line(node), f"{where} must be a mapping of property to value, e.g. {{sensitivity: Confidential}}"))
        return
    seen: dict[str, int] = {}
    for key, (knode, value) in _mapping(node, problems, where).items():
        name = key.strip().lower()
        if not isinstance(knode, yaml.ScalarNode) or not name:
            problems.append(Problem(_line(knode), f"{where}: every property name must be a non-empty name"))
            continue
        if name in seen:
            problems.append(Problem(_line(knode), f"{where}: '{key}' repeats '{name}' (line {seen[name]}; names ignore case)"))
            continue
        seen[name] = _line(knode)
        items = value.value if isinstance(value, yaml.SequenceNode) else [value]
        if not items:
            problems.append(Problem(_line(value), f"{where}.{name} needs a value or a non-empty list of values"))
        for v in items:
            if not isinstance(v, yaml.ScalarNode) or _is_null(v) or not str(v.value).strip():
                problems.append(Problem(_line(v), f"{where}.{name}: every value must be non-empty text"))
            elif v.tag not in _TEXT_TAGS:
                problems.append(Problem(_line(v), f"{where}.{name}: quote '{v.value}' so it compares as text"))


def _grants(
    entry: tuple[yaml.Node, yaml.Node] | None, groups: set[str], granted: set[str], problems: list[Problem]
) -> None:
    if entry is None or _is_null(entry[1]):
        return
    node = entry[1]
    if not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(_line(node), "grants must be a list of {group: <name>, labels: [...]}"))
        return
    for i, item in enumerate(node.value):
        if not isinstance(item, yaml.MappingNode):
            problems.append(Problem(_line(item), f"grants[{i}] must be a mapping with 'group' and 'labels'"))
            continue
        fields = _mapping(item, problems, f"grants[{i}]")
        for key, (knode, _) in fields.items():
            if key not in GRANT_KEYS:
                problems.append(Problem(_line(knode), f"grants[{i}]: unknown key '{key}'"))
        group = fields.get("group")
        if group is None or not isinstance(group[1], yaml.ScalarNode):
            problems.append(Problem(_line(item), f"grants[{i}] needs 'group'"))
        elif group[1].value not in groups:
            problems.append(Problem(_line(group[1]), f"grants[{i}] names unknown group '{group[1].value}'"))
        values = _string_list(fields.get("labels"), problems, f"grants[{i}].labels")
        if not values:
            problems.append(Problem(_line(item), f"grants[{i}] needs a non-empty 'labels' list"))
        granted.update(v for v, _ in values)


def _mapping(node: yaml.MappingNode, problems: list[Problem], where: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Keys of a mapping node; a duplicate key is an error (YAML would silently keep the last)."""
    found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for knode, vnode in node.value:
        key = str(knode.value) if isinstance(knode, yaml.ScalarNode) else repr(knode)
        if key in found:
            problems.append(Problem(_line(knode), f"{where}: duplicate key '{key}' (first at line {_line(found[key][0])})"))
            continue
        found[key] = (knode, vnode)
    return found


def _string_list(
    entry: tuple[yaml.Node, yaml.Node] | None, problems: list[Problem], where: str
) -> list[tuple[str, yaml.Node]]:
    if entry is None or _is_null(entry[1]):
        return []
    node = entry[1]
    if not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(_line(node), f"{where} must be a list, e.g. [a, b]"))
        return []
    values = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
            problems.append(Problem(_line(item), f"{where}: every entry must be a non-empty name"))
            continue
        values.append((str(item.value), item))
    return values


def _is_null(node: Any) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1 if getattr(node, "start_mark", None) is not None else 1
