"""Audit: browse and filter the audit log, and verify its chain and seals (auditor role)."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from ui import auth, engine

MAX_ROWS = 2000


def page() -> None:
    """The audit page."""
    cfg, principal = auth.require("auditor")
    st.title("Audit log")
    log = engine.audit_log(cfg)
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    with right:
        verify = st.button("Verify the log", type="primary", icon=":material/verified:", width="stretch")
    if verify:
        with st.spinner("Checking every record's hash chain and seal…"):
            result = log.verify()
        engine.audit(cfg, "audit_verify", principal.user, **result.to_dict())
        (st.success if result.ok else st.error)(result.message())
    records = list(log.records())
    kinds = sorted({str(r.get("kind", "")) for r in records})
    with left:
        c1, c2, c3 = st.columns(3)
        chosen = c1.multiselect("Event kinds", kinds, placeholder="all kinds")
        actor = c2.text_input("Actor contains", max_chars=128)
        text = c3.text_input("Details contain", max_chars=256)
    rows = [_row(r) for r in reversed(records) if _keep(r, chosen, actor, text)]
    st.caption(f"{len(rows)} of {len(records)} record(s), newest first" + (f"; showing {MAX_ROWS}" if len(rows) > MAX_ROWS else ""))
    st.dataframe(rows[:MAX_ROWS], hide_index=True, width="stretch")


def _keep(record: dict[str, Any], kinds: list[str], actor: str, text: str) -> bool:
    if kinds and record.get("kind") not in kinds:
        return False
    if actor and actor.lower() not in str(record.get("actor", "")).lower():
        return False
    return not text or text.lower() in json.dumps(record.get("details", {}), ensure_ascii=False).lower()


def _row(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "#": record.get("seq"),
        "Time (UTC)": str(record.get("ts", "")).replace("T", " "),
        "Kind": record.get("kind"),
        "Actor": record.get("actor"),
        "Details": json.dumps(record.get("details", {}), ensure_ascii=False, sort_keys=True),
    }
