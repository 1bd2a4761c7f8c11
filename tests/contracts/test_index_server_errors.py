"""The Qdrant server adapter against real loopback HTTP servers: key from a file, clear errors, no secret leaks."""

from __future__ import annotations

import http.server
import json
import logging
from pathlib import Path

import pytest

from enclave.settings import Settings
from ingest.index.server import IndexUnavailable, QdrantServerIndex
from ingest.schema import SCHEMA_VERSION, IndexMeta
from tests.contracts.servers import free_port, reply, tiny_server

SECRET = "qdrant-key-7f3a9c"
META = IndexMeta(schema_version=SCHEMA_VERSION, embedding_model="sentence-transformers/all-MiniLM-L6-v2", embedding_dim=384)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """The key as a Docker secret holds it."""
    path = tmp_path / "qdrant_api_key"
    path.write_text(SECRET + "\n")
    return path


def failure(index: QdrantServerIndex, caplog: pytest.LogCaptureFixture) -> IndexUnavailable:
    """Opening fails with a hint, and neither the error nor any log line carries the key."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(IndexUnavailable) as info:
        index.ensure(META)
    exc = info.value
    assert exc.hint
    assert SECRET not in str(exc) + exc.hint + caplog.text
    assert exc.__cause__ is None or SECRET not in repr(exc.__cause__)
    return exc


def test_the_key_is_sent_from_the_file_and_a_refusal_is_clear(key_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    with tiny_server(lambda h: reply(h, 401, json.dumps({"status": "Unauthorized"}).encode())) as (url, seen):
        exc = failure(QdrantServerIndex("enclave", url=url.removesuffix("/v1"), api_key_file=str(key_file)), caplog)
    assert "refused the API key" in str(exc) and "api_key_file" in exc.hint
    assert seen and all(h.get("api-key") == SECRET for h in seen)


def test_server_down(key_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    exc = failure(QdrantServerIndex("enclave", url=f"http://127.0.0.1:{free_port()}", api_key_file=str(key_file)), caplog)
    assert "cannot reach the Qdrant server" in str(exc)


def test_server_error(key_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    def handle(h: http.server.BaseHTTPRequestHandler) -> None:
        reply(h, 503, json.dumps({"status": {"error": "shard unavailable"}}).encode())

    with tiny_server(handle) as (url, _):
        exc = failure(QdrantServerIndex("enclave", url=url.removesuffix("/v1"), api_key_file=str(key_file)), caplog)
    assert "HTTP 503" in str(exc)


def test_missing_key_file_and_missing_url(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    exc = failure(QdrantServerIndex("enclave", url="http://127.0.0.1:1", api_key_file=str(tmp_path / "nope")), caplog)
    assert "nope" in str(exc)
    with pytest.raises(IndexUnavailable, match="index.url"):
        QdrantServerIndex("enclave", url="")
    with pytest.raises(IndexUnavailable, match="not an http"):
        QdrantServerIndex("enclave", url="qdrant:6333")


def test_wiring_opens_the_server_named_in_settings(key_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    """index.backend = qdrant goes to index.url with the key from index.api_key_file."""
    from enclave.wiring import build_embedder, open_index

    with tiny_server(lambda h: reply(h, 401, b"{}")) as (url, seen):
        settings = Settings(index={"backend": "qdrant", "url": url.removesuffix("/v1"), "api_key_file": str(key_file)})
        with pytest.raises(IndexUnavailable, match="refused the API key"):
            open_index(settings, build_embedder(settings))
    assert seen and seen[0].get("api-key") == SECRET
    assert SECRET not in caplog.text


def test_settings_dump_names_key_files_never_keys(key_file: Path) -> None:
    settings = Settings(
        index={"backend": "qdrant", "url": "https://qdrant:6333", "api_key_file": str(key_file)},
        generator={"backend": "openai", "url": "http://llm:8080/v1", "api_key_file": str(key_file)},
    )
    dump = json.dumps(settings.public_dump())
    assert str(key_file) in dump and SECRET not in dump
    assert SECRET not in repr(settings)
