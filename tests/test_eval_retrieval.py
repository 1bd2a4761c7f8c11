"""`enclave eval retrieval` on a tiny generated BEIR dataset: known figures, filter on = off, reuse."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

DOCS = {
    "d1": ("Volcanoes", "Basaltic lava flows from shield volcanoes in Hawaii cool into black rock."),
    "d2": ("Bread", "Sourdough bread rises because wild yeast and lactobacilli ferment the dough."),
    "d3": ("Chess", "The Sicilian Defence is a chess opening that answers 1.e4 with c5."),
    "d4": ("Glaciers", "Glaciers carve U-shaped valleys as the ice grinds the bedrock beneath."),
    "d5": ("Bees", "Honey bees communicate the direction of flowers with a waggle dance."),
    "d6": ("Tides", "Ocean tides are raised mainly by the gravitational pull of the Moon."),
}
QUERIES = {
    "q1": "How do honey bees tell each other where flowers are?",
    "q2": "What makes sourdough bread rise?",
    "q3": "Which chess opening replies to e4 with c5?",
    "q4": "What causes the tides of the ocean?",
}
# q4 also names a document that is not in the corpus: it can never be retrieved.
QRELS = [("q1", "d5", 1), ("q2", "d2", 1), ("q3", "d3", 1), ("q4", "d6", 1), ("q4", "d99", 1)]


def write_beir(root: Path) -> Path:
    """A BEIR folder with corpus.jsonl, queries.jsonl and qrels/test.tsv."""
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, (t, x) in DOCS.items()))
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in QUERIES.items()))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in QRELS))
    return root


# Every query finds its document first; q4's second relevant document is missing from the corpus.
EXPECTED = {
    "ndcg@10": (1 + 1 + 1 + 1 / (1 + 1 / math.log2(3))) / 4,
    "recall@10": (1 + 1 + 1 + 0.5) / 4,
    "recall@100": (1 + 1 + 1 + 0.5) / 4,
    "mrr@10": 1.0,
}


def test_eval_retrieval_gives_the_known_figures(home: Path, tmp_path: Path) -> None:
    from enclave.cli import app

    beir = write_beir(tmp_path / "tiny")
    result = CliRunner().invoke(app, ["eval", "retrieval", "--beir", str(beir), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    for key, value in EXPECTED.items():
        assert figures[key] == pytest.approx(value), key
    assert figures["queries"] == 4
    assert figures["config"]["policy_filter"] is True
    assert figures["config"]["ingest"]["documents"] == len(DOCS)


def test_filter_on_ranks_exactly_like_no_filter(home: Path, tmp_path: Path) -> None:
    from enclave.eval_wiring import ingest_scratch, prepare, rank_scratch
    from enclave.settings import load_settings
    from enclave.wiring import build_embedder, open_index
    from ingest.index.edge import EdgeIndex
    from ingest.schema import SCHEMA_VERSION, IndexMeta
    from rag.eval.beir import load_beir

    class Unfiltered(EdgeIndex):
        """The same store queried without the label filter."""

        def query(self, query):  # type: ignore[no-untyped-def]
            return self._search(query, None)

    settings = load_settings(home=home)
    data = load_beir(write_beir(tmp_path / "tiny"))
    scratch = prepare(settings, data.docs)
    ingest_scratch(scratch)
    filtered = rank_scratch(scratch, data.queries)
    embedder = build_embedder(scratch.settings)
    open_index(scratch.settings, embedder).close()  # checks the metadata
    raw = Unfiltered(scratch.settings.store_dir)
    raw.ensure(IndexMeta(schema_version=SCHEMA_VERSION, embedding_model=embedder.model_id, embedding_dim=embedder.dim))
    try:
        unfiltered = rank_scratch(scratch, data.queries, index=raw)
    finally:
        raw.close()
    assert filtered == unfiltered
    assert all(len(r) == len(DOCS) for r in filtered.values())


def test_scratch_index_is_reused_until_the_configuration_changes(home: Path, tmp_path: Path) -> None:
    from enclave.eval_wiring import ingest_scratch, prepare
    from enclave.settings import load_settings
    from rag.eval.beir import load_beir

    settings = load_settings(home=home)
    data = load_beir(write_beir(tmp_path / "tiny"))
    first = prepare(settings, data.docs)
    assert ingest_scratch(first) is not None
    again = prepare(settings, data.docs)
    assert again.settings.home == first.settings.home
    assert ingest_scratch(again) is None  # reused: nothing embedded
    rechunked = settings.model_copy(update={"chunking": settings.chunking.model_copy(update={"max_tokens": 64})})
    assert prepare(rechunked, data.docs).settings.home != first.settings.home


def test_missing_split_names_the_ones_present(tmp_path: Path) -> None:
    from rag.eval.beir import load_beir
    from rag.eval.errors import EvalError

    beir = write_beir(tmp_path / "tiny")
    with pytest.raises(EvalError) as info:
        load_beir(beir, split="dev")
    assert "test" in info.value.hint


def test_tuning_script_runs_and_scores_the_default(home: Path, tmp_path: Path) -> None:
    """bench/tune_retrieval.py runs end to end (so it cannot rot); its default row gives the known figures on the tiny set."""
    import subprocess
    import sys

    from ingest.embed import resolve_dtype

    root = Path(__file__).resolve().parents[1]
    beir = write_beir(tmp_path / "tiny")
    out = tmp_path / "tune.json"
    proc = subprocess.run(
        [sys.executable, str(root / "bench" / "tune_retrieval.py"), "--beir", str(beir), "--split", "test",
         "--variants", "all", "--cache", str(tmp_path / "cache"), "--versus-dtype", "float32", "--out", str(out)],
        check=False, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["variant"]: r for r in json.loads(out.read_text())["rows"]}
    assert len(rows) > 4 and "| BM25 only |" in proc.stdout
    # Each tiny document is one chunk, found first, and shorter than a window: fused per document, with the
    # top chunk fed back into the query, or with its best window, every variant of the default fusion must
    # give the same figures.
    prefixes = ("fused per document", "dense feedback", "dense at the mean of the chunk")
    same = [r for name, r in rows.items() if name.endswith("(default)") or name.startswith(prefixes)]
    assert len(same) == 8
    assert any((tmp_path / "cache").rglob("windows-64-256*.npz"))
    # --versus-dtype: the default fusion with fp32 vectors, paired against the default row (here, the same figures).
    same.append(rows["convex, min-max, w 0.7, prefetch 100, dense side in float32"])
    assert rows["dense only, dense side in float32"]["recall@100"] == pytest.approx(EXPECTED["recall@100"])
    for row in same:
        for key, value in EXPECTED.items():
            assert row[key] == pytest.approx(value), (row["variant"], key)
    # The configured embedder and dtype ("auto") name the chunks' and vectors' cache files.
    suffix = "-embeddinggemma-300m" + ("" if resolve_dtype("auto") == "float32" else "-bfloat16")
    assert (tmp_path / "cache").is_dir() and any((tmp_path / "cache").rglob(f"dense-256-embeddinggemma-300m{suffix}.npy"))
    # The tuning script's default is the product's.
    from bench.tune_retrieval import DEFAULT
    from enclave.settings import RetrievalSettings

    assert (DEFAULT.dense_weight, 1 - DEFAULT.dense_weight) == pytest.approx(
        (RetrievalSettings().dense_weight, RetrievalSettings().sparse_weight)
    )


def test_int8_probe_scores_fp32_and_int8_with_the_tuning_ranker(home: Path, tmp_path: Path) -> None:
    """bench/probe_onnx.py --beir ranks through bench/tune_retrieval.py; the fp32 side gives the known figure."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    beir = write_beir(tmp_path / "tiny")
    proc = subprocess.run(
        [sys.executable, str(root / "bench" / "probe_onnx.py"), "--beir", str(beir), "--split", "test",
         "--cache", str(tmp_path / "cache")],
        check=False, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["queries"] == 4
    for side in ("convex", "dense"):
        assert result[side]["fp32"] == pytest.approx(round(EXPECTED["ndcg@10"], 4)), side
        assert 0.0 <= result[side]["int8"] <= 1.0


@pytest.mark.parametrize(
    "probe", ["probe_sparse_feedback", "probe_bigrams", "probe_query_weights", "probe_late_windows", "probe_title_fields"]
)
def test_retrieval_probes_run_and_score_the_default(home: Path, tmp_path: Path, probe: str) -> None:
    """The issue-6 probes over the tuning cache run end to end (so they cannot rot), and each scores the default
    fusion at the known figure on the tiny set."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    beir = write_beir(tmp_path / "tiny")
    proc = subprocess.run(
        [sys.executable, str(root / "bench" / f"{probe}.py"), "--beir", str(beir), "--split", "test", "--cache", str(tmp_path / "cache")],
        check=False, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tiny test: 4 judged queries" in proc.stdout
    known = f"{EXPECTED['ndcg@10']:.4f}"
    if probe == "probe_query_weights":  # the weights' row: at 0.5, the default
        weights = next(line for line in proc.stdout.splitlines() if line.startswith("| nDCG@10 |")).split(" | ")
        assert weights[7] == known
        assert "chosen inside the folds (nested)" in proc.stdout
    else:
        assert f"| default | {known} | — |" in proc.stdout


def test_tuning_script_takes_another_dense_model(home: Path, tmp_path: Path) -> None:
    """--dense-model puts a sentence-transformers folder on the dense side, its vectors cached under its name."""
    import subprocess
    import sys

    from ingest.embed_models import bundled_minilm_path

    root = Path(__file__).resolve().parents[1]
    beir = write_beir(tmp_path / "tiny")
    model = bundled_minilm_path()
    out = tmp_path / "tune.json"
    proc = subprocess.run(
        [sys.executable, str(root / "bench" / "tune_retrieval.py"), "--beir", str(beir), "--split", "test",
         "--variants", "core", "--cache", str(tmp_path / "cache"), "--dense-model", str(model), "--out", str(out)],
        check=False, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"dense side: {model.name}" in proc.stdout
    rows = {r["variant"]: r for r in json.loads(out.read_text())["rows"]}
    default = next(name for name in rows if name.endswith("(default)"))
    for key, value in EXPECTED.items():  # the same model as the product's, loaded from its folder: the same figures
        assert rows[default][key] == pytest.approx(value), key
    # The chunks are the product's (cut with its embedder's tokenizer); only the vectors come from the folder.
    assert len(list((tmp_path / "cache").rglob(f"dense-256-embeddinggemma-300m-{model.name}-*.npy"))) == 1
    assert not any((tmp_path / "cache").rglob("dense-256-embeddinggemma-300m-embeddinggemma-300m*.npy"))  # the product's vectors


def test_dtype_comparison_scores_both_scratch_indexes_query_by_query(home: Path, tmp_path: Path) -> None:
    """bench/compare_dtypes.py ranks through the eval route in each dtype; both give the known figures."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    beir = write_beir(tmp_path / "tiny")
    proc = subprocess.run(
        [sys.executable, str(root / "bench" / "compare_dtypes.py"), "--beir", str(beir)],
        check=False, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["queries"] == 4
    ndcg = result["ndcg@10"]
    assert ndcg["bfloat16"] == pytest.approx(EXPECTED["ndcg@10"]) and ndcg["float32"] == pytest.approx(EXPECTED["ndcg@10"])
    assert ndcg["difference"] == pytest.approx(0.0) and ndcg["queries_moved"] == 0
    assert len(list((home / "eval").iterdir())) == 2  # one scratch index per dtype
    missing = subprocess.run(
        [sys.executable, str(root / "bench" / "compare_dtypes.py"), "--beir", str(tmp_path / "nowhere")],
        check=False, capture_output=True, text=True, timeout=600,
    )
    assert missing.returncode == 2 and "nowhere" in missing.stderr and "Traceback" not in missing.stderr
