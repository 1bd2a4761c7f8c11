"""Issue 2 ingest guarantees through the real CLI: per-file errors, no-op re-ingest, replacement, trust checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import corpus


def enclave(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run the real `enclave` command with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "enclave", *args],
        capture_output=True, text=True, timeout=timeout, check=False, env={**os.environ, **(env or {})},
    )


def ingest_json(folder: Path) -> dict:
    """`enclave ingest FOLDER --json`, parsed."""
    result = enclave("ingest", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def status_json() -> dict:
    """`enclave status --json`, parsed."""
    result = enclave("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bad_files_are_reported_and_the_rest_ingested(home: Path, tmp_path: Path) -> None:
    """A corrupt, an empty and an unsupported file each get one error line; good files go in."""
    docs = tmp_path / "docs"
    corpus.write_markdown(docs / "guide.md", "Guide", ["The server room code is changed every quarter."])
    corpus.write_docx(docs / "memo.docx", "Memo", ["The board meets on the first Tuesday of each month."])
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(300))
    (docs / "empty.txt").write_bytes(b"")
    (docs / "tool.exe").write_bytes(b"MZ\x90\x00" + os.urandom(64))
    report = ingest_json(docs)
    assert sorted(report["ingested"]) == ["docs/guide.md", "docs/memo.docx"]
    failures = {f["source"]: f for f in report["failed"]}
    assert set(failures) == {"docs/broken.pdf", "docs/empty.txt", "docs/tool.exe"}
    assert all(f["message"] and f["code"] for f in failures.values())

    human = enclave("ingest", str(docs))  # a rerun: failures stay listed for the operator
    assert human.returncode == 0, human.stderr
    status = status_json()
    assert status["documents"] == 2 and status["failed_files"] == 3


def test_unchanged_reingest_embeds_nothing_and_change_replaces_chunks(home: Path, tmp_path: Path) -> None:
    """Re-ingesting unchanged files computes zero embeddings; a changed file's old chunks leave the index."""
    docs = tmp_path / "docs"
    long_text = [f"Section {i}: the procedure for case {i} requires form F-{i} to be filed." for i in range(60)]
    corpus.write_markdown(docs / "procedures.md", "Procedures", long_text)
    corpus.write_markdown(docs / "other.md", "Other", ["Visitors sign in at reception."])
    first = ingest_json(docs)
    assert first["embeddings"] == first["chunks_written"] > 2

    again = ingest_json(docs)
    assert again["embeddings"] == 0 and again["chunks_written"] == 0 and again["chunks_deleted"] == 0
    assert again["unchanged"] == 2

    corpus.write_markdown(docs / "procedures.md", "Procedures", long_text[:10])
    changed = ingest_json(docs)
    assert changed["changed"] == ["docs/procedures.md"]
    status = status_json()
    other_chunks = 1
    assert status["chunks"] == changed["chunks_written"] + other_chunks  # no duplicates, no stale chunks
    assert status["documents"] == 2


def test_model_with_wrong_sha256_is_refused(home: Path, tmp_path: Path, assembled_model: Path) -> None:
    """A GGUF whose bytes do not match the configured sha256 is never loaded."""
    docs = tmp_path / "docs"
    corpus.write_markdown(docs / "a.md", "A", ["The archive is kept for ten years."])
    ingest_json(docs)
    tampered = tmp_path / "tampered.gguf"
    shutil.copyfile(assembled_model, tampered)
    with open(tampered, "r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    from enclave.settings import DEFAULT_MODEL_NAME
    from rag.models import bundled_model

    result = enclave(
        "ask", "How long is the archive kept?",
        env={"ENCLAVE_GENERATOR__MODEL_PATH": str(tampered), "ENCLAVE_GENERATOR__MODEL_SHA256": bundled_model(DEFAULT_MODEL_NAME).sha256},
    )
    assert result.returncode == 1
    assert "refusing to load" in result.stderr and bundled_model(DEFAULT_MODEL_NAME).sha256 in result.stderr
    assert "Traceback" not in result.stderr


def test_index_built_by_another_embedder_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    """Changing the embedding model under an existing index stops with a message, not nonsense results."""
    docs = tmp_path / "docs"
    corpus.write_markdown(docs / "a.md", "A", ["The archive is kept for ten years."])
    ingest_json(docs)
    result = enclave("status", env={"ENCLAVE_EMBEDDING__MODEL_ID": "intfloat/e5-small-v2"})
    assert result.returncode == 1
    assert "all-MiniLM-L6-v2" in result.stderr and "e5-small-v2" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_readme_commands_work_with_the_default_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, assembled_model: Path
) -> None:
    """`enclave ingest ./docs` then `enclave ask`, run from a site folder without ENCLAVE_HOME, as the README says.

    The state then lives in the relative default `./.enclave`. The parse child changes into its own temp folder,
    so any path it is handed relative to the caller's folder would point nowhere (every file used to be skipped
    as "the parser process exited while starting").
    """
    from tests.sync_support import install_home

    site = tmp_path / "site"
    install_home(monkeypatch, site / ".enclave", assembled_model, user="tester")
    corpus.write_markdown(site / "docs" / "dock.md", "Loading dock", ["The loading dock closes at 18:30 on weekdays."])
    env = {k: v for k, v in os.environ.items() if k not in ("ENCLAVE_HOME", "ENCLAVE_CONFIG")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "enclave", *args],
            capture_output=True, text=True, timeout=600, check=False, env=env, cwd=site,
        )

    ingested = run("ingest", "./docs", "--json")
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    report = json.loads(ingested.stdout)
    assert report["ingested"] == ["docs/dock.md"] and report["failed"] == [], report
    asked = run("ask", "--json", "When does the loading dock close?")
    assert asked.returncode == 0, asked.stderr[-3000:]
    answer = json.loads(asked.stdout)
    assert answer["found"] and answer["citations"][0]["source"] == "docs/dock.md", answer


def test_the_bundled_parts_are_found_without_running_their_code() -> None:
    """Each bundled model's parts are on disk in order and add up to its size; no part package is imported."""
    from typing import get_args

    from enclave.settings import DEFAULT_MODEL_NAME, BundledModelName
    from rag.models import BUNDLED_MODELS, part_files

    # The setting's allowed names are written out in settings (kept free of rag imports): they must be the catalogue's.
    assert get_args(BundledModelName) == tuple(BUNDLED_MODELS) and DEFAULT_MODEL_NAME in BUNDLED_MODELS
    for model in BUNDLED_MODELS.values():
        files = part_files(model)
        assert [f.name for f in files] == [f"part{n:02}.bin" for n in range(1, len(model.packages) + 1)]
        assert sum(f.stat().st_size for f in files) == model.size, model.name
        assert not [p for p in model.packages if p in sys.modules], "a part package's code was run"


def test_setup_assembles_the_chosen_bundled_model_and_ask_uses_it(tmp_path: Path) -> None:
    """`generator.bundled_model` picks the small model: setup assembles and verifies it, and answers name it."""
    from rag.models import QWEN_CODER_0_5B

    env = {"ENCLAVE_HOME": str(tmp_path / "home"), "ENCLAVE_GENERATOR__BUNDLED_MODEL": QWEN_CODER_0_5B.name}
    refused = enclave("setup", env={**env, "ENCLAVE_GENERATOR__BUNDLED_MODEL": "gpt-4"})
    assert refused.returncode == 1 and "setting generator.bundled_model" in refused.stderr, refused.stderr
    done = enclave("setup", env=env)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (tmp_path / "home" / "models").glob("*.gguf")] == [f"{QWEN_CODER_0_5B.name}.gguf"]
    corpus.write_markdown(tmp_path / "docs" / "dock.md", "Loading dock", ["The loading dock closes at 18:30 on weekdays."])
    assert enclave("ingest", str(tmp_path / "docs"), env=env).returncode == 0
    asked = enclave("ask", "--json", "When does the loading dock close?", env=env)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["model"] == QWEN_CODER_0_5B.name and answer["found"] and "18:30" in answer["answer"], answer


def test_a_bad_setting_is_named_without_a_traceback(home: Path) -> None:
    """A value that does not fit a setting (from enclave.toml or ENCLAVE_*) is one readable error, exit 1."""
    result = enclave("status", env={"ENCLAVE_RETRIEVAL__TOP_K": "six"})
    assert result.returncode == 1, result.stderr
    assert "setting retrieval.top_k: Input should be a valid integer" in result.stderr and "'six'" in result.stderr
    assert "Traceback" not in result.stderr and "next step" in result.stderr
