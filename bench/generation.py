"""Benchmark stages for generation (Enclave vs raw llama-cpp-python) and the `enclave ask` process."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench import data

# The cold run asks for a long answer, so the decode rate is measured over max_tokens: the short question
# used before this was answered in ~12 tokens, and a rate over 12 tokens moved ±30% between runs.
LONG_ANSWER_QUESTION = "Summarise each numbered source in turn, one sentence per source, citing each one."


def raw_stream(llm: Any, messages: list[dict[str, str]], max_tokens: int, temperature: float, seed: int) -> Any:
    """Text pieces straight from `Llama.create_chat_completion`, the baseline Enclave's generator is held to."""
    for chunk in llm.create_chat_completion(
        messages=messages, max_tokens=max_tokens, temperature=temperature, seed=seed, stream=True
    ):
        delta = chunk["choices"][0].get("delta", {}).get("content")
        if delta:
            yield delta


def _model(tmp: Path) -> Path:
    from enclave.settings import DEFAULT_MODEL_NAME
    from rag.models import assemble_bundled_model, bundled_model

    return assemble_bundled_model(bundled_model(DEFAULT_MODEL_NAME), tmp / f"{DEFAULT_MODEL_NAME}.gguf")


def _messages(count_tokens: Any, target: int, question: str, texts: list[str]) -> list[dict[str, str]]:
    """The product's packed prompt, filled with `texts` as passages until it holds about `target` tokens."""
    from ingest.index.base import Hit
    from ingest.schema import Chunk
    from rag.prompt import pack_prompt

    hits = [
        Hit(Chunk(f"id{i}", "d", f"bench/{i}.txt", "0", i, t, None, None, ("NarrativeText",), ("x",)), 1.0, 1.0, 1.0)
        for i, t in enumerate(texts)
    ]
    probe = pack_prompt(question, [], count_tokens, 0)
    packed = pack_prompt(question, hits, count_tokens, max(0, target - probe.prompt_tokens))
    return packed.messages


def _timed(pieces: Any) -> tuple[float, float, int, str]:
    t0 = time.perf_counter()
    first = None
    text = []
    for piece in pieces:
        if first is None:
            first = time.perf_counter() - t0
        text.append(piece)
    return first or 0.0, time.perf_counter() - t0, len(text), "".join(text)


def _follow_up(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Same system prompt, examples and sources, another question: only the tail is new to the cache."""
    head = messages[-1]["content"].rsplit("Question:", 1)[0]
    return [*messages[:-1], {**messages[-1], "content": head + "Question: Who signs the incident report?"}]


def generate(params: dict[str, Any]) -> dict[str, Any]:
    """TTFT and decode rate per prompt size: Enclave's generator against raw llama-cpp-python, interleaved.

    Both sides drive the one `Llama` Enclave's generator built: Enclave through its generator, raw through
    `create_chat_completion` on that same object with the same arguments. They take turns (the order flips
    every repeat), each turn from a reset cache, and the medians are compared; what differs is Enclave's code
    on top of llama-cpp-python and nothing else. (Run one after the other in separate processes, the two sides
    drifted ±20% between idle runs; with a second `Llama` in the same process, whichever was built first
    decoded 5–10% slower, the same code either way — bench/RESULTS.md, fourteenth and fifteenth sessions.)
    After each cold turn the same side answers a follow-up that shares the prompt's prefix, for the TTFT with
    the prefix cached.
    """
    import os
    import statistics

    from enclave.settings import DEFAULT_MODEL_NAME, load_settings
    from rag.generators.llama_cpp import LlamaCppGenerator
    from rag.models import bundled_model

    g = load_settings().generator
    max_tokens = params.get("max_tokens", 64)
    repeats = params.get("repeats", 1)
    n_ctx = max(params["sizes"]) + 1024
    threads = g.n_threads or (os.cpu_count() or 1)
    # SciFact abstracts where the shared data is present: real text the model can summarise at length. Over
    # generated word lists the 1.5B model stopped after 4 pieces at 4k tokens, leaving no decode rate to compare.
    docs, source = data.corpus_texts(400)
    texts = [text for _, _, text in docs]
    out: dict[str, Any] = {
        "n_ctx": n_ctx, "threads": threads, "max_tokens": max_tokens, "repeats": repeats, "passages": source, "sizes": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = _model(Path(tmp))
        enclave = LlamaCppGenerator(path, bundled_model(DEFAULT_MODEL_NAME).sha256, DEFAULT_MODEL_NAME, n_ctx=n_ctx, n_threads=threads)
        enclave.warm_up()
        raw = enclave._llm  # the same weights, buffers and settings: only the code in between differs
        sides = {
            "enclave": (enclave.stream, raw.reset),
            "raw": (lambda m, n: raw_stream(raw, m, n, g.temperature, g.seed), raw.reset),
        }
        for size in params["sizes"]:
            messages = _messages(enclave.count_tokens, size, LONG_ANSWER_QUESTION, texts)
            follow = _follow_up(messages)
            samples: dict[str, dict[str, list[float]]] = {
                s: {"ttft_s": [], "tokens_per_s": [], "generated_pieces": [], "ttft_cached_prefix_s": []} for s in sides
            }
            for r in range(repeats):
                for name in list(sides)[:: 1 if r % 2 == 0 else -1]:
                    stream, reset = sides[name]
                    reset()  # cold: nothing of this prompt is cached
                    ttft, total, pieces, _ = _timed(stream(messages, max_tokens))
                    warm_ttft, _, _, _ = _timed(stream(follow, 1))  # only its first token is timed
                    got = samples[name]
                    got["ttft_s"].append(ttft)
                    got["tokens_per_s"].append((pieces - 1) / (total - ttft) if pieces > 1 and total > ttft else 0.0)
                    got["generated_pieces"].append(pieces)  # the decode rate is over these (the model may stop early)
                    got["ttft_cached_prefix_s"].append(warm_ttft)
            prompt_tokens = sum(enclave.count_tokens(m["content"]) for m in messages)
            row: dict[str, Any] = {"prompt_tokens": prompt_tokens}
            for name, got in samples.items():
                med = {k: statistics.median(v) for k, v in got.items()}
                row[name] = {
                    **med,
                    "prompt_tokens_per_s": prompt_tokens / med["ttft_s"] if med["ttft_s"] else 0.0,
                    "prefix_speedup": med["ttft_s"] / med["ttft_cached_prefix_s"] if med["ttft_cached_prefix_s"] else 0.0,
                    "samples": got,
                }
            a, b = row["enclave"], row["raw"]
            row["ttft_overhead_pct"] = 100 * (a["ttft_s"] / b["ttft_s"] - 1) if b["ttft_s"] else 0.0
            row["decode_overhead_pct"] = 100 * (1 - a["tokens_per_s"] / b["tokens_per_s"]) if b["tokens_per_s"] else 0.0
            out["sizes"][str(size)] = row
    return out


def ask_home(params: dict[str, Any]) -> dict[str, Any]:
    """An ENCLAVE_HOME with the model and a few ingested files, for measuring `enclave ask`."""
    from enclave.settings import load_settings
    from enclave.wiring import default_user, ingest_folder_now, setup_home

    home = Path(params["home"])
    settings = load_settings(home=home)
    setup_home(settings)
    folder = data.write_docs(home.parent / "askdocs", 12)
    (folder / "shift.md").write_text("# Night shift\n\nThe night shift starts at 22:00 and ends at 06:30.\n")
    report = ingest_folder_now(settings, folder)
    return {"home": str(home), "chunks": report.chunks_written, "user": default_user()}
