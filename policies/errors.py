"""Policy failures."""

from __future__ import annotations


class PolicyError(Exception):
    """Base of policy failures; `hint` tells the operator what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class PolicyInvalid(PolicyError):
    """A policy file cannot be read or is malformed. Nobody gets access."""


class AccessDenied(PolicyError):
    """The principal may not do this."""
