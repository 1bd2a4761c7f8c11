"""Writes a tiny random-weight GPT-2 in the legacy GGML format that ctransformers' gpt2 loader reads."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

GGML_MAGIC = 0x67676D6C  # "ggml", the unversioned pre-GGUF container
FTYPE_F32 = 0
VOCAB = [chr(c) for c in range(32, 127)] + [" the", " leave", " policy", " days", "Hello", " world"]


def write_tiny_gpt2(path: Path, n_layer: int = 2, n_embd: int = 32, n_head: int = 4, n_ctx: int = 256, seed: int = 0) -> Path:
    """Header, vocabulary, then every tensor the loader maps (ggml dims are innermost first), all f32."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<I", GGML_MAGIC))
        f.write(struct.pack("<6i", len(VOCAB), n_ctx, n_embd, n_head, n_layer, FTYPE_F32))
        f.write(struct.pack("<i", len(VOCAB)))
        for word in VOCAB:
            raw = word.encode("utf-8")
            f.write(struct.pack("<I", len(raw)) + raw)

        def tensor(name: str, *ne: int) -> None:
            data = (rng.standard_normal(int(np.prod(ne))) * 0.2).astype("<f4")
            if name.endswith("/g"):
                data[:] = 1.0  # layer-norm gains
            raw = name.encode()
            f.write(struct.pack("<3i", len(ne), len(raw), FTYPE_F32) + struct.pack(f"<{len(ne)}i", *ne) + raw)
            f.write(data.tobytes())

        tensor("model/ln_f/g", n_embd)
        tensor("model/ln_f/b", n_embd)
        tensor("model/wte", n_embd, len(VOCAB))
        tensor("model/wpe", n_embd, n_ctx)
        tensor("model/lm_head", n_embd, len(VOCAB))
        for i in range(n_layer):
            p = f"model/h{i}/"
            for norm in ("ln_1", "ln_2"):
                tensor(p + norm + "/g", n_embd)
                tensor(p + norm + "/b", n_embd)
            tensor(p + "attn/c_attn/w", n_embd, 3 * n_embd)
            tensor(p + "attn/c_attn/b", 3 * n_embd)
            tensor(p + "attn/c_proj/w", n_embd, n_embd)
            tensor(p + "attn/c_proj/b", n_embd)
            tensor(p + "mlp/c_fc/w", n_embd, 4 * n_embd)
            tensor(p + "mlp/c_fc/b", 4 * n_embd)
            tensor(p + "mlp/c_proj/w", 4 * n_embd, n_embd)
            tensor(p + "mlp/c_proj/b", n_embd)
    return path
