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
    from enclave.settings import DEFAULT_MODEL_NAME, DEFAULT_MODEL_SHA256
    from rag.models import assemble_default_model

    return assemble_default_model(tmp / f"{DEFAULT_MODEL_NAME}.gguf", DEFAULT_MODEL_SHA256)


def _messages(count_tokens: Any, target: int, question: str) -> list[dict[str, str]]:
    """The product's packed prompt, filled with passages until it holds about `target` tokens."""
    from ingest.index.base import Hit
    from ingest.schema import Chunk
    from rag.prompt import pack_prompt

    texts = data.synthetic_texts(400, words=60, seed=target)
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


def generate(params: dict[str, Any]) -> dict[str, Any]:
    """TTFT and tokens/s per prompt size through Enclave's generator, or raw llama-cpp-python (`impl`)."""
    import os

    from enclave.settings import DEFAULT_MODEL_NAME, DEFAULT_MODEL_SHA256, load_settings
    from rag.generators.llama_cpp import LlamaCppGenerator

    g = load_settings().generator
    max_tokens = params.get("max_tokens", 64)
    n_ctx = max(params["sizes"]) + 1024
    threads = g.n_threads or (os.cpu_count() or 1)
    out: dict[str, Any] = {"impl": params["impl"], "n_ctx": n_ctx, "threads": threads, "max_tokens": max_tokens, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        path = _model(Path(tmp))
        enclave = LlamaCppGenerator(path, DEFAULT_MODEL_SHA256, DEFAULT_MODEL_NAME, n_ctx=n_ctx, n_threads=threads)
        enclave.warm_up()  # the raw side also needs the tokenizer to build identical prompts
        if params["impl"] == "raw":
            from llama_cpp import Llama

            llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, seed=g.seed, verbose=False)

            def stream(messages: list[dict[str, str]]) -> Any:
                return raw_stream(llm, messages, max_tokens, g.temperature, g.seed)

            reset = llm.reset
        else:
            def stream(messages: list[dict[str, str]]) -> Any:
                return enclave.stream(messages, max_tokens)

            reset = enclave._llm.reset
        for size in params["sizes"]:
            messages = _messages(enclave.count_tokens, size, LONG_ANSWER_QUESTION)
            reset()  # cold: nothing of this prompt is cached
            ttft, total, pieces, _ = _timed(stream(messages))
            # Same system prompt, examples and sources, another question: only the tail is new.
            follow = [*messages[:-1], {**messages[-1], "content": messages[-1]["content"].rsplit("Question:", 1)[0] + "Question: Who signs the incident report?"}]
            warm_ttft, _, _, _ = _timed(stream(follow))
            prompt_tokens = sum(enclave.count_tokens(m["content"]) for m in messages)
            out["sizes"][str(size)] = {
                "prompt_tokens": prompt_tokens,
                "ttft_s": ttft,
                "generated_pieces": pieces,  # the decode rate below is over these (the model may stop early)
                "tokens_per_s": (pieces - 1) / (total - ttft) if pieces > 1 and total > ttft else 0.0,
                "prompt_tokens_per_s": prompt_tokens / ttft if ttft else 0.0,
                "ttft_cached_prefix_s": warm_ttft,
                "prefix_speedup": ttft / warm_ttft if warm_ttft else 0.0,
            }
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
