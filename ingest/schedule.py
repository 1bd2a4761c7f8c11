"""Run each source's cron schedule: one sync at a time, a missed slot runs once, a failure waits for the next."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ingest.errors import IngestError
from ingest.sources import Source


def check_cron(expression: str) -> None:
    """Raise an IngestError when `expression` is not a valid 5-field cron schedule."""
    from croniter import croniter

    if not croniter.is_valid(expression):
        raise IngestError(f"'{expression}' is not a cron schedule", hint='use 5 fields, e.g. "0 * * * *" (hourly)')


def next_due(expression: str, after: datetime) -> datetime:
    """The first time strictly after `after` that the cron expression names (UTC)."""
    from croniter import croniter

    check_cron(expression)
    return croniter(expression, after).get_next(datetime)


class Scheduler:
    """Waits for the next due source(s) and calls `run` with them; stops when `stop` is set."""

    def __init__(
        self,
        sources: Sequence[Source],
        run: Callable[[list[Source]], object],
        on_error: Callable[[Exception], None] = lambda exc: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sources = [s for s in sources if s.schedule]
        for s in self._sources:
            check_cron(s.schedule)
        self._run = run
        self._on_error = on_error
        self._now = now

    def due_times(self, after: datetime) -> dict[str, datetime]:
        """When each scheduled source runs next."""
        return {s.name: next_due(s.schedule, after) for s in self._sources}

    def run_until(self, stop: threading.Event) -> None:
        """Loop: sleep until the earliest due time, run every source due by then, repeat."""
        if not self._sources:
            raise IngestError("no source has a schedule", hint="set ingest.sources[].schedule, e.g. \"0 * * * *\"")
        due = self.due_times(self._now())
        while not stop.is_set():
            soonest = min(due.values())
            wait = (soonest - self._now()).total_seconds()
            if wait > 0 and stop.wait(min(wait, 60.0)):
                return
            now = self._now()
            ready = [s for s in self._sources if due[s.name] <= now]
            if not ready:
                continue
            try:
                self._run(ready)
            except IngestError as exc:  # already running, a share not mounted: try again at the next slot
                self._on_error(exc)
            after = self._now()
            for s in ready:
                due[s.name] = next_due(s.schedule, after)
