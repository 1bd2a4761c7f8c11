"""Read a policy directory (YAML). Any problem raises PolicyInvalid: no policy, no access."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from policies.errors import PolicyInvalid
from policies.model import LabelRule, Policy, UserEntry
from policies.validate import Problem, validate_tree

POLICY_FILE = "policy.yaml"


def load_policy(policy_dir: Path) -> Policy:
    """Load `policy.yaml` from `policy_dir`; the version is the hash of the file's bytes.

    Any error (unreadable file, bad YAML, unknown key or group, missing field) raises PolicyInvalid
    naming the line: a policy that cannot be fully understood grants nothing.
    """
    policy, problems, origin = check_policy(policy_dir)
    errors = [p for p in problems if p.severity == "error"]
    if errors or policy is None:
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise PolicyInvalid(errors[0].render(origin) + more, hint="run enclave policy check for every problem")
    return policy


def check_policy(policy_dir: Path) -> tuple[Policy | None, list[Problem], str]:
    """(the policy if it has no errors, every problem with its line, the file's path)."""
    path = Path(policy_dir) / POLICY_FILE
    origin = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(0, f"cannot read the policy: {exc.strerror or exc} (run enclave setup)")], origin
    try:
        tree = yaml.compose(raw, Loader=yaml.SafeLoader)
        problems = validate_tree(tree)
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return None, [Problem(line, f"not valid YAML: {getattr(exc, 'problem', None) or exc}")], origin
    if any(p.severity == "error" for p in problems):
        return None, problems, origin
    return parse_policy(data, version=hashlib.sha256(raw).hexdigest()[:16], origin=origin), problems, origin


def parse_policy(data: Any, version: str, origin: str = "policy") -> Policy:
    """Build a Policy from plain data, rejecting anything malformed."""
    if not isinstance(data, dict):
        raise PolicyInvalid(f"{origin}: the top level must be a mapping")
    users = {}
    for name, entry in (data.get("users") or {}).items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise PolicyInvalid(f"{origin}: users.{name} must be a mapping")
        users[str(name)] = UserEntry(
            name=str(name),
            groups=tuple(str(g) for g in entry.get("groups") or ()),
            roles=tuple(str(r) for r in entry.get("roles") or ()),
        )
    groups = frozenset(str(g) for g in (data.get("groups") or {}))
    rules = []
    for i, rule in enumerate(data.get("labels") or []):
        if not isinstance(rule, dict) or not ("match" in rule or rule.get("metadata")) or not rule.get("labels"):
            raise PolicyInvalid(f"{origin}: labels[{i}] needs 'match' and/or 'metadata', and a non-empty 'labels'")
        rules.append(
            LabelRule(
                match=str(rule["match"]) if "match" in rule else None,
                labels=tuple(str(x) for x in rule["labels"]),
                metadata=_metadata_condition(rule.get("metadata") or {}, f"{origin}: labels[{i}].metadata"),
            )
        )
    grants: dict[str, frozenset[str]] = {}
    for i, grant in enumerate(data.get("grants") or []):
        if not isinstance(grant, dict) or "group" not in grant:
            raise PolicyInvalid(f"{origin}: grants[{i}] needs 'group' and 'labels'")
        group = str(grant["group"])
        grants[group] = grants.get(group, frozenset()) | frozenset(str(x) for x in grant.get("labels") or ())
    return Policy(
        version=version,
        users=users,
        groups=groups,
        label_rules=tuple(rules),
        grants=grants,
        question_logging=str(data.get("question_logging", "full")),
    )


def _metadata_condition(data: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """{property: value | [values]} as sorted (lower-case name, values) pairs."""
    if not isinstance(data, dict):
        raise PolicyInvalid(f"{where} must be a mapping of property to value")
    condition = []
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not values or any(v is None or isinstance(v, dict | list) for v in values):
            raise PolicyInvalid(f"{where}.{key} needs a value or a list of values")
        condition.append((str(key).strip().lower(), tuple(str(v) for v in values)))
    return tuple(sorted(condition))
