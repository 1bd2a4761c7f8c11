"""Parse time with unstructured's own title/narrative checks against Enclave's light ones, same files.

    .venv/bin/python bench/bench_text_checks.py                      # ../shared/data/example-docs
    .venv/bin/python bench/bench_text_checks.py --docs DIR --json out.json

Every file is parsed twice in this process with `ingest.parse.parse_file` (in-process, no worker
limits): once with unstructured's checks (the whole spaCy pipeline on every element), once with
`ingest.parse.use_light_text_checks` (punctuation sentences, tagger without the parser), the order
flipping from file to file. Reported: parse seconds each way and their ratio, and how many elements
came out identical (text, type, page, section), how many changed type, and how many moved into or out
of "Title" (the type that sets section headings).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHECKS = ("sent_tokenize", "word_tokenize", "pos_tag")


def _parse(path: Path) -> tuple[list[tuple] | str, float]:
    from ingest.errors import IngestError
    from ingest.parse import parse_file

    start = time.perf_counter()
    try:
        result: list[tuple] | str = [(e.text, e.category, e.page, e.section) for e in parse_file(path).elements]
    except IngestError as exc:
        result = exc.code
    return result, time.perf_counter() - start


def compare(files: list[Path]) -> dict[str, Any]:
    """Parse each file with both checks; totals and per-file rows."""
    from unstructured.nlp import tokenize
    from unstructured.partition import text_type

    from ingest.parse import use_bundled_spacy_model, use_light_text_checks

    use_bundled_spacy_model()
    use_light_text_checks()
    own = {name: getattr(tokenize, name) for name in CHECKS}
    light = {name: getattr(text_type, name) for name in CHECKS}

    def run(path: Path, checks: dict[str, Any]) -> tuple[list[tuple] | str, float]:
        for name, fn in checks.items():
            setattr(text_type, name, fn)
        return _parse(path)

    with tempfile.TemporaryDirectory() as tmp:  # both pipelines loaded before any file is timed
        warm_up = Path(tmp) / "warm-up.txt"
        warm_up.write_text("Warm up\n\nThe first file is not charged for loading a model. Nor is the second.\n")
        run(warm_up, own)
        run(warm_up, light)
    rows = []
    for i, path in enumerate(files):
        order = [("own", own), ("light", light)]
        if i % 2:
            order.reverse()
        got = {kind: run(path, checks) for kind, checks in order}
        (a, t_own), (b, t_light) = got["own"], got["light"]
        row: dict[str, Any] = {"file": str(path), "own_s": t_own, "light_s": t_light}
        if isinstance(a, str) or isinstance(b, str):
            row.update(own=a if isinstance(a, str) else "ok", light=b if isinstance(b, str) else "ok")
        else:
            if [x[0] for x in a] != [x[0] for x in b]:
                raise AssertionError(f"{path}: the light checks changed the text itself")
            row.update(
                elements=len(a),
                identical=sum(x == y for x, y in zip(a, b)),
                type_changes=sum(x[1] != y[1] for x, y in zip(a, b)),
                title_changes=sum((x[1] == "Title") != (y[1] == "Title") for x, y in zip(a, b)),
            )
        rows.append(row)
    for name, fn in light.items():
        setattr(text_type, name, fn)
    parsed = [r for r in rows if "elements" in r]
    total = {
        "files": len(rows),
        "parsed": len(parsed),
        "own_s": sum(r["own_s"] for r in rows),
        "light_s": sum(r["light_s"] for r in rows),
        **{k: sum(r[k] for r in parsed) for k in ("elements", "identical", "type_changes", "title_changes")},
    }
    total["speedup"] = total["own_s"] / total["light_s"] if total["light_s"] else None
    return {"total": total, "files": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=Path, default=ROOT.parent / "shared" / "data" / "example-docs")
    ap.add_argument("--top", type=int, default=10, help="files listed, slowest first (own checks)")
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args()
    from ingest.offline import enforce_offline_env

    enforce_offline_env()
    files = sorted(p for p in args.docs.rglob("*") if p.is_file())
    if not files:
        ap.error(f"no files under {args.docs}")
    result = compare(files)
    t = result["total"]
    print("| file | elements | identical | type changes | title changes | own checks s | light checks s | speedup |")
    print("|---|---|---|---|---|---|---|---|")
    for r in sorted(result["files"], key=lambda r: -r["own_s"])[: args.top]:
        if "elements" not in r:
            continue
        name = Path(r["file"]).relative_to(args.docs)
        print(
            f"| {name} | {r['elements']:,} | {r['identical']:,} | {r['type_changes']} | {r['title_changes']} "
            f"| {r['own_s']:.2f} | {r['light_s']:.2f} | {r['own_s'] / r['light_s']:.1f}× |"
        )
    print(
        f"| **all {t['files']} files ({t['parsed']} parsed)** | {t['elements']:,} | {t['identical']:,} "
        f"| {t['type_changes']} | {t['title_changes']} | {t['own_s']:.1f} | {t['light_s']:.1f} | {t['speedup']:.2f}× |"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
