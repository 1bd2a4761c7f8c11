"""Shared fixtures: an isolated ENCLAVE_HOME with the real model, and a blocked network."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from enclave.settings import DEFAULT_MODEL_NAME, Settings, load_settings


@pytest.fixture(scope="session")
def assembled_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled default model, assembled once per test session and sha256-verified."""
    from rag.models import assemble_bundled_model, bundled_model

    target = tmp_path_factory.mktemp("models") / f"{DEFAULT_MODEL_NAME}.gguf"
    return assemble_bundled_model(bundled_model(DEFAULT_MODEL_NAME), target)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, assembled_model: Path) -> Path:
    """A fresh ENCLAVE_HOME with the model in place (hard link) and the default policy for 'tester'."""
    from tests.sync_support import install_home

    install_home(monkeypatch, tmp_path / "home", assembled_model, user="tester")
    return tmp_path / "home"


@pytest.fixture
def settings(home: Path) -> Settings:
    """Settings for the test's ENCLAVE_HOME."""
    return load_settings(home=home)


class NetworkBlocked(RuntimeError):
    """Raised when code under test tries to open a network connection."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every outbound connection and name lookup fails (and is recorded); loopback-free by design."""
    attempts: list[str] = []

    def refuse_connect(self: socket.socket, address: object) -> None:
        attempts.append(f"connect {address!r}")
        raise NetworkBlocked(f"network blocked in test: connect {address!r}")

    def refuse_lookup(host: object, *args: object, **kwargs: object) -> None:
        attempts.append(f"getaddrinfo {host!r}")
        raise NetworkBlocked(f"network blocked in test: getaddrinfo {host!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse_connect(None, a[0] if a else None))  # type: ignore[arg-type]
    yield attempts


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """The failing tests' names once more, last and one per line: under CI pytest prints each failure's
    whole message in the short summary, and a log read from its tail would show only the last one."""
    yield  # after pytest's own summary
    failed = [r.nodeid for key in ("failed", "error") for r in terminalreporter.stats.get(key, [])]
    if failed:
        terminalreporter.write_sep("=", f"{len(failed)} failing")
        for nodeid in failed:
            terminalreporter.write_line(nodeid)
