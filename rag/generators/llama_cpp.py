"""Default generator: a GGUF model in-process through llama-cpp-python, verified before loading."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.errors import GenerationFailed
from rag.generators.base import Message
from rag.models import verify_model


class LlamaCppGenerator:
    """Loads a GGUF file only after its sha256 matches the configured one."""

    def __init__(
        self,
        model_path: Path,
        model_sha256: str,
        model_name: str,
        n_ctx: int = 4096,
        n_threads: int = 0,
        temperature: float = 0.0,
        seed: int = 42,
    ) -> None:
        self._path = Path(model_path)
        self._sha256 = model_sha256.lower()
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
        """Configured context size."""
        return self._n_ctx

    def warm_up(self) -> None:
        """Verify the file, then load it (seconds)."""
        if self._llm is not None:
            return
        verify_model(self._path, self._sha256)
        from llama_cpp import Llama

        self._llm = Llama(
            model_path=str(self._path),
            n_ctx=self._n_ctx,
            n_threads=self._n_threads,
            seed=self._seed,
            verbose=False,
        )

    def count_tokens(self, text: str) -> int:
        """Exact token count with the model's own tokenizer."""
        self.warm_up()
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        """Stream a chat completion (the GGUF's own chat template)."""
        self.warm_up()
        try:
            chunks = self._llm.create_chat_completion(
                messages=list(messages),
                max_tokens=max_tokens,
                temperature=self._temperature,
                seed=self._seed,
                stream=True,
            )
            for chunk in chunks:
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta
        except ValueError as exc:  # llama-cpp raises ValueError when the prompt exceeds n_ctx
            raise GenerationFailed(str(exc), hint="lower retrieval.context_budget_tokens") from exc
