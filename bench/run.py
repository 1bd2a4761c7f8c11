"""Enclave's benchmark suite: one command, a table on screen and a JSON file.

    .venv/bin/python bench/run.py            # full run (reads ../shared/data when present)
    .venv/bin/python bench/run.py --quick    # small sizes, generated data (CI)
    .venv/bin/python bench/run.py --only embed,peer --update   # measure two stages again, keep the rest of the file

Every stage runs in its own process, so each reports its own peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere

STAGES = ("ingest", "embed", "query", "generate", "peer", "ask")


def plan(
    quick: bool, large: bool, docs: str, ingest_max_mb: int, gen_sizes: str = "", peer_docs: int = 0, query_n: int = 0,
    gen_tokens: int = 0, gen_repeats: int = 0,
) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, function, params) for every child run."""
    from bench import data

    shared = data.EXAMPLE_DOCS.is_dir() and not quick
    runs: list[tuple[str, str, dict[str, Any]]] = [
        ("ingest", "bench.stages:ingest",
         {"docs": docs or (str(data.EXAMPLE_DOCS) if shared else ""), "files": 4 if quick else 8, "max_file_mb": ingest_max_mb}),
        ("embed", "bench.stages:embed", {"texts": 32 if quick else 512}),
    ]
    for size in [1_000] if quick else [10_000, *([100_000] if large else [])]:
        runs.append((f"query {size // 1000}k", "bench.stages:query", {"size": size, "queries": query_n or (20 if quick else 200)}))
    sizes = [int(x) for x in gen_sizes.split(",") if x] or ([256] if quick else [1024, 2048, 4096])
    max_tokens = gen_tokens or (16 if quick else 256)
    repeats = gen_repeats or (1 if quick else 3)
    runs.append(("generate", "bench.generation:generate", {"sizes": sizes, "max_tokens": max_tokens, "repeats": repeats}))
    peer = {"docs": peer_docs or (12 if quick else 500), "queries": 5 if quick else 100}
    runs.append(("peer enclave", "bench.peer:enclave", peer))
    runs.append(("peer llama-index", "bench.peer:llama_index", peer))
    return runs


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, float, float]:
    """Run a process; return (exit code, peak RSS in MiB, seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, time.perf_counter() - t0


def stage_child(target: str, params: dict[str, Any], result: Path) -> None:
    """Inside the child: call bench.<module>:<function>(params) and write its result."""
    import importlib

    from ingest.offline import enforce_offline_env

    enforce_offline_env()  # the peer pipeline too: no hub lookups, as on an air-gapped site
    module, function = target.split(":")
    out = getattr(importlib.import_module(module), function)(params)
    result.write_text(json.dumps(out))


def run_ask(tmp: Path) -> dict[str, Any]:
    """Peak memory and wall time of one `enclave ask` process on a small ingested home."""
    home = tmp / "askhome"
    prep = tmp / "ask_home.json"
    rc, _, _ = run_child([sys.executable, __file__, "--stage", "bench.generation:ask_home",
                          "--params", json.dumps({"home": str(home)}), "--result", str(prep)])
    if rc != 0:
        return {"error": f"preparing the home failed ({rc})"}
    info = json.loads(prep.read_text())
    env = {**os.environ, "ENCLAVE_HOME": str(home), "ENCLAVE_USER": info["user"]}
    env.pop("ENCLAVE_CONFIG", None)
    enclave = str(Path(sys.executable).with_name("enclave"))
    rc, rss, seconds = run_child([enclave, "ask", "When does the night shift end?", "--json"], env=env)
    return {"exit_code": rc, "peak_rss_mib": rss, "wall_s": seconds, "chunks": info["chunks"]}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import psutil

    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "time_utc": _now(),
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def kept_stages(previous: dict[str, Any], mode: str) -> dict[str, Any]:
    """The stages of an earlier run, each stamped with when it was measured, for `--update`."""
    if previous.get("mode") != mode:
        raise SystemExit(f"--update: the file holds a {previous.get('mode')} run, this is a {mode} run")
    stamp = previous["machine"]["time_utc"]
    return {label: {"measured_utc": stamp} | entry for label, entry in previous["stages"].items()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the suite (or one stage, inside a child)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and generated data (CI, ~3 minutes)")
    parser.add_argument("--large", action="store_true", help="also the 100k-chunk query run (client local mode: minutes)")
    parser.add_argument("--only", default="", help=f"comma-separated stages: {','.join(STAGES)}")
    parser.add_argument("--docs", default="", help="folder for the ingest stage (default: ../shared/data/example-docs)")
    parser.add_argument("--ingest-max-mb", type=int, default=200, help="files above this size are skipped (counted)")
    parser.add_argument("--gen-sizes", default="", help="prompt sizes in tokens, e.g. 1024,2048,4096")
    parser.add_argument("--gen-tokens", type=int, default=0, help="tokens generated per prompt (default 256; the decode rate is over these)")
    parser.add_argument("--gen-repeats", type=int, default=0, help="interleaved Enclave/raw turns per prompt size, medians taken (default 3)")
    parser.add_argument("--peer-docs", type=int, default=0, help="documents for the peer baseline (default 500)")
    parser.add_argument("--query-n", type=int, default=0, help="queries per size in the query stage (default 200)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"), help="where the JSON goes")
    parser.add_argument("--update", action="store_true",
                        help="with --only: keep the other stages already in --out (each stage says when it was measured)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        stage_child(args.stage, json.loads(args.params), Path(args.result))
        return 0
    from bench.report import render

    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if args.update and not only:
        parser.error("--update needs --only (the stages to measure again)")
    results: dict[str, Any] = {"machine": machine(), "mode": "quick" if args.quick else "full", "stages": {}}
    if args.update and Path(args.out).exists():
        results["stages"] = kept_stages(json.loads(Path(args.out).read_text()), results["mode"])
    failed = 0
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        runs = plan(args.quick, args.large, args.docs, args.ingest_max_mb, args.gen_sizes, args.peer_docs, args.query_n,
                    args.gen_tokens, args.gen_repeats)
        for label, target, params in runs:
            if only and label.split()[0] not in only:
                continue
            out = tmp / f"{label.replace(' ', '_')}.json"
            print(f"[bench] {label} …", file=sys.stderr, flush=True)
            rc, rss, seconds = run_child(
                [sys.executable, __file__, "--stage", target, "--params", json.dumps(params), "--result", str(out)]
            )
            entry = json.loads(out.read_text()) if rc == 0 and out.exists() else {"error": f"exit code {rc}"}
            failed += rc != 0
            entry.update({"peak_rss_mib": round(rss, 1), "stage_wall_s": round(seconds, 2), "measured_utc": _now()})
            results["stages"][label] = entry
        if not only or "ask" in only:
            print("[bench] ask …", file=sys.stderr, flush=True)
            results["stages"]["ask"] = run_ask(tmp) | {"measured_utc": _now()}
            failed += results["stages"]["ask"].get("exit_code", 1) != 0
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(render(results))
    print(f"\nJSON: {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
