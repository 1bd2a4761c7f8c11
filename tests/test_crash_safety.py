"""Crash safety: kill -9 a sync at random points, again and again; the resumed syncs lose nothing,
duplicate nothing and leave no orphan chunks."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from enclave.settings import Settings
from ingest.manifest import Manifest
from ingest.schema import doc_id
from tests.sync_support import assert_index_matches_tree, write_doc

KILLS = 10
DOCS = 60
STEPS = ("staged", "upserted", "deleted", "settled")

CHILD = """
import os, signal, sys
from pathlib import Path

def main():
    from enclave.ingest_job import folder_source, run_ingest_job
    from enclave.settings import load_settings

    settings = load_settings()
    crash = os.environ.get("CRASH_AT", "")
    seen = {}

    def on_step(name):
        print("step", name, flush=True)
        if crash and crash.split(":")[0] == name:
            seen[name] = seen.get(name, 0) + 1
            if seen[name] == int(crash.split(":")[1]):
                os.kill(os.getpid(), signal.SIGKILL)

    report = run_ingest_job(
        settings, [folder_source(settings, Path(sys.argv[1]))], trigger="test", actor="tester",
        on_progress=lambda p: print("file", p.done, flush=True), on_step=on_step,
    )
    print("done recovered", report.recovered, flush=True)

if __name__ == "__main__":
    main()
"""


def _run(script: Path, root: Path, env: dict[str, str], crash_at: str = "", kill_after_files: int = 0) -> tuple[int, str]:
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root)], env={**env, "CRASH_AT": crash_at},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if kill_after_files and line.startswith("file ") and int(line.split()[1]) >= kill_after_files:
            time.sleep(random.random() * 0.3)
            proc.send_signal(signal.SIGKILL)  # kill -9 of the sync process itself
            break
    proc.wait(timeout=300)
    return proc.returncode, "".join(lines)


def _check_after_kill(settings: Settings, index: object) -> int:
    """Settled documents are whole; any extra chunk belongs to a write the manifest knows is pending."""
    manifest = Manifest(settings.manifest_path)
    try:
        pending = manifest.pending()
        pending_sources = {p.source for p in pending}
        with index.session() as idx:  # type: ignore[attr-defined]
            present = idx.all_chunk_ids()
            known = {cid for r in manifest.all() for cid in r.chunk_ids}
            for rec in manifest.all():
                if rec.source not in pending_sources:
                    assert set(rec.chunk_ids) <= present, f"lost chunks of settled {rec.source}"
            in_flight = {c.chunk_id for p in pending for c in idx.chunks_of(doc_id(p.source))}
        assert present - known <= in_flight, "an orphan chunk that no pending write accounts for"
        return len(pending)
    finally:
        manifest.close()


def test_kill_9_at_random_points_then_resume(settings: Settings, tmp_path: Path) -> None:
    from enclave.wiring import build_embedder, shared_index

    rng = random.Random(int(os.environ.get("ENCLAVE_CRASH_SEED", "5")))
    root = tmp_path / "share"
    for n in range(DOCS):
        write_doc(root, f"part{n % 4}/doc{n:03}.md", n, 1, paragraphs=2 + n % 3)
    script = tmp_path / "sync_child.py"
    script.write_text(CHILD)
    env = {
        **os.environ, "ENCLAVE_HOME": str(settings.home), "ENCLAVE_USER": "tester",
        "ENCLAVE_INGEST__WRITE_BATCH_FILES": "4", "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    index = shared_index(settings, build_embedder(settings))
    versions = {n: 1 for n in range(DOCS)}
    kills, interrupted_writes = 0, 0
    for round_no in range(KILLS):
        if round_no:  # the share keeps changing between runs: edits, deletions, additions, a rename
            files = sorted(root.rglob("*.md"))
            for path in rng.sample(files, 8):
                n = int(path.stem[-3:])
                versions[n] = versions.get(n, 1) + 1
                write_doc(root, path.relative_to(root).as_posix(), n, versions[n], paragraphs=1 + versions[n] % 4)
            for path in rng.sample(sorted(root.rglob("*.md")), 2):
                path.unlink()
            for _ in range(2):
                n = max(versions) + 1
                versions[n] = 1
                write_doc(root, f"part{n % 4}/doc{n:03}.md", n, 1)
            victim = rng.choice(sorted(root.rglob("*.md")))
            victim.rename(victim.with_name("moved-" + victim.name))
        if round_no % 2 == 0:
            code, out = _run(script, root, env, crash_at=f"{rng.choice(STEPS)}:{rng.randint(1, 3)}")
        else:
            code, out = _run(script, root, env, kill_after_files=rng.randint(1, 20))
        if code != -signal.SIGKILL:
            assert code == 0, out[-3000:]
            continue  # the run finished before the kill point: still a resumed sync, not a kill
        kills += 1
        interrupted_writes += _check_after_kill(settings, index) > 0
    code, out = _run(script, root, env)
    assert code == 0, out[-3000:]
    assert kills >= KILLS - 2, f"only {kills} runs were killed"
    assert interrupted_writes >= 3, "the kills never landed inside a write"
    tree = {f"share/{p.relative_to(root).as_posix()}": p for p in root.rglob("*") if p.is_file()}
    assert len(tree) >= DOCS
    assert_index_matches_tree(settings, index, tree)
