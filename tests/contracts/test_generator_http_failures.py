"""The HTTP generator against servers that are down, slow, speak garbage or drop the stream: clear errors, audited."""

from __future__ import annotations

import http.server
import json
import time
from pathlib import Path

import pytest

from enclave.settings import Settings, load_settings
from enclave.wiring import build_generator, open_audit_log
from policies.audit import AuditLog
from rag.errors import GenerationFailed
from rag.generators.audited import AuditedGenerator
from rag.generators.openai_http import OpenAIHttpGenerator
from tests.contracts.servers import free_port, reply, tiny_server

SECRET = "sk-very-secret-0042"
MESSAGES = [{"role": "user", "content": "hello"}]
MODELS = json.dumps({"object": "list", "data": [{"id": "served-model", "object": "model"}]}).encode()


def chunk(text: str) -> bytes:
    """One server-sent event with a content delta."""
    body = {"id": "1", "object": "chat.completion.chunk", "model": "served-model", "choices": [{"index": 0, "delta": {"content": text}}]}
    return f"data: {json.dumps(body)}\n\n".encode()


def streaming(events: list[bytes], pause_s: float = 0.0):  # type: ignore[no-untyped-def]
    """A handler: the model list on GET, `events` as an event stream on POST (with an optional stall first)."""

    def handle(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.command == "GET":
            return reply(h, 200, MODELS)
        if "tokenize" in h.path:
            return reply(h, 404, b"{}")
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        time.sleep(pause_s)
        for event in events:
            h.wfile.write(event)
            h.wfile.flush()

    return handle


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """A secret file the adapter reads when connecting."""
    path = tmp_path / "llm_api_key"
    path.write_text(SECRET)
    return path


def failure(gen: OpenAIHttpGenerator) -> GenerationFailed:
    """The error a whole question would end with."""
    with pytest.raises(GenerationFailed) as info:
        gen.warm_up()
        "".join(gen.stream(MESSAGES, 8))  # type: ignore[arg-type]
    exc = info.value
    assert exc.hint, "every failure tells the operator what to do next"
    assert SECRET not in str(exc) + exc.hint
    return exc


def test_a_working_stream_sends_the_key_and_reports_the_served_model(key_file: Path) -> None:
    with tiny_server(streaming([chunk("Hel"), chunk("lo"), b"data: [DONE]\n\n"])) as (url, seen):
        gen = OpenAIHttpGenerator(url, api_key_file=str(key_file))
        assert "".join(gen.stream(MESSAGES, 8)) == "Hello"  # type: ignore[arg-type]
        assert gen.model_name == "served-model"
        assert all(h.get("Authorization") == f"Bearer {SECRET}" for h in seen)
        assert gen.count_tokens("x" * 40) == 20  # no tokenize route: the generous estimate


def test_server_down(key_file: Path) -> None:
    exc = failure(OpenAIHttpGenerator(f"http://127.0.0.1:{free_port()}/v1", api_key_file=str(key_file)))
    assert "cannot reach" in str(exc) and "127.0.0.1" in str(exc)


def test_server_too_slow(key_file: Path) -> None:
    with tiny_server(streaming([chunk("late"), b"data: [DONE]\n\n"], pause_s=3)) as (url, _):
        gen = OpenAIHttpGenerator(url, api_key_file=str(key_file), timeout_s=0.5)
        exc = failure(gen)
    assert "did not answer within 0.5 s" in str(exc) and "timeout_s" in exc.hint


def test_server_answers_html(key_file: Path) -> None:
    with tiny_server(lambda h: reply(h, 200, b"<html>It works!</html>", "text/html")) as (url, _):
        exc = failure(OpenAIHttpGenerator(url, api_key_file=str(key_file)))
    assert "does not speak the OpenAI chat API" in str(exc)


def test_stream_of_garbage(key_file: Path) -> None:
    with tiny_server(streaming([b"data: {not json\n\n"])) as (url, _):
        exc = failure(OpenAIHttpGenerator(url, api_key_file=str(key_file)))
    assert "not an OpenAI chat chunk" in str(exc)


def test_stream_cut_short(key_file: Path) -> None:
    with tiny_server(streaming([chunk("half an ans")])) as (url, _):
        exc = failure(OpenAIHttpGenerator(url, api_key_file=str(key_file)))
    assert "ended the answer stream early" in str(exc)


def test_server_error_status(key_file: Path) -> None:
    def handle(h: http.server.BaseHTTPRequestHandler) -> None:
        reply(h, 200, MODELS) if h.command == "GET" else reply(h, 500, b'{"error": "context overflow"}')

    with tiny_server(handle) as (url, _):
        exc = failure(OpenAIHttpGenerator(url, api_key_file=str(key_file)))
    assert "HTTP 500" in str(exc) and "context overflow" in str(exc)


def test_refused_key_is_not_echoed(key_file: Path) -> None:
    with tiny_server(lambda h: reply(h, 401, json.dumps({"error": "bad key"}).encode())) as (url, _):
        exc = failure(OpenAIHttpGenerator(url, api_key_file=str(key_file)))
    assert "refused the API key" in str(exc)


def test_missing_key_file_names_the_file_not_a_key(tmp_path: Path) -> None:
    with tiny_server(streaming([])) as (url, _):
        exc = failure(OpenAIHttpGenerator(url, api_key_file=str(tmp_path / "absent")))
    assert "absent" in str(exc) and "api_key_file" in exc.hint


def test_empty_url_is_an_error_not_a_cloud_default() -> None:
    assert Settings().generator.url == ""
    with pytest.raises(GenerationFailed) as info:
        build_generator(Settings(generator={"backend": "openai"}))
    assert "generator.url is empty" in str(info.value) and "no default" in info.value.hint


def test_failure_is_in_the_audit_log_without_the_key(home: Path, key_file: Path) -> None:
    settings = load_settings(home=home)
    audit: AuditLog = open_audit_log(settings)
    gen = AuditedGenerator(
        OpenAIHttpGenerator(f"http://127.0.0.1:{free_port()}/v1", api_key_file=str(key_file)), audit, "openai"
    )
    with pytest.raises(GenerationFailed):
        gen.warm_up()
    records = list(audit.records())
    last = records[-1]
    assert last["kind"] == "answer" and last["details"]["found"] is False and last["details"]["backend"] == "openai"
    assert "cannot reach the model server" in last["details"]["error"]
    assert SECRET not in audit.path.read_text()
    assert audit.verify().ok
