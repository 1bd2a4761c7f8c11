"""Parse files in a long-lived child process with a wall-clock and an address-space limit.

A hang, a decompression bomb or a parser crash kills the child, never the job. The child
imports unstructured once (seconds) and is restarted only after it failed or was killed.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest import errors
from ingest.errors import IngestError, ParseFailed, ParseMemory, ParserCrashed, ParseTimeout
from ingest.parse import ParsedDocument
from ingest.precheck import ParseLimits

_CODES: dict[str, type[IngestError]] = {
    cls.code: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, IngestError)
}


@dataclass(frozen=True)
class WorkerLimits:
    """What one file may cost the parser process."""

    timeout_s: float = 300.0
    memory_bytes: int = 4 << 30  # RLIMIT_AS of the child; 0: no limit
    parse: ParseLimits = field(default_factory=ParseLimits)
    startup_timeout_s: float = 300.0


class ParseWorker:
    """A Parser (path -> ParsedDocument) that runs unstructured in a sandboxed child process."""

    def __init__(self, limits: WorkerLimits, temp_dir: Path) -> None:
        self._limits = limits
        # Absolute: the child changes into this folder, where a path relative to the caller's folder (the
        # default ENCLAVE_HOME, ./.enclave) would point nowhere.
        self._temp_dir = Path(temp_dir).resolve()
        self._proc: Any = None
        self._conn: Any = None
        self._starts = 0

    @property
    def restarts(self) -> int:
        """How many times a child was started again after one was stopped (timeout, memory, crash)."""
        return max(0, self._starts - 1)

    def __call__(self, path: Path) -> ParsedDocument:
        """Parse `path` in the child; raise the file's IngestError (timeout, memory, crash included)."""
        self._ensure_started()
        self._conn.send(str(Path(path).resolve()))
        if not self._conn.poll(self._limits.timeout_s):
            self._stop()
            raise ParseTimeout(
                f"the parser was still busy after {self._limits.timeout_s:g} s and was stopped",
                hint="raise ingest.parse_timeout_s if the file is legitimate",
            )
        try:
            message = self._conn.recv()
        except (EOFError, OSError):
            exitcode = self._stop()
            if exitcode == -signal.SIGKILL:
                raise ParseMemory("the parser was killed (out of memory)", hint="raise ingest.parse_memory_mb") from None
            raise ParserCrashed(f"the parser process died (exit code {exitcode})", hint="report the file; it crashes the parser") from None
        if message[0] == "ok":
            return message[1]
        _, code, text, hint = message
        if code == ParseMemory.code:
            self._stop()  # its heap may be in a bad state
        raise _CODES.get(code, ParseFailed)(text, hint=hint)

    def close(self) -> None:
        """Ask the child to exit, then make sure it did."""
        if self._proc is not None:
            try:
                self._conn.send(None)
                self._proc.join(5)
            except OSError:
                pass
            self._stop()

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_started(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        if self._proc is not None:
            self._stop()
        self._starts += 1
        self._temp_dir.mkdir(parents=True, exist_ok=True)
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=child_main,
            args=(child, self._limits.memory_bytes, str(self._temp_dir), self._limits.parse),
            name="enclave-parse",
            daemon=True,
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        if not parent.poll(self._limits.startup_timeout_s):
            self._stop()
            raise IngestError("the parser process did not start", hint="run `enclave doctor`; check memory limits")
        try:
            parent.recv()
        except EOFError:
            exitcode = self._stop()
            raise IngestError(
                f"the parser process exited while starting (code {exitcode})",
                hint="ingest.parse_memory_mb may be too small to load the parser",
            ) from None

    def _stop(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.is_alive():
            try:  # the child leads its own process group: its Tesseract and LibreOffice children go too
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):  # stopped before it set up its group
                proc.kill()
        proc.join(10)
        self._conn.close()
        return proc.exitcode


def child_main(conn: Any, memory_bytes: int, temp_dir: str, limits: ParseLimits) -> None:
    """The child's loop: limits first, then parse one path per message until told to stop."""
    import resource
    import tempfile

    os.setpgid(0, 0)  # a process group of its own, so a stop also ends the programs it started
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ["TMPDIR"] = temp_dir
    tempfile.tempdir = temp_dir
    os.chdir(temp_dir)  # anything a parser writes relative lands in the job's temp area
    from ingest.offline import enforce_offline_env
    from ingest.parse import parse_file, use_bundled_spacy_model

    enforce_offline_env()
    import unstructured.partition.auto  # noqa: F401  (the expensive import, once)

    use_bundled_spacy_model()
    _warm_up(Path(temp_dir), limits)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        if path is None:
            return
        out_of_memory = False
        try:
            conn.send(("ok", parse_file(Path(path), limits)))
        except IngestError as exc:
            conn.send(("err", exc.code, str(exc), exc.hint))
        except MemoryError:
            # Answered below: inside this block the traceback still holds the failed parse's data, so
            # even sending the answer can run out of memory and the file would read as a crash.
            out_of_memory = True
        except Exception as exc:  # noqa: BLE001  any other parser failure is this file's failure
            conn.send(("err", "corrupt", f"{type(exc).__name__}: {str(exc)[:300]}", "check the file opens in its own application"))
        finally:
            _empty(Path(temp_dir))
        if out_of_memory:
            conn.send(("err", ParseMemory.code, "the parser ran past its memory limit", "raise ingest.parse_memory_mb"))
            os._exit(3)


def _warm_up(temp_dir: Path, limits: ParseLimits) -> None:
    """Parse a tiny text and markdown file, so lazy imports do not count against a real file's time limit."""
    from ingest.parse import parse_file

    for name, text in (("warm-up.txt", "Warm up.\n\nA second paragraph."), ("warm-up.md", "# Warm up\n\nText.")):
        (temp_dir / name).write_text(text)
        parse_file(temp_dir / name, limits)
    _empty(temp_dir)


def _empty(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


class ParsePool:
    """Several ParseWorkers that parse, in the background, the files a sync has said it will ask for.

    The pipeline names the files it is going to parse, in order (`ahead`); up to `workers` of
    them are parsed at once, each in its own child with the same limits, while the pipeline
    chunks, embeds and writes what came before. Each call returns one file's result (or raises
    its IngestError), whichever child parsed it; a file the pipeline skips is dropped, and one it
    did not name is parsed on the spot. At most `window` files (default `workers` + 1) are parsed or
    wait to be asked for at a time: a window of a write batch lets the children parse the next batch
    while the job embeds this one.
    """

    def __init__(self, limits: WorkerLimits, temp_dir: Path, workers: int, window: int = 0) -> None:
        import queue
        from collections import OrderedDict, deque
        from concurrent.futures import ThreadPoolExecutor

        self._workers = [ParseWorker(limits, Path(temp_dir) / f"worker-{n}") for n in range(max(1, workers))]
        self._idle: queue.SimpleQueue[ParseWorker] = queue.SimpleQueue()
        for worker in self._workers:
            self._idle.put(worker)
        self._threads = ThreadPoolExecutor(len(self._workers), thread_name_prefix="parse")
        self._named: deque[Path] = deque()  # named ahead, not yet started
        self._started: OrderedDict[Path, Any] = OrderedDict()  # path -> Future, in the order named
        self._window = max(window, len(self._workers) + 1)

    def ahead(self, paths: list[Path]) -> None:
        """The files the pipeline will ask for next, in the order it will ask."""
        self._named.extend(Path(p) for p in paths)
        self._start_more()

    def __call__(self, path: Path) -> ParsedDocument:
        path = Path(path)
        if path in self._started or path in self._named:  # the files named before it were skipped: drop them
            while next(iter(self._started), path) != path:
                self._started.popitem(last=False)[1].cancel()  # a parse already running just finishes
            if path not in self._started:
                while self._named.popleft() != path:
                    pass
        future = self._started.pop(path, None) or self._threads.submit(self._parse, path)
        try:
            return future.result()
        finally:
            self._start_more()

    def close(self) -> None:
        """Drop what was named, stop every child (a parse still running fails with it), end the threads."""
        self._named.clear()
        for future in self._started.values():
            future.cancel()
        self._started.clear()
        for worker in self._workers:
            worker.close()
        self._threads.shutdown(wait=True)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_more(self) -> None:
        while self._named and len(self._started) < self._window:
            path = self._named.popleft()
            if path not in self._started:
                self._started[path] = self._threads.submit(self._parse, path)

    def _parse(self, path: Path) -> ParsedDocument:
        worker = self._idle.get()
        try:
            return worker(path)
        finally:
            self._idle.put(worker)
