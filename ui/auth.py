"""Who is using this browser session: sign-in (local, proxy header, OIDC), timeouts, role checks."""

from __future__ import annotations

from typing import Any

import streamlit as st

from enclave.settings import Settings
from policies.engine import principal_for
from policies.errors import PolicyError
from policies.model import Principal
from policies.session import WebSession, open_session, proxy_identity, session_state, signin_allowed, touch
from ui import engine
from ui.render import plain_text

SESSION_KEY = "enclave_session"
NOTICE_KEY = "enclave_notice"


def current_principal(cfg: Settings) -> Principal | None:
    """The signed-in principal for this run, or None; expired sessions end here (and are audited)."""
    session: WebSession | None = st.session_state.get(SESSION_KEY)
    if session is None:
        session = _external_identity(cfg)
        if session is None:
            return None
    verdict = session_state(session, engine.now(), cfg.ui.idle_timeout_min * 60, cfg.ui.session_lifetime_min * 60)
    if not verdict.allowed:
        sign_out(cfg, session, reason=verdict.reason)
        return None
    try:
        principal = principal_for(engine.policy(cfg), session.user)
    except PolicyError as exc:
        sign_out(cfg, session, reason=str(exc))
        return None
    st.session_state[SESSION_KEY] = touch(session, engine.now())
    return principal


def still_valid(cfg: Settings) -> bool:
    """Whether the session is still within its limits, without counting this check as activity."""
    session: WebSession | None = st.session_state.get(SESSION_KEY)
    return session_state(session, engine.now(), cfg.ui.idle_timeout_min * 60, cfg.ui.session_lifetime_min * 60).allowed


def sign_out(cfg: Settings, session: WebSession | None, reason: str = "signed out") -> None:
    """End the session: audit it, forget everything this browser session held."""
    if session is not None:
        engine.audit(cfg, "signout", session.user, reason=reason, method=session.method)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[NOTICE_KEY] = "" if reason == "signed out" else f"You were signed out: {reason}."
    if cfg.ui.auth == "oidc" and _oidc_logged_in():
        st.logout()


def signin_view() -> None:
    """The only thing shown until someone is signed in."""
    cfg = engine.settings()
    st.title("Enclave")
    st.caption("Cited answers from your organisation's documents. Sign in to continue.")
    notice = st.session_state.get(NOTICE_KEY)
    if notice:
        st.info(notice, icon=":material/lock_clock:")
    match cfg.ui.auth:
        case "local":
            _local_form(cfg)
        case "proxy_header":
            st.error(
                "No identity from the sign-on proxy. Open Enclave through your organisation's portal.",
                icon=":material/no_accounts:",
            )
        case "oidc":
            if not _oidc_configured():
                st.error("Single sign-on is not configured on this server. Ask your administrator.")
            else:
                st.button("Sign in with your organisation", type="primary", on_click=st.login)


def _local_form(cfg: Settings) -> None:
    with st.form("signin", clear_on_submit=True, border=True):
        user = st.text_input("User name", max_chars=128, autocomplete="username")
        password = st.text_input("Password", type="password", max_chars=1024, autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
    if submitted:
        if _try_local(cfg, user.strip(), password):
            st.rerun()
        st.error("Unknown user name or wrong password.", icon=":material/error:")


def _try_local(cfg: Settings, user: str, password: str) -> bool:
    """Check a password; every outcome is audited, repeated failures lock the name for a while."""
    from policies.accounts import verify_password

    guard = engine.signin_guard()
    window = cfg.ui.lockout_min * 60
    now = engine.now()
    allowed = signin_allowed(guard.recent(user), now, cfg.ui.max_failed_signins, window)
    if not allowed.allowed:
        engine.audit(cfg, "signin_failed", user or "(empty)", method="local", reason=allowed.reason)
        st.warning(allowed.reason)
        return False
    ok = bool(user) and verify_password(cfg.policy_dir, user, password)
    if ok:
        try:
            principal_for(engine.policy(cfg), user)
        except PolicyError:
            ok = False
    if not ok:
        guard.failed(user, now, window)
        engine.audit(cfg, "signin_failed", user or "(empty)", method="local", reason="unknown user or wrong password")
        return False
    guard.succeeded(user)
    _start(cfg, user, "local")
    return True


def _external_identity(cfg: Settings) -> WebSession | None:
    """A session vouched for by the proxy header or OIDC, when that is the configured method."""
    user: str | None = None
    if cfg.ui.auth == "proxy_header":
        user = proxy_identity(dict(st.context.headers), cfg.ui.proxy_header, cfg.ui.host)
    elif cfg.ui.auth == "oidc" and _oidc_logged_in():
        user = _oidc_user(st.user)
    if not user:
        return None
    try:
        principal_for(engine.policy(cfg), user)
    except PolicyError as exc:
        engine.audit(cfg, "signin_failed", user, method=cfg.ui.auth, reason=str(exc))
        st.session_state[NOTICE_KEY] = f"'{user}' is not allowed to use Enclave. Ask your administrator."
        return None
    return _start(cfg, user, cfg.ui.auth)


def _start(cfg: Settings, user: str, method: str) -> WebSession:
    engine.audit(cfg, "signin", user, method=method)
    st.session_state.pop(NOTICE_KEY, None)
    session = open_session(user, method, engine.now())
    st.session_state[SESSION_KEY] = session
    return session


def _oidc_configured() -> bool:
    """Whether an [auth] section exists in the server's secrets file."""
    from streamlit.errors import StreamlitSecretNotFoundError

    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:
        return False


def _oidc_logged_in() -> bool:
    try:
        return bool(st.user.is_logged_in)
    except Exception:  # st.user raises when auth is not configured at all
        return False


def _oidc_user(user: Any) -> str | None:
    """The policy user name for an OIDC identity: preferred_username, else email."""
    for claim in ("preferred_username", "email"):
        value = user.get(claim)
        if value:
            return str(value)
    return None


def require(role: str | None = None) -> tuple[Settings, Principal]:
    """The settings and principal for a page; stops the page for anyone without `role`."""
    cfg = engine.settings()
    principal = current_principal(cfg)
    if principal is None:
        st.warning("Please sign in.")
        st.stop()
    if role is not None and role not in principal.roles:
        engine.audit(cfg, "denial", principal.user, what=f"{role} page", reason=f"role '{role}' not held")
        st.error(f"This page needs the '{plain_text(role)}' role. Ask your administrator if you need it.")
        st.stop()
    assert principal is not None
    return cfg, principal
