"""Answer quality and time of each bundled generator, through the real answer path, in one run.

    .venv/bin/python bench/bench_models.py                       # both bundled models, about 25 minutes on 2 cores
    .venv/bin/python bench/bench_models.py --squad-questions 0   # the policy set only, about 3 minutes
    .venv/bin/python bench/bench_models.py --quick               # CI: two questions of each set, the small model

Two sets, each asked of every model in one ENCLAVE_HOME (the same index, so only the generator differs):
- `bench/policy_qa`: twelve short policy documents (leave, overtime, hygiene, fire safety, lending...) and 24
  questions whose expected answer text and source are written down (`enclave eval golden`'s format);
- SQuAD v1.1 (`../shared/data/squad-dev-sample`): every paragraph ingested, N questions spread evenly over
  the file (`enclave eval qa`'s scoring: exact match, token F1, first citation is the gold paragraph).
The last model listed is the baseline; each row also shows its ratio to that baseline, and its SQuAD F1 against
the baseline's on the same questions (paired bootstrap, 95% interval). The JSON keeps every question's row, so
two runs (another top_k, another prompt) can be paired the same way: `--versus OTHER.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

POLICY_QA = ROOT / "bench" / "policy_qa"
SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-sample" / "squad-dev-v1.1-sample.json"


def spread(items: list[Any], n: int) -> list[Any]:
    """`n` items taken at even steps over `items` (all of them when n is larger)."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(k * step)] for k in range(n)]


def ask_model(home: Path, name: str, golden: list[Any], squad: Any) -> dict[str, Any]:
    """Set up `name` in `home`, then ask both sets through the answer path `enclave ask` uses."""
    from enclave.eval_wiring import evaluate_golden, evaluate_qa
    from enclave.settings import load_settings
    from enclave.wiring import default_user, ingest_folder_now, setup_home

    settings = load_settings(home=home, generator={"bundled_model": name})
    setup_home(settings)
    ingest_folder_now(settings, POLICY_QA / "docs")  # the second model finds every file unchanged
    row: dict[str, Any] = {"model": name}
    policy = evaluate_golden(settings, golden, default_user())
    row["policy_qa"] = {k: policy[k] for k in ("questions", "answer_contains_expected", "first_citation_expected", "seconds_per_question")}
    row["policy_qa"]["wrong"] = [r["answer"] for r in policy["items"] if not r["answer_ok"]]
    row["policy_qa"]["items"] = policy["items"]
    if squad is not None and squad.items:
        row["squad"] = evaluate_qa(settings, squad)
    return row


def main() -> None:
    """Run every model on both sets and print a table, then one JSON object."""
    from rag.models import BUNDLED_MODELS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(BUNDLED_MODELS), help="bundled model names, baseline last")
    ap.add_argument("--policy-questions", type=int, default=0, help="ask only the first N policy questions (0: all)")
    ap.add_argument("--squad-questions", type=int, default=40, help="SQuAD questions spread over the file (0: none)")
    ap.add_argument("--squad", type=Path, default=SQUAD)
    ap.add_argument("--quick", action="store_true", help="two questions of each set, the small model only")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--versus", type=Path, help="a JSON this script wrote before: also pair each model with its row there")
    args = ap.parse_args()
    from ingest.offline import enforce_offline_env
    from rag.eval.golden import load_golden
    from rag.eval.squad import SquadData, load_squad

    enforce_offline_env()
    models = args.models.split(",")
    if args.quick:
        models, args.policy_questions, args.squad_questions = [models[-1]], 2, 2
    golden = load_golden(POLICY_QA / "golden.yaml")
    golden = golden[: args.policy_questions] if args.policy_questions else golden
    squad = None
    if args.squad_questions and args.squad.is_file():
        data = load_squad(args.squad)
        items = spread(data.items, args.squad_questions)
        # Every paragraph stays in the index (the questions compete with all of them); --quick keeps the gold ones.
        docs = [d for d in data.docs if d.doc_id in {i.doc_id for i in items}] if args.quick else data.docs
        squad = SquadData(docs=docs, items=items)
    out: dict[str, Any] = {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()[0], "models": []}
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        for name in models:
            out["models"].append(ask_model(Path(tmp) / "home", name, golden, squad))
            print(json.dumps(out["models"][-1]), file=sys.stderr, flush=True)
    out["load_avg_at_end"] = os.getloadavg()[0]
    print_table(out["models"])
    if args.versus:
        print_versus(out["models"], json.loads(args.versus.read_text())["models"], args.versus.name)
    text = json.dumps(out, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


def print_table(rows: list[dict[str, Any]]) -> None:
    """One line per model; ratios against the last (the baseline)."""
    base = rows[-1]
    print("| model | policy answers correct | s/question | SQuAD F1 | F1 vs baseline (95% interval) | EM | first citation gold | wrongly not found | s/question |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        p, s = row["policy_qa"], row.get("squad") or {}
        bp, bs = base["policy_qa"], base.get("squad") or {}
        time_ratio = p["seconds_per_question"] / bp["seconds_per_question"] if bp["seconds_per_question"] else 0.0
        cells = [
            row["model"],
            f"{round(p['answer_contains_expected'] * p['questions'])} of {p['questions']}",
            f"{p['seconds_per_question']:.1f} ({time_ratio:.2f}x)",
        ]
        if s:
            squad_ratio = s["seconds_per_question"] / bs["seconds_per_question"] if bs.get("seconds_per_question") else 0.0
            versus = "—" if row is base else paired(s, bs, "f1")
            cells += [f"{s['f1']:.3f}", versus, f"{s['exact_match']:.3f}", f"{s['first_citation_gold']:.3f}",
                      f"{s['wrong_not_found']:.3f}", f"{s['seconds_per_question']:.1f} ({squad_ratio:.2f}x)"]
        else:
            cells += ["-"] * 6
        print("| " + " | ".join(cells) + " |")


def paired(run: dict[str, Any], other: dict[str, Any], key: str) -> str:
    """Mean difference of `key` over the questions both SQuAD runs asked, with its 95% bootstrap interval."""
    from bench.tune_retrieval import paired_interval

    theirs = {r["id"]: r[key] for r in other.get("items", [])}
    pairs = [(r[key], theirs[r["id"]]) for r in run.get("items", []) if r["id"] in theirs]
    if not pairs:
        return "no shared questions"
    ours, base = [a for a, _ in pairs], [b for _, b in pairs]
    lo, hi = paired_interval(ours, base)
    return f"{(sum(ours) - sum(base)) / len(pairs):+.3f} ({lo:+.3f} … {hi:+.3f}), {len(pairs)} q"


def print_versus(rows: list[dict[str, Any]], earlier: list[dict[str, Any]], name: str) -> None:
    """Each model against its own row in an earlier run, question by question."""
    before = {r["model"]: r for r in earlier}
    print(f"\n| model | SQuAD F1 vs {name} | first citation gold vs {name} | policy answers correct here / there |")
    print("|---|---|---|---|")
    for row in rows:
        old = before.get(row["model"])
        if old is None:
            continue
        s, o = row.get("squad") or {}, old.get("squad") or {}
        p, q = row["policy_qa"], old["policy_qa"]
        here = round(p["answer_contains_expected"] * p["questions"])
        there = round(q["answer_contains_expected"] * q["questions"])
        print(f"| {row['model']} | {paired(s, o, 'f1')} | {paired(s, o, 'citation_gold')} | {here} / {there} |")


if __name__ == "__main__":
    main()
