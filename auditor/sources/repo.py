"""Collects a platform repo's table templates and SQL docs into an Inventory."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from auditor.model import CoverageGap, InputFile, Inventory, Problem, TableSchema
from auditor.sources.sqldocs import discover_sql_docs, load_sql_doc
from auditor.sources.templates import DEFAULT_TEMPLATE_GLOBS, discover_templates, load_template


def collect_repo(root: Path, template_globs: Sequence[str] = DEFAULT_TEMPLATE_GLOBS) -> Inventory:
    """Load every template and SQL doc under root. Never raises for a bad file: it is a problem
    (and a coverage gap when nothing of it could be read)."""
    templates: list[TableSchema] = []
    sql_tables: list[TableSchema] = []
    problems: list[Problem] = []
    gaps: list[CoverageGap] = []
    inputs: list[InputFile] = []

    for path in discover_templates(root, template_globs):
        inputs.append(_input_file(path, root))
        load = load_template(path, root)
        problems.extend(load.problems)
        unread = [p for p in load.problems if p.unread]
        gaps.extend(CoverageGap(load.path, str(p)) for p in unread)
        if load.table is not None:
            templates.append(load.table)
        elif not unread:
            gaps.append(CoverageGap(load.path, "template could not be used"))

    for path in discover_sql_docs(root):
        inputs.append(_input_file(path, root))
        doc = load_sql_doc(path, root)
        problems.extend(doc.problems)
        sql_tables.extend(doc.tables)
        # Statements that did not parse hide whatever tables they define.
        gaps.extend(CoverageGap(doc.path, str(p)) for p in doc.problems if p.unread)

    return Inventory(
        root=str(root),
        templates=tuple(templates),
        sql_tables=tuple(sql_tables),
        problems=tuple(problems),
        gaps=tuple(gaps),
        inputs=tuple(inputs),
    )


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
