"""My documents: what this user may search (title, label, last ingested) and nothing else."""

from __future__ import annotations

import streamlit as st

from ingest.manifest import Manifest
from policies.engine import may_read
from ui import auth, engine


def page() -> None:
    """The documents page."""
    cfg, principal = auth.require()
    st.title("My documents")
    pol = engine.policy(cfg)
    manifest = Manifest(cfg.manifest_path)
    try:
        records = manifest.all()
    finally:
        manifest.close()
    rows = [
        {
            "Title": r.title or r.source.rsplit("/", 1)[-1],
            "File": r.source,
            "Label": ", ".join(r.labels),
            "Pages": r.pages,
            "Last ingested": r.updated_at.replace("T", " ").replace("+00:00", " UTC"),
        }
        for r in records
        if r.status == "ingested" and may_read(pol, principal, r.labels).allowed
    ]
    if not rows:
        st.info("There are no documents you may search yet.", icon=":material/folder_off:")
        return
    st.caption(f"{len(rows)} document(s) you may search. Answers only ever come from these.")
    st.dataframe(rows, hide_index=True, width="stretch")
