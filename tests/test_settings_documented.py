"""Every setting is documented in the README (a setting nobody can find is a setting nobody sets safely)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from enclave.settings import Settings


def setting_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of every leaf setting."""
    paths = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths.extend(setting_paths(annotation, f"{prefix}{name}."))
        else:
            paths.append(prefix + name)
    return paths


def test_every_setting_is_in_the_readme() -> None:
    """The README's settings table names each setting with its environment variable."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    missing = [p for p in setting_paths(Settings) if f"`{p}`" not in readme]
    assert not missing, f"undocumented settings: {missing}"
    missing_env = [p for p in setting_paths(Settings) if f"ENCLAVE_{p.upper().replace('.', '__')}" not in readme]
    assert not missing_env, f"undocumented environment variables: {missing_env}"
