"""Baselines: the findings that already existed, by fingerprint, so only new ones block a merge.

A baseline comes from a previous JSON report, or from auditing the tree of a git ref
(`checkout_ref` extracts it; the caller runs the audit there).
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from auditor import limits
from auditor.errors import InputError
from auditor.io.jsonpos import load_json_value
from auditor.model import Finding, Status

BASELINE_STATUSES = frozenset({Status.FAIL, Status.ERROR, Status.WAIVED})
_STATUS_VALUES = frozenset(s.value for s in Status)
# Variables that would point git at another repository than the one we name with -C.
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX")


def fingerprints_from_report(path: Path) -> frozenset[str]:
    """Fingerprints of the FAIL, ERROR and WAIVED findings of a previous JSON report."""
    name = str(path)
    try:
        if path.stat().st_size > limits.MAX_REPORT_BYTES:
            too_big = f"file is larger than {limits.size_text(limits.MAX_REPORT_BYTES)}; not read"
            raise InputError(name, too_big)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(name, f"not UTF-8 text (byte offset {exc.start})") from None
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None
    try:
        report = load_json_value(
            text, name, max_depth=limits.MAX_REPORT_DEPTH, max_bytes=limits.MAX_REPORT_BYTES
        )
    except json.JSONDecodeError as exc:
        message = f"invalid JSON: {exc.msg} (column {exc.colno})"
        raise InputError(name, message, exc.lineno) from None
    if not isinstance(report, dict) or not isinstance(report.get("findings"), list):
        raise InputError(name, "not an auditor JSON report: no 'findings' list at the top level")
    return frozenset(_fingerprints(name, report["findings"]))


def _fingerprints(name: str, findings: Iterable[Any]) -> Iterable[str]:
    for i, item in enumerate(findings):
        if not isinstance(item, dict):
            raise InputError(name, f"findings[{i}]: expected an object")
        status, fingerprint = item.get("status"), item.get("fingerprint")
        if not isinstance(status, str) or status not in _STATUS_VALUES:  # a list is unhashable
            raise InputError(name, f"findings[{i}]: unknown status {status!r}")
        if not isinstance(fingerprint, str) or not fingerprint:
            raise InputError(name, f"findings[{i}]: missing 'fingerprint'")
        if Status(status) in BASELINE_STATUSES:
            yield fingerprint


def mark_baseline(findings: Iterable[Finding], fingerprints: frozenset[str]) -> tuple[Finding, ...]:
    """Set in_baseline on the FAIL/ERROR/WAIVED findings whose fingerprint is in the baseline."""
    return tuple(
        replace(f, in_baseline=True)
        if f.status in BASELINE_STATUSES and f.fingerprint in fingerprints
        else f
        for f in findings
    )


def checkout_ref(repo: Path, ref: str, dest: Path) -> Path:
    """Extract the tree of git `ref` into `dest`; return the folder there that matches `repo`.

    `repo` may be the repository's top level or a folder inside it; the result is then the
    same folder inside `dest` (created empty when the ref does not have it). Nothing in the
    repository changes. InputError carries git's message when git fails.
    """
    name = str(repo)
    if not ref or ref.startswith("-"):
        raise InputError(name, f"invalid git ref {ref!r}")
    found = _git(repo, "rev-parse", "--show-toplevel", "--show-prefix", what="not a git repository")
    toplevel, prefix = os.fsdecode(found).split("\n")[:2]
    commit = _git(repo, "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}",
                  what=f"unknown git ref '{ref}'").decode().strip()
    dest.mkdir(parents=True, exist_ok=True)
    root = dest / prefix if prefix else dest
    if prefix and not _has_tree(repo, f"{commit}:{prefix}"):
        root.mkdir(parents=True, exist_ok=True)
        return root
    with tempfile.TemporaryFile() as archive:
        pathspec = ["--", prefix] if prefix else []
        _git(Path(toplevel), "archive", "--format=tar", commit, *pathspec, stdout=archive)
        archive.seek(0)
        with tarfile.open(fileobj=archive, mode="r:") as tar:
            tar.extractall(dest, filter=_safe_member)  # noqa: S202  (data filter below)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _safe_member(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter, skipping (not failing on) links that leave the tree."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


def _has_tree(repo: Path, spec: str) -> bool:
    try:
        _git(repo, "cat-file", "-e", spec)
    except InputError:
        return False
    return True


def _git(repo: Path, *args: str, what: str = "git failed", stdout: Any = None) -> bytes:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            stdout=subprocess.PIPE if stdout is None else stdout,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        raise InputError(str(repo), "git is not installed (or not on PATH)") from None
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
        raise InputError(str(repo), f"{what}: {detail}")
    return done.stdout or b""
