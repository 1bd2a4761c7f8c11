"""Enclave's web page (run with `enclave serve`): sign in, then only the pages this person's roles allow."""

from __future__ import annotations

import streamlit as st

from ui import auth, engine
from ui.render import plain_text
from ui.views import admin, audit, chat, documents


def main() -> None:
    """Build the navigation for whoever is (or is not) signed in, and run the chosen page."""
    st.set_page_config(page_title="Enclave", page_icon=":material/lock:", layout="centered")
    cfg = engine.settings()
    principal = auth.current_principal(cfg)
    if principal is None:
        st.navigation([st.Page(auth.signin_view, title="Sign in", url_path="signin", default=True)], position="hidden").run()
        return
    pages = [
        st.Page(chat.page, title="Ask", icon=":material/chat:", url_path="ask", default=True),
        st.Page(documents.page, title="My documents", icon=":material/folder_open:", url_path="documents"),
    ]
    if "admin" in principal.roles:
        pages.append(st.Page(admin.page, title="Administration", icon=":material/settings:", url_path="admin"))
    if "auditor" in principal.roles:
        pages.append(st.Page(audit.page, title="Audit log", icon=":material/policy:", url_path="audit"))
    page = st.navigation(pages)
    with st.sidebar:
        st.markdown(f"Signed in as **{plain_text(principal.user)}**")
        st.caption("Roles: " + (", ".join(sorted(principal.roles)) or "none"))
        if st.button("Sign out", icon=":material/logout:"):
            auth.sign_out(cfg, st.session_state.get(auth.SESSION_KEY))
            st.rerun()
        _expiry_watch()
    page.run()


@st.fragment(run_every=30)
def _expiry_watch() -> None:
    """Ends an idle or expired session even when the user does nothing (the check is not activity)."""
    if not auth.still_valid(engine.settings()):
        st.rerun(scope="app")


# Streamlit runs this file as __main__. A child process started with multiprocessing's "spawn" (the
# sandboxed parser of an ingest started from the admin page) re-imports it as __mp_main__: no page then.
if __name__ == "__main__":
    main()
