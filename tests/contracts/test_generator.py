"""One contract for the Generator port, run against llama.cpp in-process, an OpenAI HTTP server, ctransformers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from enclave.settings import DEFAULT_MODEL_NAME, Settings
from enclave.wiring import build_generator
from ingest.pipeline import file_sha256
from rag.errors import GenerationFailed, ModelRejected
from rag.generators.base import Generator, Message
from rag.generators.openai_http import OpenAIHttpGenerator
from rag.models import bundled_model
from tests.contracts.ggml import write_tiny_gpt2
from tests.contracts.servers import llama_cpp_server

API_KEY = "sk-test-3b1f0c9e"  # a throwaway key for the loopback server
ALIAS = "qwen-served"
THREADS = os.cpu_count() or 1
CODE_WORD = [
    {"role": "system", "content": "Answer in one short sentence using only the context."},
    {"role": "user", "content": "Context: the code word for the fire drill is heron.\n\nQuestion: what is the code word?"},
]


@pytest.fixture(scope="module")
def served_url(assembled_model: Path) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the default model, on loopback, with an API key."""
    with llama_cpp_server(assembled_model, API_KEY, ALIAS) as url:
        yield url


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The API key in a file, as a Docker secret would hold it."""
    path = tmp_path_factory.mktemp("secrets") / "llm_api_key"
    path.write_text(API_KEY + "\n")
    return path


@pytest.fixture(scope="module")
def tiny_ggml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A legacy GGML GPT-2 file with random weights, built by the test."""
    return write_tiny_gpt2(tmp_path_factory.mktemp("ggml") / "tiny-gpt2.ggml.bin")


def make_generator(kind: str, request: pytest.FixtureRequest) -> Generator:
    """The adapter under test, built by the composition root from settings, as a deployment builds it."""
    if kind == "llama_cpp":
        model = request.getfixturevalue("assembled_model")
        g = {"model_path": str(model), "model_sha256": bundled_model(DEFAULT_MODEL_NAME).sha256, "model_name": DEFAULT_MODEL_NAME}
    elif kind == "openai":
        g = {"url": request.getfixturevalue("served_url"), "model": ALIAS, "api_key_file": str(request.getfixturevalue("key_file"))}
    else:
        pytest.importorskip("ctransformers", reason="optional backend: pip install 'enclave[ctransformers]'")
        path = request.getfixturevalue("tiny_ggml")
        g = {"model_path": str(path), "model_sha256": file_sha256(path), "model_type": "gpt2", "n_ctx": 256}
    return build_generator(Settings(generator={"backend": kind, "n_ctx": 4096, "n_threads": THREADS, **g}))


KINDS = ["llama_cpp", "openai", "ctransformers"]


@pytest.fixture(params=KINDS, scope="module")
def generator(request: pytest.FixtureRequest) -> Generator:
    """Each adapter once per module, warmed up."""
    gen = make_generator(request.param, request)
    gen.warm_up()
    return gen


def run(gen: Generator, messages: list[Message], max_tokens: int) -> list[str]:
    """All pieces of one streamed reply."""
    return list(gen.stream(messages, max_tokens))


def test_identity_and_context(generator: Generator) -> None:
    assert generator.model_name and generator.model_name != "unknown"
    assert generator.context_window > 0
    assert generator.model_sha256 == "" or len(generator.model_sha256) == 64


def test_token_counts_grow_with_text(generator: Generator) -> None:
    short = generator.count_tokens("Hello world")
    assert 0 < short < generator.count_tokens("Hello world, the leave policy gives 28 days. " * 10)


def test_streams_text_pieces_within_the_token_limit(generator: Generator) -> None:
    pieces = run(generator, CODE_WORD, max_tokens=12)  # type: ignore[arg-type]
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces).strip()
    assert len(pieces) <= 12


def test_same_question_same_answer(generator: Generator) -> None:
    assert run(generator, CODE_WORD, 16) == run(generator, CODE_WORD, 16)  # type: ignore[arg-type]


def test_real_models_answer_from_the_context(generator: Generator) -> None:
    if generator.model_sha256 and generator.model_sha256 != bundled_model(DEFAULT_MODEL_NAME).sha256:
        pytest.skip("the ctransformers test model has random weights: it loads and generates, it cannot answer")
    assert "heron" in "".join(run(generator, CODE_WORD, 24)).lower()  # type: ignore[arg-type]


def test_http_identity_comes_from_the_server(served_url: str, key_file: Path) -> None:
    gen = OpenAIHttpGenerator(served_url, model="", api_key_file=str(key_file))  # no model named in settings
    gen.warm_up()
    assert gen.model_name == ALIAS  # learned from GET /models, then from each streamed chunk
    run(gen, CODE_WORD, 4)  # type: ignore[arg-type]
    assert gen.model_name == ALIAS


def test_http_and_in_process_write_the_same_answer(request: pytest.FixtureRequest) -> None:
    """Same GGUF, same template, greedy decoding: the transport must not change the words."""
    local, http = make_generator("llama_cpp", request), make_generator("openai", request)
    assert "".join(run(http, CODE_WORD, 24)) == "".join(run(local, CODE_WORD, 24))  # type: ignore[arg-type]


def test_http_wrong_key_is_refused_without_echoing_it(served_url: str, tmp_path: Path) -> None:
    wrong = tmp_path / "key"
    wrong.write_text("sk-wrong-key-123")
    gen = OpenAIHttpGenerator(served_url, api_key_file=str(wrong))
    with pytest.raises(GenerationFailed) as info:
        gen.warm_up()
    assert "API key" in str(info.value) and info.value.hint
    assert "sk-wrong-key-123" not in str(info.value) + info.value.hint


def test_ctransformers_refuses_a_current_gguf(assembled_model: Path) -> None:
    pytest.importorskip("ctransformers", reason="optional backend: pip install 'enclave[ctransformers]'")
    from rag.generators.ctransformers_backend import CTransformersGenerator

    gen = CTransformersGenerator(assembled_model, bundled_model(DEFAULT_MODEL_NAME).sha256, "llama")
    with pytest.raises(ModelRejected) as info:
        gen.warm_up()
    assert "llama_cpp" in info.value.hint


def test_ctransformers_verifies_the_file_before_loading(tiny_ggml: Path) -> None:
    pytest.importorskip("ctransformers", reason="optional backend: pip install 'enclave[ctransformers]'")
    from rag.generators.ctransformers_backend import CTransformersGenerator

    with pytest.raises(ModelRejected):
        CTransformersGenerator(tiny_ggml, "0" * 64, "gpt2").warm_up()
