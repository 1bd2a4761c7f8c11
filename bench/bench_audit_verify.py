"""Time `AuditLog.verify()` over a log of realistic records (default 100k).

The log is built with fsync off (a benchmark shortcut; production appends fsync every record),
with the mix of an answer route: question, retrieval (6 chunk ids), answer (hashes, citations).

    .venv/bin/python bench/bench_audit_verify.py [--records 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies.audit import AuditLog  # noqa: E402


def build(path: Path, records: int) -> tuple[AuditLog, float]:
    """A log of `records` events cycling question → retrieval → answer."""
    log = AuditLog(path, os.urandom(32), durable=False)
    ids = [str(uuid.uuid4()) for _ in range(6)]
    started = time.perf_counter()
    f = open(path, "a+b")  # one handle for the whole build: the record format is append()'s own (_write)
    seq, prev = 0, "0" * 64

    def append(kind: str, actor: str, **details: object) -> None:
        nonlocal seq, prev
        seq, prev, _ = log._write(f, seq, prev, kind, actor, details)

    for i in range(records):
        match i % 3:
            case 0:
                append("question", f"user{i % 50}", question=f"What does the policy say about item {i}?",
                           question_chars=40, policy_version="205b19bbcfbc410f")
            case 1:
                append("retrieval", f"user{i % 50}", chunk_ids=ids, withheld_by_policy=2,
                           allowed_labels=["internal", "phi"], policy_version="205b19bbcfbc410f")
            case _:
                append("answer", f"user{i % 50}", answer_sha256="ab" * 32, found=True,
                           citations=[{"n": 1, "chunk_id": ids[0], "source": "share/clinical/a.docx", "page": 3}],
                           model="qwen2.5-coder-0.5b-instruct-q4_k_m", model_sha256="1d" * 32,
                           prompt_template="0123456789abcdef", policy_version="205b19bbcfbc410f", dropped_passages=0)
    f.close()
    return log, time.perf_counter() - started


def main() -> None:
    """Build once, verify `repeat` times, print one JSON object."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log, build_s = build(Path(tmp) / "audit.jsonl", args.records)
        runs = []
        for _ in range(args.repeat):
            result = log.verify()
            assert result.ok and result.records == args.records, result
            runs.append(result.seconds)
        size = log.path.stat().st_size
    print(json.dumps({
        "records": args.records, "log_mb": round(size / 1e6, 1), "build_s_no_fsync": round(build_s, 1),
        "verify_s_median": round(statistics.median(runs), 2), "verify_s_runs": [round(r, 2) for r in runs],
        "verify_us_per_record": round(statistics.median(runs) / args.records * 1e6, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
