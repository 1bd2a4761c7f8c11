"""Sources: folders or mounted shares to keep in step with the index, and what is taken from them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ingest.errors import SourceUnavailable


@dataclass(frozen=True)
class Source:
    """One declared source. Document ids are `name/relative/path`, so `name` must stay stable."""

    name: str
    path: Path
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = 200 << 20
    schedule: str = ""  # cron; empty: only on demand


def discover_source(source: Source) -> list[tuple[str, Path]]:
    """(document source key, path) of every regular file the source takes, sorted.

    Hidden entries and symlinks are skipped (a link could point outside the share).
    """
    root = Path(source.path).resolve()
    if not root.is_dir():
        raise SourceUnavailable(f"source '{source.name}': {root} is not a folder", hint="check the share is mounted")
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        if not any(glob_match(rel, g) for g in source.include) or any(glob_match(rel, g) for g in source.exclude):
            continue
        found.append((f"{source.name}/{rel}", path))
    return found


def glob_match(rel: str, pattern: str) -> bool:
    """Match a relative posix path against a glob where `**` spans folders and `*` does not."""
    return _compile(pattern).fullmatch(rel) is not None


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.IGNORECASE)
