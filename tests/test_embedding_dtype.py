"""embedding.dtype "auto": bf16 only where the CPU computes in bf16, unit vectors either way, and the eval index keyed by it."""

from __future__ import annotations

from pathlib import Path

import pytest

TEXTS = [
    "Basaltic lava flows from shield volcanoes in Hawaii cool into black rock.",
    "Sourdough bread rises because wild yeast and lactobacilli ferment the dough.",
    "The Sicilian Defence is a chess opening that answers 1.e4 with c5. " * 12,  # past one short batch
]


def cpuinfo(tmp_path: Path, flags: str) -> Path:
    """A /proc/cpuinfo of two processors with these flags."""
    block = f"processor\t: {{n}}\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx2 fma {flags}\n\n"
    path = tmp_path / "cpuinfo"
    path.write_text(block.format(n=0) + block.format(n=1))
    return path


@pytest.mark.parametrize(
    ("flags", "native"),
    [("avx512f avx512_bf16", True), ("amx_tile amx_bf16 amx_int8", True), ("avx512f avx512_vnni", False), ("", False)],
)
def test_native_bf16_reads_the_cpu_flags(tmp_path: Path, flags: str, native: bool) -> None:
    from ingest.embed import native_bf16

    assert native_bf16(cpuinfo(tmp_path, flags)) is native


def test_unknown_cpu_is_not_native_bf16(tmp_path: Path) -> None:
    """No cpuinfo (another OS, a locked-down container) or no flags line: fp32, never the emulated slow path."""
    from ingest.embed import native_bf16

    assert native_bf16(tmp_path / "missing") is False
    (tmp_path / "noflags").write_text("processor\t: 0\nmodel name\t: something\n")
    assert native_bf16(tmp_path / "noflags") is False


def test_auto_follows_this_cpu_and_explicit_dtypes_stay(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import ingest.embed as embed
    from enclave.settings import Settings

    assert Settings().embedding.dtype == "auto"
    assert embed.resolve_dtype("auto") == ("bfloat16" if embed.native_bf16() else "float32")
    monkeypatch.setattr(embed, "native_bf16", lambda: False)
    assert embed.resolve_dtype("auto") == "float32"
    assert embed.resolve_dtype("bfloat16") == "bfloat16"
    monkeypatch.setattr(embed, "native_bf16", lambda: True)
    assert embed.resolve_dtype("auto") == "bfloat16"
    assert embed.resolve_dtype("float32") == "float32"
    assert embed.SentenceTransformerEmbedder("m", tmp_path, dtype="auto").dtype == "bfloat16"


def test_bf16_vectors_are_unit_length_and_close_to_fp32() -> None:
    """Normalised after the cast to float32: a bf16 vector is as unit-length as an fp32 one, and points the same way."""
    import numpy as np

    from ingest.embed import SentenceTransformerEmbedder
    from ingest.embed_models import bundled_minilm_path

    path = bundled_minilm_path()
    fp32 = np.asarray(SentenceTransformerEmbedder("m", path, dtype="float32").embed_documents(TEXTS))
    bf16 = np.asarray(SentenceTransformerEmbedder("m", path, dtype="bfloat16").embed_documents(TEXTS))
    assert fp32.dtype == bf16.dtype == np.float64  # lists of Python floats, from float32 arrays
    for vectors in (fp32, bf16):
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert not np.array_equal(fp32, bf16)  # really computed in bf16
    assert float(np.min(np.sum(fp32 * bf16, axis=1))) > 0.99


def test_eval_index_is_keyed_by_the_resolved_dtype(home: Path) -> None:
    """"auto" shares its scratch index with the dtype it resolves to; another dtype gets its own."""
    from enclave.eval_wiring import scratch_settings
    from enclave.settings import load_settings
    from ingest.embed import resolve_dtype
    from rag.eval.scratch import EvalDoc

    docs = [EvalDoc(doc_id="d1", title="Tides", text="Ocean tides are raised mainly by the Moon.")]
    settings = load_settings(home=home)

    def with_dtype(dtype: str) -> object:
        return scratch_settings(settings.model_copy(update={"embedding": settings.embedding.model_copy(update={"dtype": dtype})}), docs)

    auto, resolved = with_dtype("auto"), resolve_dtype("auto")
    assert auto.embedding.dtype == resolved
    assert auto.home == with_dtype(resolved).home
    other = "float32" if resolved == "bfloat16" else "bfloat16"
    assert with_dtype(other).home != auto.home
