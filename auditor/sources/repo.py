"""Collects a platform repo's table templates and SQL docs into an Inventory.

Discovery (auditor.sources.discovery) says which files to look at; each is loaded as a
template or a SQL doc, or skipped with the reason. Besides the inventory, the collection
says how every file was classified. Skipped files are not inputs of the audit: they are
listed there, not in the inventory's manifest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from auditor.model import (
    CoverageGap,
    DiscoveredInput,
    InputFile,
    InputKind,
    Inventory,
    Problem,
    TableSchema,
)
from auditor.sources.discovery import (
    Candidate,
    CandidateKind,
    DiscoveryOptions,
    find_candidates,
    scope_of,
)
from auditor.sources.sniff import Claim
from auditor.sources.sqldocs import load_sql_doc
from auditor.sources.templates import load_template


@dataclass(frozen=True)
class RepoInputs:
    inventory: Inventory
    discovered: tuple[DiscoveredInput, ...]  # every file looked at, how it was classified


def collect_repo(
    root: Path,
    template_globs: Sequence[str] | None = None,
    *,
    options: DiscoveryOptions | None = None,
) -> Inventory:
    """Load every template and SQL doc under root (see collect_inputs). `template_globs`
    names the templates (shorthand for options with those globs); neither: discovery's
    defaults."""
    if options is None:
        options = DiscoveryOptions(
            templates=tuple(template_globs) if template_globs is not None else None
        )
    return collect_inputs(root, options).inventory


def collect_inputs(root: Path, options: DiscoveryOptions) -> RepoInputs:
    """Load every template and SQL doc under root, and say how each discovered file was
    classified. Never raises for a bad file: it is a problem (and a coverage gap when nothing
    of it could be read). Raises InputError when a folder cannot be listed, and
    ScopeConflict when a template matches the globs of two scopes.
    """
    collected = _Collected()
    for candidate in find_candidates(root, options):
        if candidate.excluded_by is not None:
            reason = f"excluded by {candidate.excluded_by!r}"
            collected.discovered.append(
                DiscoveredInput(candidate.rel, InputKind.SKIPPED, reason=reason)
            )
            continue
        if candidate.kind is CandidateKind.JSON:
            collected.template(candidate, root, options)
        else:
            collected.sql_doc(candidate, root, options)
    inventory = Inventory(
        root=str(root),
        templates=tuple(collected.templates),
        sql_tables=tuple(collected.sql_tables),
        problems=tuple(collected.problems),
        gaps=tuple(collected.gaps),
        inputs=tuple(collected.inputs),
    )
    return RepoInputs(inventory, tuple(collected.discovered))


class _Collected:
    def __init__(self) -> None:
        self.templates: list[TableSchema] = []
        self.sql_tables: list[TableSchema] = []
        self.problems: list[Problem] = []
        self.gaps: list[CoverageGap] = []
        self.inputs: list[InputFile] = []
        self.discovered: list[DiscoveredInput] = []

    def template(self, candidate: Candidate, root: Path, options: DiscoveryOptions) -> None:
        load = load_template(candidate.path, root, claim=candidate.claim)
        if load.skipped is not None:
            self.discovered.append(
                DiscoveredInput(load.path, InputKind.SKIPPED, reason=load.skipped)
            )
            return
        scope = scope_of(load.path, options)
        self.discovered.append(DiscoveredInput(load.path, InputKind.TEMPLATE, scope=scope))
        self.inputs.append(_input_file(candidate.path, root))
        self.problems.extend(load.problems)
        unread = [p for p in load.problems if p.unread]
        self.gaps.extend(CoverageGap(load.path, str(p)) for p in unread)
        if load.table is not None:
            self.templates.append(load.table)
        elif not unread:
            self.gaps.append(CoverageGap(load.path, "template could not be used"))

    def sql_doc(self, candidate: Candidate, root: Path, options: DiscoveryOptions) -> None:
        doc = load_sql_doc(
            candidate.path,
            root,
            dialect=options.sql_dialect,
            claimed=candidate.claim is Claim.NAMED,
        )
        if doc.skipped is not None:
            self.discovered.append(DiscoveredInput(doc.path, InputKind.SKIPPED, reason=doc.skipped))
            return
        self.discovered.append(DiscoveredInput(doc.path, InputKind.SQL_DOC, dialect=doc.dialect))
        self.inputs.append(_input_file(candidate.path, root))
        self.problems.extend(doc.problems)
        self.sql_tables.extend(doc.tables)
        # Statements that did not parse hide whatever tables they define.
        self.gaps.extend(CoverageGap(doc.path, str(p)) for p in doc.problems if p.unread)


def _input_file(path: Path, root: Path) -> InputFile:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 16), b""):
                digest.update(block)
    except OSError:
        # The loader reports the unreadable file; the manifest still lists it.
        return InputFile(path.relative_to(root).as_posix(), "")
    return InputFile(path.relative_to(root).as_posix(), digest.hexdigest())
