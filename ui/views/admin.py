"""Administration: ingest status per file, start an ingest of the configured sources, schedule and runs."""

from __future__ import annotations

from collections import Counter

import streamlit as st

from enclave.settings import Settings
from ingest.manifest import Manifest
from ui import auth, engine, jobs
from ui.render import plain_text


def page() -> None:
    """The admin page."""
    cfg, principal = auth.require("admin")
    st.title("Administration")
    manifest = Manifest(cfg.manifest_path)
    try:
        records = manifest.all()
    finally:
        manifest.close()
    counts = Counter(r.status for r in records)
    a, b, c = st.columns(3)
    a.metric("Ingested", counts.get("ingested", 0))
    b.metric("Failed", counts.get("failed", 0))
    c.metric("Quarantined", counts.get("quarantined", 0))

    st.subheader("Ingest")
    _ingest_panel(cfg, principal.user)

    st.subheader("Files")
    status_filter = st.segmented_control("Show", ["all", "ingested", "failed", "quarantined"], default="all")
    rows = [
        {
            "File": r.source,
            "Status": r.status,
            "Reason": f"[{r.error_code}] {r.error}" if r.error else "",
            "Chunks": len(r.chunk_ids),
            "Labels": ", ".join(r.labels),
            "Updated (UTC)": r.updated_at.replace("T", " ").replace("+00:00", ""),
        }
        for r in records
        if status_filter in (None, "all") or r.status == status_filter
    ]
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.info("No files recorded yet: run an ingest.")


def _ingest_panel(cfg: Settings, user: str) -> None:
    sources = jobs.configured_sources(cfg)
    if not sources:
        st.info(
            "No ingest sources are configured (ingest.sources in enclave.toml). "
            "Until then, ingest a folder from the command line: `enclave ingest FOLDER`.",
            icon=":material/settings:",
        )
    else:
        st.caption("Sources and schedule" + ("" if cfg.ingest.schedule_enabled else " (scheduled runs are off)"))
        st.dataframe(jobs.schedule_rows(cfg, sources), hide_index=True, width="stretch")
        job = jobs.ingest_job()
        if st.button("Start ingest now", type="primary", disabled=job.running, icon=":material/play_arrow:"):
            engine.audit(cfg, "admin_action", user, action="ingest_start", sources=[s.name for s in sources])
            if not jobs.start_ingest(cfg, sources, started_by=user):
                st.warning("An ingest started from this page is already running.")
        _progress()
    runs = jobs.last_runs(cfg)
    st.caption("Last runs" if runs else "No ingest runs recorded yet.")
    if runs:
        st.dataframe(runs, hide_index=True, width="stretch")


@st.fragment(run_every=2)
def _progress() -> None:
    job = jobs.ingest_job()
    if job.running:
        total = max(job.total, 1)
        st.progress(job.done / total, text=f"Ingesting {job.done}/{job.total}: {plain_text(job.current[-80:])}")
    elif job.message:
        (st.error if job.failed else st.success)(plain_text(job.message))
