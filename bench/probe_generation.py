"""Probe: Enclave's generator against raw llama-cpp-python on one model instance, interleaved.

`bench/run.py`'s generate stages run each side in its own process one after the other, and their
run-to-run spread (±20% on an idle 2-core box) is larger than the 10% bound they test. Here both
sides drive the same loaded `Llama` in one process — Enclave through `LlamaCppGenerator.stream`, raw
through `Llama.create_chat_completion(stream=True)` — alternating, each from a reset cache, and the
medians are compared.

    .venv/bin/python bench/probe_generation.py [--sizes 1024,2048] [--repeats 3] [--max-tokens 256]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    """Run the probe and print one JSON object."""
    from bench.generation import (
        LONG_ANSWER_QUESTION,
        _messages,
        _model,
        _timed,
        raw_stream,
    )
    from enclave.settings import DEFAULT_MODEL_NAME, DEFAULT_MODEL_SHA256, load_settings
    from rag.generators.llama_cpp import LlamaCppGenerator

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1024,2048")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=256)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    g = load_settings().generator
    result: dict[str, Any] = {"repeats": args.repeats, "max_tokens": args.max_tokens, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        enclave = LlamaCppGenerator(
            _model(Path(tmp)), DEFAULT_MODEL_SHA256, DEFAULT_MODEL_NAME, n_ctx=max(sizes) + 1024, n_threads=g.n_threads
        )
        enclave.warm_up()
        llm = enclave._llm

        sides = {
            "enclave": lambda m: enclave.stream(m, args.max_tokens),
            "raw": lambda m: raw_stream(llm, m, args.max_tokens, g.temperature, g.seed),
        }
        for size in sizes:
            messages = _messages(enclave.count_tokens, size, LONG_ANSWER_QUESTION)
            samples: dict[str, dict[str, list[float]]] = {s: {"ttft_s": [], "tokens_per_s": []} for s in sides}
            for _ in range(args.repeats):
                for name, stream in sides.items():
                    llm.reset()
                    ttft, total, pieces, _ = _timed(stream(messages))
                    samples[name]["ttft_s"].append(ttft)
                    samples[name]["tokens_per_s"].append((pieces - 1) / (total - ttft) if pieces > 1 else 0.0)
            med = {s: {k: statistics.median(v) for k, v in samples[s].items()} for s in sides}
            result["sizes"][str(size)] = {
                **{s: {**med[s], "samples": samples[s]} for s in sides},
                "ttft_overhead_pct": 100 * (med["enclave"]["ttft_s"] / med["raw"]["ttft_s"] - 1),
                "decode_overhead_pct": 100 * (1 - med["enclave"]["tokens_per_s"] / med["raw"]["tokens_per_s"]),
            }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
