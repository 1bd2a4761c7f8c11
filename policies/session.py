"""Web sessions as pure decisions: idle timeout, absolute lifetime, sign-in lockout, proxy identity."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from policies.model import Decision


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser session: who, how, since when, last activity (epoch seconds)."""

    user: str
    method: str
    started_at: float
    last_seen: float


def open_session(user: str, method: str, now: float) -> WebSession:
    """A fresh session for an authenticated user."""
    return WebSession(user=user, method=method, started_at=now, last_seen=now)


def session_state(session: WebSession | None, now: float, idle_s: float, lifetime_s: float) -> Decision:
    """Whether the session may still be used; the reason names the limit that ended it."""
    if session is None:
        return Decision(False, "not signed in")
    if now - session.started_at >= lifetime_s:
        return Decision(False, f"session lifetime of {lifetime_s / 60:.0f} min reached")
    if now - session.last_seen >= idle_s:
        return Decision(False, f"idle for more than {idle_s / 60:.0f} min")
    if now < session.last_seen - 5:  # a clock that went backwards is not trusted
        return Decision(False, "clock moved backwards")
    return Decision(True, "active")


def touch(session: WebSession, now: float) -> WebSession:
    """The session after user activity at `now`."""
    return replace(session, last_seen=max(session.last_seen, now))


def signin_allowed(failures: Sequence[float], now: float, max_failures: int, window_s: float) -> Decision:
    """Refuse further attempts for a user name after `max_failures` failures within `window_s`."""
    recent = [t for t in failures if now - t < window_s]
    if len(recent) >= max_failures:
        wait = window_s - (now - min(recent))
        return Decision(False, f"too many failed sign-ins; try again in {max(1, int(wait // 60) + 1)} min")
    return Decision(True, f"{len(recent)} recent failure(s)")


def is_loopback(host: str) -> bool:
    """True when `host` (a listen address) is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_identity(headers: Mapping[str, str], header: str, listen_host: str) -> str | None:
    """The user a trusted reverse proxy vouches for, or None.

    Only accepted when the app listens on loopback (so only the proxy on this machine can reach
    it and set the header); any other listen address makes the header worthless and it is ignored.
    """
    if not is_loopback(listen_host):
        return None
    wanted = header.lower()
    for name, value in headers.items():
        if name.lower() == wanted:
            user = value.strip()
            return user or None
    return None
