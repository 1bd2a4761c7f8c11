"""Environment that keeps third-party libraries from reaching the network."""

from __future__ import annotations

import os

OFFLINE_ENV = {
    # unstructured pings an analytics endpoint when imported unless opted out.
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "true",
    # Hugging Face libraries must never try a hub.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # onnxruntime (loaded by unstructured) keeps a device id and a 1DS telemetry store under
    # ~/.cache/Microsoft/DeveloperTools and would upload it to events.data.microsoft.com.
    "ORT_DISABLE_TELEMETRY": "1",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "TOKENIZERS_PARALLELISM": "false",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def enforce_offline_env() -> None:
    """Set the opt-outs in this process (and so in every child it starts)."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value
