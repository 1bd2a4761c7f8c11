"""ParsePool: the files a sync names ahead are parsed by several children at once, and each call
returns the result of the file asked for, exactly as one child parsing them in turn would."""

from __future__ import annotations

from pathlib import Path

import psutil

from ingest.errors import IngestError
from ingest.precheck import ParseLimits
from ingest.worker import ParsePool, ParseWorker, WorkerLimits
from tests.corpus import write_docx, write_markdown, write_pdf, write_slow_text

LIMITS = WorkerLimits(timeout_s=10, parse=ParseLimits())  # the novel takes far longer than this: `timeout`


def _files(root: Path) -> list[Path]:
    novel = write_slow_text(root / "novel.txt")
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a PDF body\n")
    return [
        write_docx(root / "rota.docx", "Night rota", ["Swaps are agreed with the duty manager."]),
        novel,
        write_markdown(root / "dock.md", "Dock", ["The loading dock closes at 5 pm."]),
        root / "broken.pdf",
        write_pdf(root / "canteen.pdf", ["The canteen opens at seven.", "Breakfast is served until ten."]),
        write_markdown(root / "gate.md", "Gate", ["Visitors sign in at the east gate."]),
    ]


def _outcome(parse: object, path: Path) -> object:
    try:
        document = parse(path)  # type: ignore[operator]
    except IngestError as exc:
        return exc.code
    return [(e.text, e.category, e.page) for e in document.elements]


def _children_under(folder: Path) -> set[int]:
    """Parse children of this process working in `folder` (each one's working directory is its temp area)."""
    found = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.cwd().startswith(str(folder)):
                found.add(p.pid)
        except psutil.Error:
            continue
    return found


def test_the_pool_gives_each_file_its_own_result_in_the_order_asked(tmp_path: Path) -> None:
    files = _files(tmp_path)
    with ParseWorker(LIMITS, tmp_path / "one") as one:
        expected = [_outcome(one, f) for f in files]
    assert expected[1] == "timeout" and expected[3] in ("corrupt", "empty") and all(isinstance(x, list) for x in expected[::2])

    with ParsePool(LIMITS, tmp_path / "pool", workers=2) as pool:
        pool.ahead(files)
        got = [_outcome(pool, f) for f in files]
        children = _children_under(tmp_path / "pool")
    assert got == expected  # a timeout and a broken file fail alone, in their place
    assert len(children) == 2  # both children worked (one was replaced after the timeout: still two at the end)
    assert _children_under(tmp_path / "pool") == set()  # closed: no child left


def test_a_file_named_ahead_but_skipped_is_dropped_and_an_unnamed_one_is_parsed_on_the_spot(tmp_path: Path) -> None:
    rota, _, dock, _, canteen, gate = _files(tmp_path)
    with ParsePool(LIMITS, tmp_path / "pool", workers=2) as pool:  # three files in flight at most
        pool.ahead([rota, dock, canteen])
        assert "duty manager" in _outcome(pool, rota)[1][0]
        assert "canteen" in _outcome(pool, canteen)[0][0].lower()  # dock was named, then skipped
        assert "east gate" in _outcome(pool, gate)[1][0]  # never named
        assert "loading dock" in _outcome(pool, dock)[1][0]  # skipped earlier, asked for later
        pool.ahead([rota, dock, canteen, gate])  # gate waits behind the three in flight
        assert "east gate" in _outcome(pool, gate)[1][0]  # the three before it are dropped
        assert "duty manager" in _outcome(pool, rota)[1][0]  # and parsed on the spot when asked after all
