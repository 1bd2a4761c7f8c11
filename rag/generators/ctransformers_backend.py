"""Optional backend for legacy GGML-era models through ctransformers (unmaintained since 0.2.27).

ctransformers reads the pre-GGUF GGML files of gpt2, gptj, gpt_neox, dolly, mpt, replit,
starcoder, falcon and llama (plus early GGUF llama). It cannot load current GGUF
architectures (Qwen2, Gemma 3, Llama 3.x): those use the default llama_cpp backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.errors import GenerationFailed, ModelRejected
from rag.generators.base import Message
from rag.models import verify_model

MODEL_TYPES = ("gpt2", "gptj", "gpt_neox", "dolly-v2", "mpt", "replit", "starcoder", "falcon", "llama")
# GGML-era models have no chat template: a plain transcript, and generation stops at the next turn.
_ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant"}
_STOP = ["\nUser:", "\nSystem:"]


class CTransformersGenerator:
    """Loads a legacy GGML file only after its sha256 matches the configured one."""

    def __init__(
        self,
        model_path: Path,
        model_sha256: str,
        model_type: str,
        model_name: str = "",
        n_ctx: int = 2048,
        n_threads: int = 0,
        temperature: float = 0.0,
        seed: int = 42,
    ) -> None:
        if model_type not in MODEL_TYPES:
            raise ModelRejected(
                f"generator.model_type {model_type!r} is not one ctransformers loads",
                hint=f"use one of {', '.join(MODEL_TYPES)}, or backend 'llama_cpp' for current GGUF models",
            )
        self._path = Path(model_path)
        self._sha256 = model_sha256.lower()
        self._type = model_type
        self._name = model_name or self._path.stem
        self._n_ctx = n_ctx
        self._n_threads = n_threads or (os.cpu_count() or 1)
        self._temperature = temperature
        self._seed = seed
        self._llm: Any = None

    @property
    def model_name(self) -> str:
        """The model's file name (or the configured name)."""
        return self._name

    @property
    def model_sha256(self) -> str:
        """sha256 the file was verified against."""
        return self._sha256

    @property
    def context_window(self) -> int:
        """Tokens the model sees: the smaller of the setting and the file's own context length."""
        if self._llm is not None:
            return min(self._n_ctx, int(self._llm.context_length))
        return self._n_ctx

    def warm_up(self) -> None:
        """Verify the file, then load it (a local file only: ctransformers never reaches a hub here)."""
        if self._llm is not None:
            return
        verify_model(self._path, self._sha256)
        try:
            from ctransformers import AutoModelForCausalLM
        except ImportError as exc:
            raise ModelRejected(
                "the ctransformers backend is not installed", hint="pip install 'enclave[ctransformers]'"
            ) from exc
        try:
            self._llm = AutoModelForCausalLM.from_pretrained(
                str(self._path),
                model_type=self._type,
                context_length=self._n_ctx,
                threads=self._n_threads,
                gpu_layers=0,
                local_files_only=True,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelRejected(
                f"ctransformers could not load {self._path} as a {self._type} GGML model",
                hint="ctransformers reads only legacy GGML files; use generator.backend=llama_cpp for GGUF models",
            ) from exc

    def count_tokens(self, text: str) -> int:
        """Exact token count with the model's own vocabulary."""
        self.warm_up()
        return len(self._llm.tokenize(text, add_bos_token=False))

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        """Generate from a plain transcript of `messages`, yielding text pieces."""
        self.warm_up()
        prompt = render_transcript(messages)
        if self.count_tokens(prompt) + max_tokens > self.context_window:
            raise GenerationFailed(
                f"the prompt does not fit the model's {self.context_window}-token context",
                hint="lower retrieval.context_budget_tokens or generator.max_answer_tokens",
            )
        yield from self._llm(
            prompt,
            max_new_tokens=max_tokens,
            temperature=self._temperature,
            seed=self._seed,
            stop=_STOP,
            stream=True,
            reset=True,
        )


def render_transcript(messages: Sequence[Message]) -> str:
    """`Role: text` turns, ending with an open assistant turn."""
    turns = [f"{_ROLE_NAMES.get(m['role'], m['role'].title())}: {m['content'].strip()}" for m in messages]
    return "\n\n".join(turns) + "\n\nAssistant:"
