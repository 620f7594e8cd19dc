"""Which files under a platform repo the gate looks at, and which scope each template serves.

Without configured globs, discovery finds what a person would call a BigQuery schema:
`*.bq` and `*.schema` files anywhere, `*.json` files inside a `schema/`, `schemas/` or
`templates/` folder (also `json_schemas/`, `bq_schemas/` ...; the scanned root counts too,
so a repository checked out as `bigquery-schema/` is one) or with "schema" in their name,
schema files wherever the tenant/customers/other globs point, and every `*.sql` file. Each
is then asked whether it is one (auditor.sources.sniff, auditor.sources.sqlkind) and skipped
with the reason when not. Configured `templates`/`sql_docs` globs name files outright: those
are templates or SQL docs whatever they hold.

Globs are matched against root-relative posix paths (auditor.io.files.glob_match).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from auditor.errors import InputError
from auditor.io.files import glob_match, walk_files
from auditor.model import TemplateScope
from auditor.sources.sniff import Claim

DEFAULT_DIALECT = "bigquery"
# Folder names (and name endings: json_schemas/, bq_schemas/) that hold schema files.
SCHEMA_FOLDER_SUFFIXES = ("schema", "schemas", "templates")
# Extensions of BigQuery schema files besides .json: Mozilla's generated `.bq`, and `.schema`.
SCHEMA_EXTENSIONS = (".bq", ".schema")


class CandidateKind(StrEnum):
    JSON = "json"  # a template candidate: JSON text
    SQL = "sql"


@dataclass(frozen=True)
class DiscoveryOptions:
    """Where the inputs are. None for `templates`/`sql_docs`: find them by the defaults."""

    templates: tuple[str, ...] | None = None
    sql_docs: tuple[str, ...] | None = None
    sql_dialect: str = DEFAULT_DIALECT
    tenant: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    path: Path
    rel: str  # root-relative, posix
    kind: CandidateKind
    claim: Claim  # how firmly it is an input (see auditor.sources.sniff.Claim)
    excluded_by: str | None = None  # the exclude glob that matched: listed, never read


class ScopeConflict(InputError):
    """A template path matches the globs of two scopes (tenant and customers, say)."""


def find_candidates(root: Path, options: DiscoveryOptions) -> list[Candidate]:
    """Every file under root that discovery looks at, sorted by path. Raises InputError when
    root or a folder under it cannot be listed."""
    found: dict[str, Candidate] = {}
    root_is_schema_folder = root.resolve().name.lower().endswith(SCHEMA_FOLDER_SUFFIXES)

    def keep(rel: str) -> bool:
        kind = _candidate_kind(rel, options, root_is_schema_folder)
        if kind is None:
            return False
        excluded = next((g for g in options.exclude if glob_match(rel, g)), None)
        found[rel] = Candidate(Path(), rel, kind, _claim(rel, kind, options), excluded)
        return True

    paths = walk_files(root, keep)
    return [
        Candidate(path, rel, c.kind, c.claim, c.excluded_by)
        for path in paths
        for rel in [path.relative_to(root).as_posix()]
        for c in [found[rel]]
    ]


def scope_of(rel: str, options: DiscoveryOptions) -> TemplateScope:
    """The scope a template at `rel` serves: the one scope whose globs match it, else other.
    Raises ScopeConflict when globs of two scopes match (ambiguity is a config error: a
    carve-out of the tenant folder would hide templates the onboarding engine loads)."""
    matches = [
        (scope, glob)
        for scope, globs in (
            (TemplateScope.TENANT, options.tenant),
            (TemplateScope.CUSTOMERS, options.customers),
            (TemplateScope.OTHER, options.other),
        )
        for glob in globs
        if glob_match(rel, glob)
    ]
    scopes = {scope for scope, _ in matches}
    if len(scopes) > 1:
        shown = "; ".join(f"{scope.value} ({glob!r})" for scope, glob in matches)
        raise ScopeConflict(rel, f"matches the paths of more than one scope: {shown}")
    return matches[0][0] if matches else TemplateScope.OTHER


def _candidate_kind(
    rel: str, options: DiscoveryOptions, root_is_schema_folder: bool
) -> CandidateKind | None:
    if options.templates is not None:
        if any(glob_match(rel, g) for g in options.templates):
            return CandidateKind.JSON
    elif _default_template(rel, root_is_schema_folder) or _scoped_template(rel, options):
        return CandidateKind.JSON
    if options.sql_docs is not None:
        if any(glob_match(rel, g) for g in options.sql_docs):
            return CandidateKind.SQL
    elif rel.lower().endswith(".sql"):
        return CandidateKind.SQL
    return None


def _claim(rel: str, kind: CandidateKind, options: DiscoveryOptions) -> Claim:
    globs = options.templates if kind is CandidateKind.JSON else options.sql_docs
    if globs is not None:
        return Claim.NAMED
    if kind is CandidateKind.JSON and any(
        glob_match(rel, g) for g in (*options.tenant, *options.customers)
    ):
        return Claim.SCOPED
    return Claim.FOUND


def _scoped_template(rel: str, options: DiscoveryOptions) -> bool:
    """A schema file where the config says tenant, customers or other templates are, in any
    folder."""
    if PurePosixPath(rel.lower()).suffix not in (".json", *SCHEMA_EXTENSIONS):
        return False
    scoped = (*options.tenant, *options.customers, *options.other)
    return any(glob_match(rel, g) for g in scoped)


def _default_template(rel: str, root_is_schema_folder: bool) -> bool:
    path = PurePosixPath(rel.lower())
    if path.suffix in SCHEMA_EXTENSIONS:
        return True
    if path.suffix != ".json":
        return False
    in_schema_folder = root_is_schema_folder or any(
        folder.endswith(SCHEMA_FOLDER_SUFFIXES) for folder in path.parent.parts
    )
    return in_schema_folder or "schema" in path.stem
