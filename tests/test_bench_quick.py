"""The benchmark suite runs end to end in --quick mode, so it cannot rot. It asserts no timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_ocr import NEEDS_OCR

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_runs_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        check=False, capture_output=True, text=True, timeout=1800, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    results = json.loads(out.read_text())
    stages = results["stages"]
    expected = {"ingest", "embed", "query 1k", "generate", "peer enclave", "peer llama-index", "ask"}
    assert expected <= set(stages)
    assert not [k for k, v in stages.items() if "error" in v]
    assert stages["ingest"]["chunks"] > 0 and stages["ingest"]["failed_or_skipped"] == 0
    # the production job: files parsed in sandboxed children, whose CPU time is counted
    assert stages["ingest"]["parse_workers"] >= 1 and stages["ingest"]["parse_cpu_s"] > 0
    assert stages["embed"]["mean_cosine_to_fp32"] > 0.99
    ceiling = stages["embed"]["fp32_ceiling"]  # reported, not judged: a ratio of two timings
    assert ceiling["model_gflop"] > 0 and ceiling["baseline_share_of_matmul_rate"] > 0 and ceiling["threads"] >= 1
    shaped = stages["embed"]["ingest_shaped"]
    assert shaped["chunks"] >= stages["embed"]["texts"] and shaped["calls"] >= 1 and shaped["speedup"] > 0
    for row in stages["generate"]["sizes"].values():  # both sides measured in one process, and compared
        assert row["enclave"]["generated_pieces"] >= 1 and row["raw"]["generated_pieces"] >= 1
        assert row["enclave"]["ttft_cached_prefix_s"] > 0 and "decode_overhead_pct" in row
    assert stages["peer enclave"]["docs"] == stages["peer llama-index"]["docs"]
    assert stages["ask"]["exit_code"] == 0 and stages["ask"]["peak_rss_mib"] > 0
    assert "| Ingest (`enclave ingest`) |" in proc.stdout and "| Peer baseline |" in proc.stdout and "| Enclave overhead |" in proc.stdout
    from enclave.settings import load_settings

    model_id = load_settings(home=tmp_path / "home").embedding.model_id  # each stage names the embedder it measured
    assert stages["embed"]["embedder"] == model_id and stages["ingest"]["embedder"].startswith(model_id)
    assert stages["peer enclave"]["embedder"].startswith(model_id) and stages["peer llama-index"]["embedder"].startswith(model_id)


def test_bench_update_measures_only_the_named_stages_and_keeps_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    earlier = {"exit_code": 0, "peak_rss_mib": 900.0, "wall_s": 12.0}
    out.write_text(json.dumps({"machine": {"time_utc": "2026-01-02T03:04:05Z"}, "mode": "quick", "stages": {"ask": earlier}}))
    run = [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "query", "--update", "--out", str(out)]
    proc = subprocess.run(run, check=False, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    stages = json.loads(out.read_text())["stages"]
    assert stages["ask"] == earlier | {"measured_utc": "2026-01-02T03:04:05Z"}  # kept, and says when it was measured
    assert stages["query 1k"]["measured_utc"] > "2026-01-02" and stages["query 1k"]["edge"]["p50_ms"] > 0
    assert "Stages measured at different times" in proc.stdout
    refused = subprocess.run(run[:3] + ["--update", "--out", str(out)], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode == 2 and "--update needs --only" in refused.stderr
    out.write_text(json.dumps({"machine": {"time_utc": "x"}, "mode": "full", "stages": {}}))
    mixed = subprocess.run(run, check=False, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert mixed.returncode != 0 and "holds a full run" in mixed.stderr


def test_text_checks_bench_compares_both_checks_on_the_same_files(tmp_path: Path) -> None:
    from tests.corpus import write_docx, write_markdown

    docs = tmp_path / "docs"
    write_docx(docs / "rota.docx", "Night rota", ["Swaps are agreed with the duty manager. Requests close on Thursday."])
    write_markdown(docs / "notes.md", "Ward notes", ["Visiting hours end at eight.", "Quiet hours"])
    (docs / "empty.txt").write_text("")
    out = tmp_path / "checks.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_text_checks.py"), "--docs", str(docs), "--json", str(out)],
        check=False, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    total = json.loads(out.read_text())["total"]
    assert total["files"] == 3 and total["parsed"] == 2  # the empty file is reported, not compared
    assert total["elements"] == total["identical"] >= 5 and total["title_changes"] == 0
    assert total["own_s"] > 0 and total["light_s"] > 0
    assert "| **all 3 files (2 parsed)** |" in proc.stdout


@NEEDS_OCR
def test_ocr_bench_compares_both_agents_on_the_files_that_need_ocr(tmp_path: Path) -> None:
    from tests.corpus import write_markdown, write_pdf
    from tests.test_ocr import SCAN_TEXT, _render

    docs = tmp_path / "docs"
    write_pdf(docs / "typed.pdf", ["The canteen opens at seven. Breakfast is served until ten."])  # has a text layer
    _render(SCAN_TEXT).save(docs / "scan.png")
    write_markdown(docs / "notes.md", "Ward notes", ["Visiting hours end at eight."])  # neither image nor PDF
    out = tmp_path / "ocr.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_ocr.py"), "--docs", str(docs), "--json", str(out)],
        check=False, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    result = json.loads(out.read_text())
    total = result["total"]
    assert total["files"] == 2 and total["ocr_files"] == total["identical"] == 1
    assert (total["unstructured_runs"], total["enclave_runs"]) == (2, 1)
    assert [Path(r["file"]).name for r in result["files"] if not r["ocr"]] == ["typed.pdf"]
    assert "| **1 of 2 files read by OCR** |" in proc.stdout


def test_parse_workers_bench_runs_the_ingest_job_both_ways_on_the_same_files(tmp_path: Path) -> None:
    from tests.corpus import write_docx, write_markdown

    docs = tmp_path / "docs"
    write_docx(docs / "rota.docx", "Night rota", ["Swaps are agreed with the duty manager."])
    write_markdown(docs / "dock.md", "Dock", ["The loading dock closes at 5 pm."])
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\nnot a PDF body\n")
    out = tmp_path / "workers.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_parse_workers.py"), "--docs", str(docs), "--workers", "0,2", "--json", str(out)],
        check=False, capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    runs = json.loads(out.read_text())["runs"]
    assert [r["workers"] for r in runs] == [0, 2]
    assert all(r["ingested"] == ["docs/dock.md", "docs/rota.docx"] and len(r["failed"]) == 1 for r in runs)
    assert runs[0]["chunks"] == runs[1]["chunks"] > 0
    assert "| 2 |" in proc.stdout and "× |" in proc.stdout


def test_models_bench_asks_both_sets_through_the_answer_path(tmp_path: Path) -> None:
    """bench/bench_models.py --quick: a bundled model set up, policy and SQuAD questions answered and scored."""
    from tests.test_eval_qa import SQUAD

    out, squad = tmp_path / "models.json", tmp_path / "squad.json"
    squad.write_text(json.dumps(SQUAD))  # the shared SQuAD sample may not be beside a CI checkout
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_models.py"), "--quick", "--squad", str(squad), "--out", str(out)],
        check=False, capture_output=True, text=True, timeout=1800, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    (row,) = json.loads(out.read_text())["models"]
    assert row["policy_qa"]["questions"] == 2 and row["policy_qa"]["first_citation_expected"] > 0
    assert row["squad"]["questions"] == 2 and row["squad"]["seconds_per_question"] > 0
    assert f"| {row['model']} |" in proc.stdout
    # Every question's row is kept, so a later run can be paired with this one question by question.
    assert [r["id"] for r in row["squad"]["items"]] == [q["id"] for p in SQUAD["data"][0]["paragraphs"] for q in p["qas"]]
    assert len(row["policy_qa"]["items"]) == 2
    from bench.bench_models import paired

    assert paired(row["squad"], row["squad"], "f1") == "+0.000 (+0.000 … +0.000), 2 q"
    assert paired(row["squad"], {"items": []}, "f1") == "no shared questions"
