"""Sync figures: unchanged re-sync and a moved tree vs first ingest, the stat check against hashing every file,
example-docs throughput, parse vs plain pypdf.

    .venv/bin/python bench/bench_sync.py                 # defaults sized for ~3 min on 2 busy cores
    .venv/bin/python bench/bench_sync.py --files 1000 --docs ../shared/data/example-docs --max-file-mb 1

Each part runs in a fresh ENCLAVE_HOME through the production job (ingest lock, parse worker
child process, shared store sessions, history, audit). Peak memory: max RSS of this process
(job: embedder + store) and of the parse worker (children), from getrusage.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def fresh_settings(max_file_mb: float) -> Any:
    """A new ENCLAVE_HOME with the default policy and no model (the bench never generates)."""
    from enclave.settings import load_settings
    from enclave.wiring import setup_home

    home = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    os.environ["ENCLAVE_HOME"] = str(home)
    settings = load_settings(home=home, generator={"model_path": "/nonexistent.gguf"})
    setup_home(settings)
    ingest = settings.ingest.model_copy(update={"max_file_mb": max(1, int(max_file_mb))})
    return settings.model_copy(update={"ingest": ingest})


def unchanged_ratio(files: int, embedder: Any) -> dict[str, Any]:
    """First ingest of a generated tree, then a sync of the same, unchanged tree."""
    from enclave.ingest_job import folder_source, run_ingest_job

    settings = fresh_settings(200)
    root = settings.home.parent / f"{settings.home.name}-tree"
    for n in range(files):
        path = root / f"dir{n % 20:02}" / f"note{n:04}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Note {n}\n\nRoom {n} is cleaned on day {n % 7}; the key is kept at desk {n % 13}.\n")
    t0 = time.perf_counter()
    first = run_ingest_job(settings, [folder_source(settings, root)], trigger="bench", actor="bench", embedder=embedder)
    t1 = time.perf_counter()
    again = run_ingest_job(settings, [folder_source(settings, root)], trigger="bench", actor="bench", embedder=embedder)
    t2 = time.perf_counter()
    assert again.embeddings == 0 and again.store_sessions == 0 and again.unchanged == files
    for folder in sorted(root.iterdir()):  # every folder renamed: every file moved, none changed
        folder.rename(root / f"archive-{folder.name}")
    t3 = time.perf_counter()
    moved = run_ingest_job(settings, [folder_source(settings, root)], trigger="bench", actor="bench", embedder=embedder)
    t4 = time.perf_counter()
    assert moved.embeddings == 0 and len(moved.moved) == files
    return {
        "files": files, "first_s": round(t1 - t0, 2), "unchanged_s": round(t2 - t1, 3),
        "ratio": round((t2 - t1) / (t1 - t0), 4), "first_chunks": first.chunks_written,
        "first_seconds": {k: round(v, 2) for k, v in first.seconds.items()},
        "first_store_sessions": first.store_sessions,
        "moved_s": round(t4 - t3, 2), "moved_ratio": round((t4 - t3) / (t1 - t0), 4),
        "moved_store_sessions": moved.store_sessions, "moved_seconds": {k: round(v, 2) for k, v in moved.seconds.items()},
    }


def stat_vs_hash(files: int, file_mb: float, repeats: int, embedder: Any) -> dict[str, Any]:
    """An unchanged tree synced again, in turns: every file read and hashed (`ingest.rehash_unchanged`, what every
    sync did before the stat check) against the default stat check. The files are random bytes of an unsupported
    type (refused on their name, never parsed): only identifying them costs anything. Medians of `repeats` turns;
    the page cache is warm, so the hashing side is at its fastest here (a network share reads slower)."""
    import statistics

    from enclave.ingest_job import folder_source, run_ingest_job

    settings = fresh_settings(max(200, file_mb + 1))
    rehash = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"rehash_unchanged": True})})
    root = settings.home.parent / f"{settings.home.name}-blobs"
    root.mkdir()
    size = int(file_mb * 1024 * 1024)
    for n in range(files):
        (root / f"scan{n:04}.bin").write_bytes(os.urandom(size))
    run_ingest_job(settings, [folder_source(settings, root)], trigger="bench", actor="bench", embedder=embedder)
    time.sleep(3.5)  # older than the stat check's margin (a file changed within 3 s of a stat is read again)
    seconds: dict[str, list[float]] = {"rehash": [], "stat": []}
    hashed: dict[str, int] = {}
    for _ in range(repeats):
        for name, cfg in (("rehash", rehash), ("stat", settings)):
            t0 = time.perf_counter()
            report = run_ingest_job(cfg, [folder_source(cfg, root)], trigger="bench", actor="bench", embedder=embedder)
            seconds[name].append(time.perf_counter() - t0)
            assert report.unchanged == files and report.embeddings == 0
            hashed[name] = report.hashed
    med = {k: statistics.median(v) for k, v in seconds.items()}
    return {
        "files": files, "file_mb": file_mb, "gb": round(files * size / 1e9, 2), "repeats": repeats,
        "rehash_s": round(med["rehash"], 3), "stat_s": round(med["stat"], 3),
        "speedup": round(med["rehash"] / med["stat"], 1) if med["stat"] else None,
        "hashed": hashed, "all_s": {k: [round(x, 3) for x in v] for k, v in seconds.items()},
    }


def example_docs(docs: Path, max_file_mb: float, embedder: Any, sample: int = 0) -> dict[str, Any]:
    """The production job over example-docs (files over the cap are reported as too_large)."""
    from enclave.ingest_job import run_ingest_job
    from ingest.sources import Source

    settings = fresh_settings(max_file_mb)
    if sample:  # every k-th file, copied, so a slow box still finishes in minutes
        import shutil

        files = sorted(p for p in docs.rglob("*") if p.is_file() and not p.name.startswith("."))
        target = settings.home.parent / f"{settings.home.name}-sample"
        for p in files[:: max(1, len(files) // sample)][:sample]:
            dest = target / p.relative_to(docs)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dest)
        docs = target
    source = Source(name="example-docs", path=docs, max_file_bytes=int(max_file_mb * (1 << 20)))
    t0 = time.perf_counter()
    report = run_ingest_job(
        settings, [source], trigger="bench", actor="bench", embedder=embedder,
        on_progress=lambda p: print(f"  {p.done}/{p.total} {p.source}", file=sys.stderr, flush=True) if p.done % 25 == 0 else None,
    )
    wall = time.perf_counter() - t0
    parsed = len(report.ingested) + len(report.changed)
    s = report.seconds
    work = s["parse"] + s["embed"] + s["write"]
    codes: dict[str, int] = {}
    for f in report.failed:
        codes[f.code] = codes.get(f.code, 0) + 1
    return {
        "max_file_mb": max_file_mb, "sample": sample, "files_seen": report.files_seen, "ingested": parsed, "failed": codes,
        "pages": report.pages, "chunks": report.chunks_written, "wall_s": round(wall, 1),
        "files_per_s": round(report.files_seen / wall, 2), "pages_per_s": round(report.pages / wall, 2),
        "share": {k: round(s[k] / work, 3) for k in ("parse", "embed", "write")} if work else {},
        "seconds": {k: round(v, 1) for k, v in s.items()},
    }


def parse_vs_pypdf(docs: Path, max_file_mb: float) -> dict[str, Any]:
    """Pages/s of the parse step (unstructured fast, in the worker) vs pypdf extract_text, same PDFs."""
    from pypdf import PdfReader

    from ingest.errors import IngestError
    from ingest.worker import ParseWorker, WorkerLimits

    pdfs = sorted(p for p in docs.rglob("*.pdf") if p.stat().st_size <= max_file_mb * (1 << 20))
    usable, pages = [], 0
    t0 = time.perf_counter()
    for p in pdfs:
        try:
            reader = PdfReader(str(p))
            if reader.is_encrypted:
                continue
            text = [page.extract_text() or "" for page in reader.pages]
        except Exception:  # noqa: BLE001  a PDF pypdf cannot read is left out of both sides
            continue
        usable.append(p)
        pages += len(text)
    pypdf_s = time.perf_counter() - t0
    with ParseWorker(WorkerLimits(timeout_s=300), Path(tempfile.mkdtemp(prefix="bench-parse-"))) as worker:
        worker(usable[0])  # start the worker (imports) outside the timing
        t0 = time.perf_counter()
        ok = 0
        for p in usable:
            try:
                worker(p)
                ok += 1
            except IngestError:
                pass
        parse_s = time.perf_counter() - t0
    return {
        "pdfs": len(usable), "pages": pages, "parsed_ok": ok,
        "unstructured_pages_per_s": round(pages / parse_s, 1), "pypdf_pages_per_s": round(pages / pypdf_s, 1),
        "unstructured_s": round(parse_s, 1), "pypdf_s": round(pypdf_s, 2),
    }


def main() -> None:
    """Run the three parts and print one JSON object."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--docs", type=Path, default=ROOT.parent / "shared" / "data" / "example-docs")
    ap.add_argument("--max-file-mb", type=float, default=0.5)
    ap.add_argument("--parts", default="ratio,stat,docs,pdf")
    ap.add_argument("--blobs", type=int, default=200, help="files in the stat part")
    ap.add_argument("--blob-mb", type=float, default=5.0, help="size of each file in the stat part")
    ap.add_argument("--repeats", type=int, default=3, help="turns of each side in the stat part (medians)")
    ap.add_argument("--sample", type=int, default=0, help="use every k-th example doc, N in all (0: all)")
    args = ap.parse_args()
    from enclave.settings import load_settings
    from enclave.wiring import build_embedder
    from ingest.offline import enforce_offline_env

    enforce_offline_env()
    embedder = build_embedder(load_settings())
    embedder.embed_documents(["warm up"])
    out: dict[str, Any] = {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()[0]}
    parts = args.parts.split(",")
    if "ratio" in parts:
        out["unchanged_vs_first"] = unchanged_ratio(args.files, embedder)
        print(json.dumps(out["unchanged_vs_first"]), file=sys.stderr, flush=True)
    if "stat" in parts:
        out["stat_vs_hash"] = stat_vs_hash(args.blobs, args.blob_mb, args.repeats, embedder)
        print(json.dumps(out["stat_vs_hash"]), file=sys.stderr, flush=True)
    if "docs" in parts and args.docs.is_dir():
        out["example_docs"] = example_docs(args.docs.resolve(), args.max_file_mb, embedder, args.sample)
        print(json.dumps(out["example_docs"]), file=sys.stderr, flush=True)
    if "pdf" in parts and args.docs.is_dir():
        out["parse_vs_pypdf"] = parse_vs_pypdf(args.docs.resolve(), args.max_file_mb)
    out["peak_rss_mb"] = {
        "job": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "parse_worker": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
    }
    out["load_avg_at_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
