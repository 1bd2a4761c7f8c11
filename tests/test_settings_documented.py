"""Every setting is documented in the README (a setting nobody can find is a setting nobody sets safely), and the
retriever's own defaults are the settings' (tests that build it directly run the product's fusion)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from enclave.settings import RetrievalSettings, Settings
from rag.answer import AnswerConfig
from rag.retrieve import RetrievalConfig


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


def test_retrieval_config_defaults_are_the_settings_defaults() -> None:
    """A Retriever built without settings fuses, prefetches and cuts exactly as `enclave ask` does by default."""
    config, settings = RetrievalConfig(), RetrievalSettings()
    for name in ("top_k", "prefetch_k", "rrf_k", "dense_weight", "sparse_weight", "fusion"):
        assert getattr(config, name) == getattr(settings, name), name


def test_answer_gate_defaults_are_the_settings_defaults() -> None:
    """An Answerer built without settings gates questions exactly as `enclave ask` does by default."""
    config, settings = AnswerConfig(), RetrievalSettings()
    for name in ("min_dense_score", "min_sparse_match", "passage_min_dense_score", "context_budget_tokens"):
        assert getattr(config, name) == getattr(settings, name), name
