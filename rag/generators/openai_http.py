"""A model server on the site's network that speaks the OpenAI chat API (llama-server, vLLM, Ollama)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.errors import GenerationFailed
from rag.generators.base import Message

# Tried in order when counting tokens: llama.cpp's llama-server (and vLLM), llama-cpp-python's server.
_TOKENIZE_ROUTES: tuple[tuple[str, str], ...] = (("/tokenize", "content"), ("/extras/tokenize", "input"))
# Without a tokenize route, assume 2 bytes per token: far more than real tokenizers, so the
# evidence budget is never overrun (fewer passages fit, nothing is cut silently).
_BYTES_PER_TOKEN_ESTIMATE = 2


class OpenAIHttpGenerator:
    """Streams chat completions from `url` (the server's /v1 base). There is no default URL."""

    def __init__(
        self,
        url: str,
        model: str = "",
        api_key_file: str = "",
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        n_ctx: int = 4096,
        temperature: float = 0.0,
        seed: int = 42,
    ) -> None:
        url = url.strip().rstrip("/")
        if not url:
            raise GenerationFailed(
                "generator.url is empty: the 'openai' backend needs the address of your own model server",
                hint="set generator.url, e.g. http://llm:8080/v1 (there is no default, and never a cloud one)",
            )
        if not url.startswith(("http://", "https://")):
            raise GenerationFailed(f"generator.url {url!r} is not an http(s) URL", hint="e.g. http://llm:8080/v1")
        self._url = url
        self._root = url.removesuffix("/v1")
        self._model = model
        self._api_key_file = api_key_file
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._n_ctx = n_ctx
        self._temperature = temperature
        self._seed = seed
        self._client: Any = None
        self._served_model = ""
        self._tokenize: tuple[str, str] | None = None

    @property
    def model_name(self) -> str:
        """The model the server says answered (from its last response), else the configured name."""
        return self._served_model or self._model or "unknown"

    @property
    def model_sha256(self) -> str:
        """'' : the weights live on the server, which does not report a hash."""
        return ""

    @property
    def context_window(self) -> int:
        """Configured context size (generator.n_ctx; set it to the server's)."""
        return self._n_ctx

    def warm_up(self) -> None:
        """Connect, learn the served model's name and how to count tokens."""
        if self._client is not None:
            return
        import httpx

        headers = {"Accept": "application/json"}
        key = self._read_api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(self._timeout_s, connect=self._connect_timeout_s),
            trust_env=False,  # no proxy from the environment: the server is on the site's network
        )
        listing = self._json(self._request("GET", f"{self._url}/models"), "the model list")
        ids = [str(m.get("id")) for m in listing.get("data", []) if isinstance(m, dict)] if isinstance(listing, dict) else []
        if not ids:
            raise self._garbage("the model list (GET /models) names no model")
        self._served_model = self._model if self._model in ids else ids[0]
        self._tokenize = self._find_tokenize_route()

    def count_tokens(self, text: str) -> int:
        """Tokens by the server's own tokenizer when it offers one; else a generous estimate."""
        self.warm_up()
        if self._tokenize is None:
            return math.ceil(len(text.encode("utf-8")) / _BYTES_PER_TOKEN_ESTIMATE)
        route, field = self._tokenize
        data = self._json(self._request("POST", f"{self._root}{route}", json={field: text}), "a token count")
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list):
            raise self._garbage(f"{route} returned no token list")
        return len(tokens)

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        """Stream a chat completion (server-sent events), yielding text pieces as they come."""
        self.warm_up()
        import httpx

        body = {
            "model": self._model or self._served_model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": self._temperature,
            "seed": self._seed,
            "stream": True,
        }
        try:
            with self._client.stream("POST", f"{self._url}/chat/completions", json=body) as response:
                self._check_status(response, read=True)
                done = False
                for line in response.iter_lines():
                    if not line.strip() or line.startswith(":"):
                        continue  # keep-alive or comment
                    if not line.startswith("data:"):
                        raise self._garbage(f"unexpected line in the event stream: {line[:80]!r}")
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    piece = self._delta(data)
                    if piece:
                        yield piece
                if not done:
                    raise GenerationFailed(
                        f"the model server at {self._url} ended the answer stream early",
                        hint="see the model server's log (it may have crashed or run out of memory)",
                    )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None

    # -- plumbing --
    def _delta(self, data: str) -> str:
        try:
            chunk = json.loads(data)
            choice = chunk["choices"][0] if chunk.get("choices") else {}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise self._garbage(f"an event is not an OpenAI chat chunk: {data[:80]!r}") from None
        if chunk.get("error"):
            raise GenerationFailed(f"the model server reported an error: {str(chunk['error'])[:200]}", hint="see its log")
        if chunk.get("model"):
            self._served_model = str(chunk["model"])
        content = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
        return content if isinstance(content, str) else ""

    def _find_tokenize_route(self) -> tuple[str, str] | None:
        for route, field in _TOKENIZE_ROUTES:
            try:
                response = self._request("POST", f"{self._root}{route}", json={field: "probe"}, check=False)
                if response.status_code == 200 and isinstance(response.json().get("tokens"), list):
                    return route, field
            except (ValueError, AttributeError, GenerationFailed):
                continue
        return None

    def _request(self, method: str, url: str, check: bool = True, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        if check:
            self._check_status(response)
        return response

    def _check_status(self, response: Any, read: bool = False) -> None:
        if response.status_code < 400:
            return
        if response.status_code in (401, 403):
            raise GenerationFailed(
                f"the model server at {self._url} refused the API key (HTTP {response.status_code})",
                hint="check generator.api_key_file against the server's --api-key",
            )
        if read:
            response.read()
        detail = " ".join(response.text.split())[:200]
        raise GenerationFailed(
            f"the model server at {self._url} answered HTTP {response.status_code}: {detail}",
            hint="check generator.model and generator.n_ctx against the server, and see its log",
        )

    def _json(self, response: Any, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._garbage(f"{what} is not JSON") from None

    def _garbage(self, detail: str) -> GenerationFailed:
        return GenerationFailed(
            f"the model server at {self._url} does not speak the OpenAI chat API: {detail}",
            hint="point generator.url at the /v1 base of llama-server, vLLM or Ollama",
        )

    def _transport_error(self, exc: Exception) -> GenerationFailed:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            limit = self._connect_timeout_s if isinstance(exc, httpx.ConnectTimeout) else self._timeout_s
            return GenerationFailed(
                f"the model server at {self._url} did not answer within {limit:g} s ({type(exc).__name__})",
                hint="the server is overloaded or stuck: raise generator.timeout_s or add model servers",
            )
        if isinstance(exc, httpx.ConnectError):
            return GenerationFailed(
                f"cannot reach the model server at {self._url} (connection refused or no route)",
                hint="start the model server, or fix generator.url",
            )
        return GenerationFailed(
            f"talking to the model server at {self._url} failed ({type(exc).__name__})",
            hint="see the model server's log",
        )

    def _read_api_key(self) -> str:
        """The key, read from its secret file only when connecting; '' when none is configured."""
        if not self._api_key_file:
            return ""
        try:
            key = Path(self._api_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise GenerationFailed(
                f"cannot read the model server API key file {self._api_key_file} ({type(exc).__name__})",
                hint="fix generator.api_key_file (a Docker secret lives under /run/secrets/)",
            ) from None
        if not key:
            raise GenerationFailed(f"the API key file {self._api_key_file} is empty", hint="write the key into it")
        return key
