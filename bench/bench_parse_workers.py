"""The production ingest job over one folder with one parse child against several, same run.

    .venv/bin/python bench/bench_parse_workers.py                       # ../shared/data/example-docs, 0,1,2
    .venv/bin/python bench/bench_parse_workers.py --docs DIR --workers 0,4 --json out.json

Each worker count ingests the folder into a fresh ENCLAVE_HOME through `enclave.ingest_job.run_ingest_job`
(lock, sandboxed parse children, shared store, history, audit: what `enclave ingest` runs), one model
loaded once for all runs. "0" is the job as it was before the parse pool: one child, each file parsed
when the job reaches it, so parsing and embedding take turns. With 1 or more children the next write
batch's files are parsed while the job embeds and writes this one. Reported per run: wall
seconds, seconds the job waited for parsing, embedding and writing, files, chunks and failures; and the
ratio of the first run's wall time to each other's. The runs must ingest the same files into the same
number of chunks, or the script fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def ingest_once(docs: Path, workers: int, max_file_mb: int, embedder: Any) -> dict[str, Any]:
    """One ingest job over `docs` into a fresh home with `workers` parse children (0: one, no look-ahead)."""
    from enclave.ingest_job import folder_source, run_ingest_job
    from enclave.settings import load_settings
    from enclave.wiring import setup_home
    from ingest.worker import ParsePool

    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        settings = load_settings(home=Path(tmp) / "home")
        settings = settings.model_copy(
            update={"ingest": settings.ingest.model_copy(update={"parse_workers": workers, "max_file_mb": max_file_mb})}
        )
        setup_home(settings)
        look_ahead = ParsePool.ahead
        if workers == 0:  # the files are not named ahead: each is parsed when asked for
            ParsePool.ahead = lambda self, paths: None  # type: ignore[method-assign]
            settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"parse_workers": 1})})
        try:
            start = time.perf_counter()
            report = run_ingest_job(settings, [folder_source(settings, docs)], trigger="bench", actor="bench", embedder=embedder)
            wall = time.perf_counter() - start
        finally:
            ParsePool.ahead = look_ahead  # type: ignore[method-assign]
    return {
        "workers": workers,
        "wall_s": wall,
        "seconds": {k: round(v, 2) for k, v in report.seconds.items()},
        "files": report.files_seen,
        "ingested": sorted(report.ingested),
        "failed": sorted((f.source, f.code) for f in report.failed),
        "pages": report.pages,
        "chunks": report.chunks_written,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=Path, default=ROOT.parent / "shared" / "data" / "example-docs")
    ap.add_argument("--workers", default="0,1,2", help="parse children per run (0: one, no look-ahead); the first is the baseline")
    ap.add_argument("--max-mb", type=int, default=200, help="files above this size are reported, not read")
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args()
    counts = [int(x) for x in args.workers.split(",") if x.strip()]
    if not args.docs.is_dir() or not any(p.is_file() for p in args.docs.rglob("*")):
        ap.error(f"no files under {args.docs}")
    if len(counts) < 2 or min(counts) < 0:
        ap.error("--workers needs two or more counts, e.g. 0,2")
    from enclave.settings import load_settings
    from enclave.wiring import build_embedder
    from ingest.offline import enforce_offline_env

    enforce_offline_env()
    embedder = build_embedder(load_settings())
    embedder.warm_up()  # model load is not ingest time
    runs = [ingest_once(args.docs.resolve(), n, args.max_mb, embedder) for n in counts]
    base = runs[0]
    for run in runs[1:]:
        if (run["ingested"], run["failed"], run["chunks"]) != (base["ingested"], base["failed"], base["chunks"]):
            raise AssertionError(f"{run['workers']} workers ingested something else than {base['workers']}")
    print(f"{args.docs}: {base['files']} files, {len(base['ingested'])} ingested, {len(base['failed'])} reported, "
          f"{base['pages']} pages, {base['chunks']} chunks; {os.cpu_count()} cores\n")
    print("| parse children (0: one, no look-ahead) | wall s | waited for parsing s | embed s | write s | pages/s | speedup |")
    print("|---|---|---|---|---|---|---|")
    for run in runs:
        s = run["seconds"]
        print(
            f"| {run['workers']} | {run['wall_s']:.1f} | {s['parse']:.1f} | {s['embed']:.1f} | {s['write']:.1f} "
            f"| {run['pages'] / run['wall_s']:.2f} | {base['wall_s'] / run['wall_s']:.2f}× |"
        )
    if args.json:
        args.json.write_text(json.dumps({"docs": str(args.docs), "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
