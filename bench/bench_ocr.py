"""OCR time with unstructured as shipped against Enclave's OCR (single-pass agent, pages in threads), same files.

    .venv/bin/python bench/bench_ocr.py                      # ../shared/data/example-docs
    .venv/bin/python bench/bench_ocr.py --docs DIR --threads 1 --json out.json

Images and PDFs under --docs are parsed with `ingest.parse.parse_file` in this process (no worker
limits), counting the Tesseract processes each parse starts. A file that started none (a PDF with
a text layer) is listed as not needing OCR and parsed once. Every other file is parsed twice, the
order flipping from file to file: as unstructured ships (its own agent: hOCR, then plain text, two
Tesseract runs a page, one page after another) and as Enclave configures it
(`ingest.ocr.SinglePassTesseract`: both from one run; a scanned PDF's pages read --threads at a time,
default one per core, at most 4). Reported: seconds and Tesseract runs each way, the ratio, and whether the
elements (text, type, page, section) came out identical. Needs Debian's tesseract-ocr and poppler-utils.
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

AGENTS = {
    "unstructured": "unstructured.partition.utils.ocr_models.tesseract_ocr.OCRAgentTesseract",
    "enclave": "ingest.ocr.SinglePassTesseract",
}


class TesseractRuns:
    """Counts the Tesseract processes unstructured's pytesseract starts."""

    def __init__(self) -> None:
        from unstructured_pytesseract import pytesseract

        self.count, self._module, self._run = 0, pytesseract, pytesseract.run_tesseract

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return self._run(*args, **kwargs)

        pytesseract.run_tesseract = counted

    def close(self) -> None:
        self._module.run_tesseract = self._run


def _parse(path: Path, agent: str, runs: TesseractRuns, threads: int) -> tuple[list[tuple] | str, float, int]:
    from ingest.errors import IngestError
    from ingest.parse import parse_file
    from ingest.precheck import ParseLimits

    os.environ["OCR_AGENT"] = AGENTS[agent]
    limits = ParseLimits(ocr_threads=threads if agent == "enclave" else 1)
    before, start = runs.count, time.perf_counter()
    try:
        result: list[tuple] | str = [(e.text, e.category, e.page, e.section) for e in parse_file(path, limits).elements]
    except IngestError as exc:
        result = exc.code
    return result, time.perf_counter() - start, runs.count - before


def _page(text: str) -> Any:
    """A white page with black text, as a scanner would give it."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1400, 300), "white")
    ImageDraw.Draw(image).text((40, 120), text, fill="black", font=ImageFont.load_default(size=36))
    return image


def compare(files: list[Path], threads: int = 0) -> dict[str, Any]:
    """Parse each file both ways where it needs OCR; totals and per-file rows."""
    from ingest.parse import use_single_pass_ocr

    use_single_pass_ocr()  # whitelists ingest.ocr; the agent itself is chosen per parse below
    runs = TesseractRuns()
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:  # OCR modules loaded before any file is timed
            warm_up = Path(tmp) / "warm-up.png"
            _page("Warm up: the first file is not charged for loading the OCR modules.").save(warm_up)
            for agent in AGENTS:
                _parse(warm_up, agent, runs, threads)
        flip = False
        for path in files:
            order = ["enclave", "unstructured"] if flip else ["unstructured", "enclave"]
            got = {order[0]: _parse(path, order[0], runs, threads)}
            if got[order[0]][2] == 0:
                rows.append({"file": str(path), "ocr": False})
                continue
            got[order[1]] = _parse(path, order[1], runs, threads)
            flip = not flip
            (a, t_own, n_own), (b, t_one, n_one) = got["unstructured"], got["enclave"]
            if isinstance(a, list) and isinstance(b, list) and [x[0] for x in a] != [x[0] for x in b]:
                raise AssertionError(f"{path}: Enclave's OCR changed the text itself")
            rows.append({
                "file": str(path), "ocr": True, "unstructured_s": t_own, "enclave_s": t_one,
                "unstructured_runs": n_own, "enclave_runs": n_one,
                "elements": len(a) if isinstance(a, list) else a, "identical": a == b,
            })
    finally:
        runs.close()
        os.environ.pop("OCR_AGENT", None)
    ocr = [r for r in rows if r["ocr"]]
    total: dict[str, Any] = {
        "files": len(rows),
        "ocr_files": len(ocr),
        "identical": sum(r["identical"] for r in ocr),
        **{k: sum(r[k] for r in ocr) for k in ("unstructured_s", "enclave_s", "unstructured_runs", "enclave_runs")},
    }
    total["speedup"] = total["unstructured_s"] / total["enclave_s"] if total["enclave_s"] else None
    return {"total": total, "files": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=Path, default=ROOT.parent / "shared" / "data" / "example-docs")
    ap.add_argument("--threads", type=int, default=0, help="pages of a scanned PDF read at a time by Enclave (0: one per core, at most 4)")
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args()
    import shutil

    from ingest.offline import enforce_offline_env
    from ingest.parse import IMAGES

    if not (shutil.which("tesseract") and shutil.which("pdftoppm")):
        ap.error("needs Debian's tesseract-ocr and poppler-utils")
    enforce_offline_env()
    files = sorted(p for p in args.docs.rglob("*") if p.is_file() and p.suffix.lower() in IMAGES | {".pdf"})
    if not files:
        ap.error(f"no images or PDFs under {args.docs}")
    result = compare(files, args.threads)
    t = result["total"]
    print("| file | elements | identical | Tesseract runs (unstructured / Enclave) | unstructured s | Enclave s | speedup |")
    print("|---|---|---|---|---|---|---|")
    for r in sorted((r for r in result["files"] if r["ocr"]), key=lambda r: -r["unstructured_s"]):
        name = Path(r["file"]).relative_to(args.docs)
        print(
            f"| {name} | {r['elements']} | {'yes' if r['identical'] else 'NO'} | {r['unstructured_runs']} / {r['enclave_runs']} "
            f"| {r['unstructured_s']:.2f} | {r['enclave_s']:.2f} | {r['unstructured_s'] / r['enclave_s']:.2f}× |"
        )
    if t["ocr_files"]:
        print(
            f"| **{t['ocr_files']} of {t['files']} files read by OCR** | | {t['identical']} identical "
            f"| {t['unstructured_runs']} / {t['enclave_runs']} | {t['unstructured_s']:.1f} | {t['enclave_s']:.1f} "
            f"| {t['speedup']:.2f}× |"
        )
    else:
        print(f"no file of {t['files']} needed OCR")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
