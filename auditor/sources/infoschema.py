"""The fast path of the live collector: a whole region's schemas from INFORMATION_SCHEMA.

One query per view (COLUMN_FIELD_PATHS, COLUMNS, TABLES, VIEWS, TABLE_OPTIONS,
SCHEMATA_OPTIONS) for the whole region replaces one tables.get call per table. Access entries
and table IAM are not in INFORMATION_SCHEMA; the caller still reads those per object.

Nothing here trusts an answer it cannot check. `read_region` rebuilds what it can and says
why it could not use the rest: `blockers` (no table of the region can be trusted: a view could
not be read at all) and `rejected` (one table's rows are implausible). A view that fails only
on its policy_tags column is read again without it (`policy_tags` False: the schemas carry no
policy tags). auditor.sources.fastplan then compares the snapshot with what the per-object API
listed and decides, per table, between a rebuilt Table and the reason to read it one by one;
the GoogleSQL type and literal parsers are in auditor.sources.gsql.

SQL: the only names formatted into SQL are the project and the region, each checked against
a strict pattern and backtick-quoted (`sql_identifier`); dataset names never go into SQL
(the answers are filtered here). Queries run through an injected `RunQuery`, so this module
does no I/O of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from auditor.errors import UsageError
from auditor.model import Field, Table

# The GoogleSQL parsers moved to auditor.sources.gsql; their names stay importable here.
from auditor.sources.gsql import SCALAR_TYPES as SCALAR_TYPES
from auditor.sources.gsql import Malformed as Malformed
from auditor.sources.gsql import Member as Member
from auditor.sources.gsql import ParsedType as ParsedType
from auditor.sources.gsql import labels_option, parse_type, string_option
from auditor.sources.gsql import parse_literal as parse_literal
from auditor.sources.gsql import unquote_string as unquote_string

TableKey = tuple[str, str]  # (dataset_id, table_id)

# --------------------------------------------------------------------------- identifiers

# Project ids, optionally with a domain prefix (example.com:my-project).
PROJECT_RE = re.compile(r"(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
# Multi-regions (us, eu) and regions (us-central1, europe-west4, northamerica-northeast1).
REGION_RE = re.compile(r"[a-z]{2,}(?:-[a-z]+[0-9]{1,2})?")
DATASET_RE = re.compile(r"[A-Za-z0-9_]{1,1024}")


class UnsafeIdentifier(UsageError):
    """A name that would go into SQL does not match its strict pattern."""


_PATTERNS = {"project": PROJECT_RE, "region": REGION_RE, "dataset": DATASET_RE}


def sql_identifier(kind: str, value: str) -> str:
    """`value` backtick-quoted, after checking it against the strict pattern for `kind`.

    kind is "project", "region" or "dataset". Raises UnsafeIdentifier for anything else,
    so an unchecked name can never be formatted into SQL.
    """
    pattern = _PATTERNS.get(kind)
    if pattern is None:
        raise UnsafeIdentifier(f"unknown identifier kind {kind!r}")
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise UnsafeIdentifier(f"invalid {kind} name {value!r} (must match {pattern.pattern})")
    return f"`{value}`"


def is_valid_dataset_id(value: str) -> bool:
    return DATASET_RE.fullmatch(value) is not None


class View(StrEnum):
    """The region-wide INFORMATION_SCHEMA views the fast path reads."""

    COLUMN_FIELD_PATHS = "COLUMN_FIELD_PATHS"
    COLUMNS = "COLUMNS"
    TABLES = "TABLES"
    VIEWS = "VIEWS"
    TABLE_OPTIONS = "TABLE_OPTIONS"
    SCHEMATA_OPTIONS = "SCHEMATA_OPTIONS"


# Columns selected from each view (all of them must come back).
_SELECT: Mapping[View, tuple[str, ...]] = {
    View.COLUMN_FIELD_PATHS: (
        "table_schema", "table_name", "column_name", "field_path", "data_type", "description",
    ),
    View.COLUMNS: (
        "table_schema", "table_name", "column_name", "ordinal_position", "is_nullable",
        "data_type", "is_system_defined",
    ),
    View.TABLES: ("table_schema", "table_name", "table_type"),
    View.VIEWS: ("table_schema", "table_name", "view_definition"),
    View.TABLE_OPTIONS: ("table_schema", "table_name", "option_name", "option_value"),
    View.SCHEMATA_OPTIONS: ("schema_name", "option_name", "option_value"),
}  # fmt: skip
POLICY_TAGS_COLUMN = "policy_tags"


def region_query(project: str, region: str, view: View, extra: Sequence[str] = ()) -> str:
    """The SELECT for one region-wide view; project and region are validated and quoted."""
    columns = (*_SELECT[View(view)], *extra)
    for column in columns:
        if re.fullmatch(r"[a-z_]+", column) is None:  # our own constants; belt and braces
            raise UnsafeIdentifier(f"invalid column name {column!r}")
    # The qualifier is `region-<region>`: the bare region is validated, the prefix is ours.
    source = f"{sql_identifier('project', project)}.`region-{_checked_region(region)}`"
    # Only checked names and our own constants are formatted in.
    view_name = View(view).value
    return f"SELECT {', '.join(columns)} FROM {source}.INFORMATION_SCHEMA.{view_name}"  # noqa: S608


def _checked_region(region: str) -> str:
    sql_identifier("region", region)
    return region


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class QueryAnswer:
    """A finished query: the column names it returned and its rows."""

    columns: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]


class QueryFailed(Exception):
    """A query could not be run; `reason` says why (status code and short message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Runs one query (with the caller's retries) and returns its answer, or raises QueryFailed.
RunQuery = Callable[[str], QueryAnswer]




@dataclass(frozen=True)
class DatasetOptions:
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    default_kms_key: str | None = None


@dataclass(frozen=True)
class RegionSnapshot:
    """What INFORMATION_SCHEMA said about one region, and how far it can be trusted."""

    region: str
    tables: Mapping[TableKey, Table]  # rebuilt and plausible on their own (iam is None)
    rejected: Mapping[TableKey, str]  # present but not usable, and why
    dataset_options: Mapping[str, DatasetOptions]
    blockers: tuple[str, ...]  # why no table of this region can be trusted at all
    queries: int
    policy_tags: bool  # whether policy tags were read
    notes: tuple[str, ...] = ()  # what was read differently (e.g. without policy tags)


def read_region(
    run_query: RunQuery,
    project: str,
    region: str,
    datasets: Collection[str] | None = None,
) -> RegionSnapshot:
    """Read the region's schemas with one query per view and rebuild the tables.

    `datasets` limits the answer to those dataset ids (filtered here, never in SQL).
    COLUMN_FIELD_PATHS is read with its policy_tags column, and again without it when that
    fails: the tables are then rebuilt without policy tags (`policy_tags` False, and a note
    says why); reconcile() sends the tables of datasets that need them to the API.
    Raises UnsafeIdentifier for an invalid project or region; never raises for an answer.
    """
    sql_identifier("project", project)
    sql_identifier("region", region)
    reader = _Reader(run_query, project, region, datasets)
    tables: dict[TableKey, Table] = {}
    rejected: dict[TableKey, str] = {}
    dataset_options: dict[str, DatasetOptions] = {}
    with_tags = False
    try:
        paths, with_tags = reader.field_paths()
        columns = reader.columns()
        types = reader.table_types()
        views = reader.views()
        options = reader.table_options()
        dataset_options = reader.schemata_options()
        keys = set(types) | set(columns) | set(paths) | set(views) | set(options)
        for key in sorted(keys):
            if key in reader.duplicates:
                rejected[key] = reader.duplicates[key]
                continue
            try:
                tables[key] = _rebuild(
                    project,
                    key,
                    types.get(key),
                    columns.get(key),
                    paths.get(key, {}),
                    views.get(key),
                    options.get(key),
                )
            except Malformed as exc:
                rejected[key] = str(exc)
    except _Blocked:
        tables, rejected, dataset_options = {}, {}, {}
    return RegionSnapshot(
        region=region,
        tables=tables,
        rejected=rejected,
        dataset_options=dataset_options,
        blockers=tuple(reader.blockers),
        queries=reader.queries,
        policy_tags=with_tags,
        notes=tuple(reader.notes),
    )


class _Blocked(Exception):
    """Internal: a view could not be read, so nothing from this region can be trusted."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Path:
    data_type: str
    description: str | None
    policy_tags: tuple[str, ...]


@dataclass(frozen=True)
class _Column:
    name: str
    position: int
    nullable: str
    data_type: str


class _Reader:
    """Runs the region queries, checks the shape of each answer, groups rows by table.

    A failed query, a missing column or a malformed row makes the whole view unreadable:
    it is recorded in `blockers` and _Blocked is raised.
    """

    def __init__(
        self, run_query: RunQuery, project: str, region: str, datasets: Collection[str] | None
    ) -> None:
        self._run = run_query
        self._project = project
        self._region = region
        self._datasets = None if datasets is None else frozenset(datasets)
        self.queries = 0
        self.blockers: list[str] = []
        self.notes: list[str] = []
        # Tables with more than one row where one is expected (a view, a field path ...).
        self.duplicates: dict[TableKey, str] = {}

    def _rows(self, view: View, extra: Sequence[str] = ()) -> Iterator[Mapping[str, Any]]:
        """The answer's rows for the wanted datasets; QueryFailed if it cannot be had."""
        sql = region_query(self._project, self._region, view, extra)
        self.queries += 1
        answer = self._run(sql)
        missing = [c for c in (*_SELECT[view], *extra) if c not in answer.columns]
        if missing:
            raise QueryFailed(f"malformed answer: no {', '.join(missing)} column")
        dataset_column = "schema_name" if view is View.SCHEMATA_OPTIONS else "table_schema"
        for row in answer.rows:
            dataset = row.get(dataset_column)
            if not isinstance(dataset, str):
                raise QueryFailed(f"malformed answer: a row without {dataset_column}")
            if self._datasets is None or dataset in self._datasets:
                yield row

    def _block(self, view: View, reason: str) -> _Blocked:
        self.blockers.append(f"INFORMATION_SCHEMA.{view.value} could not be read: {reason}")
        return _Blocked(reason)

    def _single(self, view: View, grouped: dict[TableKey, list[Any]]) -> dict[TableKey, Any]:
        for key, items in grouped.items():
            if len(items) != 1:
                self.duplicates[key] = f"several rows for the table in {view.value}"
        return {key: items[0] for key, items in grouped.items()}

    def _grouped(
        self, view: View, build: Callable[[Mapping[str, Any]], Any], extra: Sequence[str] = ()
    ) -> dict[TableKey, list[Any]]:
        out: dict[TableKey, list[Any]] = {}
        try:
            for row in self._rows(view, extra):
                out.setdefault(_key(row), []).append(build(row))
        except QueryFailed as exc:
            raise self._block(view, exc.reason) from None
        except Malformed as exc:
            raise self._block(view, f"malformed answer: {exc}") from None
        return out

    def field_paths(self) -> tuple[dict[TableKey, dict[str, _Path]], bool]:
        def build_with(tags: bool) -> Callable[[Mapping[str, Any]], tuple[str, _Path]]:
            def build(row: Mapping[str, Any]) -> tuple[str, _Path]:
                return _text(row, "field_path"), _Path(
                    _text(row, "data_type"),
                    _optional_text(row, "description"),
                    _tags(row.get(POLICY_TAGS_COLUMN)) if tags else (),
                )

            return build

        view = View.COLUMN_FIELD_PATHS
        with_tags = True
        try:
            grouped = self._grouped(view, build_with(True), (POLICY_TAGS_COLUMN,))
        except _Blocked as first:
            # Most likely an engine without the policy_tags column: the schemas may still be
            # there. Read them without it; reconcile() decides where tags are needed.
            self.blockers.pop()
            with_tags = False
            grouped = self._grouped(view, build_with(False))
            self.notes.append(
                f"INFORMATION_SCHEMA.{view.value} could not be read with its policy_tags column "
                f"({first.reason}); schemas from INFORMATION_SCHEMA carry no policy tags"
            )
        out: dict[TableKey, dict[str, _Path]] = {}
        for key, items in grouped.items():
            out[key] = dict(items)
            if len(out[key]) != len(items):
                self.duplicates[key] = f"duplicate field paths in {view.value}"
        return out, with_tags

    def columns(self) -> dict[TableKey, list[_Column]]:
        def build(row: Mapping[str, Any]) -> _Column | None:
            if row.get("is_system_defined") == "YES":  # pseudo-columns such as _PARTITIONTIME
                return None
            position = row.get("ordinal_position")
            if not isinstance(position, int) or isinstance(position, bool):
                raise Malformed("ordinal_position is not an integer")
            return _Column(
                _text(row, "column_name"),
                position,
                _text(row, "is_nullable"),
                _text(row, "data_type"),
            )

        grouped = self._grouped(View.COLUMNS, build)
        return {key: [c for c in items if c is not None] for key, items in grouped.items()}

    def table_types(self) -> dict[TableKey, str]:
        grouped = self._grouped(View.TABLES, lambda r: _text(r, "table_type"))
        return self._single(View.TABLES, grouped)

    def views(self) -> dict[TableKey, str | None]:
        grouped = self._grouped(View.VIEWS, lambda r: _optional_text(r, "view_definition"))
        return self._single(View.VIEWS, grouped)

    def table_options(self) -> dict[TableKey, dict[str, Any]]:
        view = View.TABLE_OPTIONS
        grouped = self._grouped(view, lambda r: (_text(r, "option_name"), r.get("option_value")))
        out = {key: dict(items) for key, items in grouped.items()}
        for key, items in grouped.items():
            if len(out[key]) != len(items):
                self.duplicates[key] = f"duplicate options in {view.value}"
        return out

    def schemata_options(self) -> dict[str, DatasetOptions]:
        view = View.SCHEMATA_OPTIONS
        raw: dict[str, dict[str, Any]] = {}
        try:
            for row in self._rows(view):
                dataset = str(row["schema_name"])
                raw.setdefault(dataset, {})[_text(row, "option_name")] = row.get("option_value")
            return {
                dataset: DatasetOptions(
                    labels=labels_option(options.get("labels")),
                    description=string_option(options.get("description")),
                    default_kms_key=string_option(options.get("default_kms_key_name")),
                )
                for dataset, options in raw.items()
            }
        except QueryFailed as exc:
            raise self._block(view, exc.reason) from None
        except Malformed as exc:
            raise self._block(view, f"malformed answer: {exc}") from None


def _key(row: Mapping[str, Any]) -> TableKey:
    return _text(row, "table_schema"), _text(row, "table_name")


def _text(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{column} is not a non-empty string")
    return value


def _optional_text(row: Mapping[str, Any], column: str) -> str | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Malformed(f"{column} is not a string")
    return value


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise Malformed("policy_tags is not a list of names")


# --------------------------------------------------------------------------- rebuild

_TABLE_TYPES = {"BASE TABLE": "TABLE", "VIEW": "VIEW"}


def _rebuild(
    project: str,
    key: TableKey,
    table_type: str | None,
    columns: list[_Column] | None,
    paths: Mapping[str, _Path],
    view: str | None,
    options: Mapping[str, Any] | None,
) -> Table:
    """One Table from its INFORMATION_SCHEMA rows; Malformed when they do not add up."""
    if table_type is None:
        raise Malformed("not in INFORMATION_SCHEMA.TABLES")
    kind = _TABLE_TYPES.get(table_type)
    if kind is None:
        raise Malformed(f"table type {table_type} is read table by table")
    if not columns:
        raise Malformed("no columns in INFORMATION_SCHEMA.COLUMNS")
    fields = build_fields(columns, paths)
    view_query: str | None = None
    if kind == "VIEW":
        if not view:
            raise Malformed("view definition missing from INFORMATION_SCHEMA.VIEWS")
        view_query = view
    elif view is not None:
        raise Malformed("a table with a view definition")
    opts = options or {}
    try:
        labels = labels_option(opts.get("labels"))
        description = string_option(opts.get("description"))
        kms_key = string_option(opts.get("kms_key_name"))
    except Malformed as exc:
        raise Malformed(f"unreadable INFORMATION_SCHEMA.TABLE_OPTIONS: {exc}") from None
    return Table(
        project=project,
        dataset_id=key[0],
        table_id=key[1],
        type=kind,
        fields=fields,
        view_query=view_query,
        kms_key=kms_key,
        labels=labels,
        description=description,
    )


def build_fields(columns: Sequence[_Column], paths: Mapping[str, _Path]) -> tuple[Field, ...]:
    """Nested Field trees from COLUMNS rows (structure, order, top-level NOT NULL) and
    COLUMN_FIELD_PATHS rows (descriptions, policy tags). Every field path must appear in both
    and agree on its type; otherwise Malformed.
    """
    ordered = sorted(columns, key=lambda c: c.position)
    if len({c.position for c in ordered}) != len(ordered):
        raise Malformed("duplicate ordinal_position in INFORMATION_SCHEMA.COLUMNS")
    seen: set[str] = set()
    fields: list[Field] = []
    for column in ordered:
        try:
            parsed = parse_type(column.data_type)
        except Malformed as exc:
            raise Malformed(f"column type of {column.name} cannot be parsed: {exc}") from None
        if parsed.repeated:
            mode = "REPEATED"
        elif column.nullable == "NO":
            mode = "REQUIRED"
        elif column.nullable == "YES":
            mode = "NULLABLE"
        else:
            raise Malformed(f"is_nullable of {column.name} is {column.nullable!r}")
        fields.append(_field(column.name, parsed, mode, column.name, paths, seen))
    extra = sorted(set(paths) - seen)
    if extra:
        raise Malformed(f"field paths not in any column type: {', '.join(extra[:3])}")
    return tuple(fields)


def _field(
    name: str,
    parsed: ParsedType,
    mode: str,
    path: str,
    paths: Mapping[str, _Path],
    seen: set[str],
) -> Field:
    if path in seen:
        raise Malformed(f"duplicate field path {path}")
    seen.add(path)
    info = paths.get(path)
    if info is None:
        raise Malformed(f"field path {path} missing from INFORMATION_SCHEMA.COLUMN_FIELD_PATHS")
    try:
        stated = parse_type(info.data_type)
    except Malformed as exc:
        raise Malformed(f"type of field path {path} cannot be parsed: {exc}") from None
    if stated != parsed:
        raise Malformed(f"COLUMNS and COLUMN_FIELD_PATHS disagree on the type of {path}")
    children = tuple(
        _field(
            member.name,
            member.type,
            "REPEATED" if member.type.repeated else "REQUIRED" if member.not_null else "NULLABLE",
            f"{path}.{member.name}",
            paths,
            seen,
        )
        for member in parsed.members
    )
    return Field(
        name=name,
        type=parsed.name,
        mode=mode,
        description=info.description,
        fields=children,
        policy_tags=info.policy_tags,
    )
