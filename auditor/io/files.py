"""Reading input files safely: bounded, decoded, and walked without silent skips."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from auditor.errors import InputError
from auditor.limits import size_text

# Folders that never hold the platform's schemas, only tooling.
SKIPPED_DIRS = frozenset({"node_modules", ".venv", "venv", "__pycache__"})


class Unreadable(StrEnum):
    """Why a file was not read: a failure (I/O, not a regular file), or what it holds (not
    UTF-8 text, over the size limit). Discovery skips the latter for files nobody named as
    inputs; the former is always a coverage gap."""

    FAILED = "failed"
    NOT_TEXT = "not_text"
    TOO_LARGE = "too_large"


class UnreadableFile(Exception):
    """A file that cannot be read as text; `line` is set when the bad byte's line is known."""

    def __init__(
        self, message: str, line: int | None = None, kind: Unreadable = Unreadable.FAILED
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.kind = kind


def read_text_bounded(
    path: Path, max_bytes: int, what: str = "file", encoding: str = "utf-8-sig"
) -> str:
    """The file as UTF-8 text (by default a BOM is dropped); UnreadableFile when it is not a
    regular file, cannot be read, is larger than max_bytes, or is not UTF-8."""
    try:
        regular = path.is_file()
    except (OSError, ValueError):  # e.g. EACCES on stat, or a NUL in the name
        regular = False
    if not regular:
        raise UnreadableFile("not a readable regular file")
    try:
        if path.stat().st_size > max_bytes:  # refused before a byte of it is read
            raise UnreadableFile(
                f"{what} is larger than {size_text(max_bytes)}; not read",
                kind=Unreadable.TOO_LARGE,
            )
        with path.open("rb") as handle:
            data = read_at_most(handle, max_bytes + 1)  # bounded even if the file grows
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or type(exc).__name__}") from None
    if len(data) > max_bytes:
        raise UnreadableFile(
            f"{what} is larger than {size_text(max_bytes)}; not read", kind=Unreadable.TOO_LARGE
        )
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            "file is not valid UTF-8", data[: exc.start].count(b"\n") + 1, Unreadable.NOT_TEXT
        ) from None


def read_at_most(handle: BinaryIO, limit: int) -> bytes:
    """Up to `limit` bytes, in blocks: read(limit) would allocate all of `limit` up front
    (64 MiB for every small export file), whatever the file's size."""
    blocks: list[bytes] = []
    left = limit
    while left > 0:
        block = handle.read(min(left, 1 << 20))
        if not block:
            break
        blocks.append(block)
        left -= len(block)
    return b"".join(blocks)


def glob_match(path: str, pattern: str) -> bool:
    """Whether a root-relative posix path matches a glob. As in policy scopes, `*` also
    matches `/` (fnmatch); in addition `**/` may match no folder at all, so that
    `schemas/**/*.json` also matches `schemas/a.json`. Case-sensitive."""
    return _glob_regex(pattern).fullmatch(path) is not None


@lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[" and (close := pattern.find("]", i + 2)) > 0:
            body = pattern[i + 1 : close]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def walk_files(root: Path, keep: Callable[[str], bool]) -> list[Path]:
    """Regular files under root whose root-relative posix path `keep` accepts, sorted by that
    path. Hidden folders and tooling folders are skipped; an unlistable folder raises
    InputError, since a silently skipped folder would look like a folder without inputs."""
    if not root.is_dir():
        raise InputError(root.as_posix(), "not a directory")

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        raise InputError(
            relative(where, root), f"cannot list folder: {exc.strerror or type(exc).__name__}"
        )

    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS]
        folder = Path(dirpath)
        for name in filenames:
            candidate = folder / name
            rel = candidate.relative_to(root).as_posix()
            if keep(rel) and _maybe_regular(candidate):
                found.append((rel, candidate))
    return [path for _, path in sorted(found)]


def _maybe_regular(path: Path) -> bool:
    """False for FIFOs, sockets and broken links; True when unsure, so loading reports it."""
    try:
        return path.is_file()
    except OSError:
        return True
