"""The policy pack a run evaluated, as evidence: each rule file with its SHA-256.

The loader has parsed these files already; they are read once more here, by path, only to
hash them (rule files are small). A file that cannot be read now gets an empty digest,
which the manifest shows as unreadable rather than leaving it out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from auditor import __version__
from auditor.model import InputFile, PolicyPack
from auditor.policy.rule import Rule
from auditor.resources import POLICIES_DIR


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _shown(path: Path) -> tuple[str, bool]:
    """The path as the manifest names it, and whether it is in the shipped pack."""
    try:
        return f"policies/{path.resolve().relative_to(POLICIES_DIR.resolve()).as_posix()}", True
    except ValueError:
        return str(path), False


def policy_pack(rules: Sequence[Rule]) -> PolicyPack | None:
    """The files of `rules` (those loaded from a file), sorted by path; None when no rule
    came from a file (rules built in code, as tests do)."""
    files: dict[str, InputFile] = {}
    shipped = True
    for rule in rules:
        if rule.source is None:
            continue
        path = Path(rule.source.path)
        shown, ours = _shown(path)
        shipped = shipped and ours
        if shown not in files:
            files[shown] = InputFile(shown, _digest(path))
    if not files:
        return None
    origin = f"the default pack of auditor {__version__}" if shipped else "custom (--policies)"
    return PolicyPack(files=tuple(files[k] for k in sorted(files)), origin=origin)


__all__ = ["policy_pack"]
