"""The fast path of the live collector: a whole region's schemas from INFORMATION_SCHEMA.

One query per view (COLUMN_FIELD_PATHS, COLUMNS, TABLES, VIEWS, TABLE_OPTIONS,
SCHEMATA_OPTIONS) for the whole region replaces one tables.get call per table. Access entries
and table IAM are not in INFORMATION_SCHEMA; the caller still reads those per object.

Nothing here trusts an answer it cannot check. `read_region` rebuilds what it can and says
why it could not use the rest: `blockers` (no table of the region can be trusted: a view could
not be read at all) and `rejected` (one table's rows are implausible). A view that fails only
on its policy_tags column is read again without it (`policy_tags` False: the schemas carry no
policy tags). `reconcile` then compares the snapshot with what the per-object API listed and
returns, per table, either a rebuilt Table or the reason (a `Fallback`) to read it one by one.
A disagreement is scoped to what disagrees: one table's rows reject that table, one dataset's
SCHEMATA_OPTIONS that dataset, never the whole region.

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
from auditor.model import Dataset, Field, Table, canonical_type

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


class Malformed(ValueError):
    """An answer that does not have the shape it must have."""


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
                    labels=_labels_option(options.get("labels")),
                    description=_string_option(options.get("description")),
                    default_kms_key=_string_option(options.get("default_kms_key_name")),
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
        labels = _labels_option(opts.get("labels"))
        description = _string_option(opts.get("description"))
        kms_key = _string_option(opts.get("kms_key_name"))
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


# --------------------------------------------------------------------------- type strings


@dataclass(frozen=True)
class Member:
    name: str
    type: ParsedType
    not_null: bool = False


@dataclass(frozen=True)
class ParsedType:
    """A GoogleSQL type as INFORMATION_SCHEMA spells it, e.g. ARRAY<STRUCT<a INT64>>."""

    name: str  # canonical standard SQL name: INT64, STRUCT, RANGE ...
    repeated: bool = False
    members: tuple[Member, ...] = ()


SCALAR_TYPES = frozenset(
    {
        "STRING", "BYTES", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "DATE", "TIME",
        "DATETIME", "GEOGRAPHY", "NUMERIC", "BIGNUMERIC", "JSON", "INTERVAL",
    }
)  # fmt: skip
_RANGE_ELEMENTS = frozenset({"DATE", "DATETIME", "TIMESTAMP"})
_TYPE_TOKEN_RE = re.compile(
    r"\s*(?:(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<quoted>`(?:[^`\\]|\\.)+`)"
    r"|(?P<number>[0-9]+)|(?P<punct>[<>(),]))"
)
MAX_TYPE_DEPTH = 16  # BigQuery allows 15 levels of nesting


def parse_type(text: str) -> ParsedType:
    """Parse an INFORMATION_SCHEMA data_type. Raises Malformed on anything unexpected."""
    tokens = list(_type_tokens(text))
    parser = _TypeParser(tokens)
    parsed = parser.type(0)
    if parser.pos != len(tokens):
        raise Malformed(f"unexpected {tokens[parser.pos][1]!r} in {text!r}")
    return parsed


def _type_tokens(text: str) -> Iterator[tuple[str, str]]:
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TYPE_TOKEN_RE.match(text, pos)
        if match is None:
            raise Malformed(f"unexpected character at {pos} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        if kind == "quoted":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        yield kind, value
        pos = match.end()


class _TypeParser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, kind: str, value: str | None = None) -> str:
        token = self._peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            want = value or kind
            raise Malformed(f"expected {want}, found {token[1] if token else 'end'!r}")
        self.pos += 1
        return token[1]

    def _is(self, kind: str, value: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == kind and token[1].upper() == value

    def type(self, depth: int) -> ParsedType:
        if depth > MAX_TYPE_DEPTH:
            raise Malformed("type nested too deeply")
        name = self._take("ident").upper()
        if name == "ARRAY":
            self._take("punct", "<")
            element = self.type(depth + 1)
            self._take("punct", ">")
            if element.repeated:
                raise Malformed("ARRAY of ARRAY")
            return ParsedType(element.name, True, element.members)
        if name == "STRUCT":
            self._take("punct", "<")
            members = [self._member(depth)]
            while self._is("punct", ","):
                self.pos += 1
                members.append(self._member(depth))
            self._take("punct", ">")
            return ParsedType("STRUCT", False, tuple(members))
        if name == "RANGE":
            self._take("punct", "<")
            bound = self._take("ident").upper()
            self._take("punct", ">")
            if bound not in _RANGE_ELEMENTS:
                raise Malformed(f"RANGE of {bound}")
            return ParsedType("RANGE")
        canonical = canonical_type(name)
        if canonical not in SCALAR_TYPES:
            raise Malformed(f"unknown type {name}")
        if self._is("punct", "("):  # STRING(10), NUMERIC(10, 2): parameters are not kept
            self.pos += 1
            self._take("number")
            while self._is("punct", ","):
                self.pos += 1
                self._take("number")
            self._take("punct", ")")
        return ParsedType(canonical)

    def _member(self, depth: int) -> Member:
        token = self._peek()
        if token is None or token[0] not in ("ident", "quoted"):
            raise Malformed("expected a field name")
        self.pos += 1
        member_type = self.type(depth + 1)
        not_null = False
        if self._is("ident", "NOT"):
            self.pos += 1
            if not self._is("ident", "NULL"):
                raise Malformed("NOT without NULL")
            self.pos += 1
            not_null = True
        return Member(token[1], member_type, not_null)


# --------------------------------------------------------------------------- option values

_LITERAL_TOKEN_RE = re.compile(
    r"\s*(?:(?P<string>\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*')"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[\[\](),]))",
    re.DOTALL,
)
_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "?": "?", '"': '"', "'": "'", "`": "`",
}  # fmt: skip
_ESCAPE_RE = re.compile(
    r"\\(?:(?P<simple>[abfnrtv\\?\"'`])|(?P<octal>[0-7]{3})|[xX](?P<hex>[0-9a-fA-F]{2})"
    r"|u(?P<u4>[0-9a-fA-F]{4})|U(?P<u8>[0-9a-fA-F]{8})|(?P<bad>.))",
    re.DOTALL,
)


def unquote_string(literal: str) -> str:
    """The value of a GoogleSQL quoted string literal ("..." or '...'); Malformed if bad."""
    if len(literal) < 2 or literal[0] not in "\"'" or literal[-1] != literal[0]:
        raise Malformed(f"not a string literal: {literal[:40]!r}")

    def replace(match: re.Match[str]) -> str:
        if match.group("simple") is not None:
            return _SIMPLE_ESCAPES[match.group("simple")]
        if match.group("octal") is not None:
            return chr(int(match.group("octal"), 8))
        for group in ("hex", "u4", "u8"):
            if match.group(group) is not None:
                code = int(match.group(group), 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise Malformed("invalid code point in a string literal")
                return chr(code)
        raise Malformed(f"unknown escape {match.group(0)!r} in a string literal")

    return _ESCAPE_RE.sub(replace, literal[1:-1])


def parse_literal(text: str) -> Any:
    """A GoogleSQL literal as option_value prints it: a string, NULL, [..] or STRUCT(..).

    Returns str, None, list or tuple (a STRUCT). Malformed on anything else.
    """
    tokens: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _LITERAL_TOKEN_RE.match(stripped, pos)
        if match is None:
            raise Malformed(f"unexpected character at {pos} in an option value")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    value, end = _literal(tokens, 0, 0)
    if end != len(tokens):
        raise Malformed("trailing text after an option value")
    return value


def _literal(tokens: list[tuple[str, str]], pos: int, depth: int) -> tuple[Any, int]:
    if depth > 4 or pos >= len(tokens):
        raise Malformed("option value too deep or cut short")
    kind, value = tokens[pos]
    if kind == "string":
        return unquote_string(value), pos + 1
    if kind == "ident" and value.upper() == "NULL":
        return None, pos + 1
    if (kind, value) == ("punct", "[") or (kind == "ident" and value.upper() == "STRUCT"):
        is_struct = kind == "ident"
        if is_struct:
            pos += 1
            if pos >= len(tokens) or tokens[pos] != ("punct", "("):
                raise Malformed("STRUCT without (")
        close = ")" if is_struct else "]"
        items: list[Any] = []
        pos += 1
        if pos < len(tokens) and tokens[pos] == ("punct", close):
            return (tuple(items) if is_struct else items), pos + 1
        while True:
            item, pos = _literal(tokens, pos, depth + 1)
            items.append(item)
            if pos < len(tokens) and tokens[pos] == ("punct", ","):
                pos += 1
                continue
            if pos < len(tokens) and tokens[pos] == ("punct", close):
                return (tuple(items) if is_struct else items), pos + 1
            raise Malformed(f"expected , or {close} in an option value")
    raise Malformed(f"unexpected {value!r} in an option value")


def _string_option(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed("option value is not text")
    parsed = parse_literal(value)
    if parsed is None or parsed == "":
        return None
    if not isinstance(parsed, str):
        raise Malformed("option value is not a string")
    return parsed


def _labels_option(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, str):
        raise Malformed("labels option is not text")
    parsed = parse_literal(value)
    if parsed is None:
        return {}
    if not isinstance(parsed, list):
        raise Malformed("labels option is not an array")
    labels: dict[str, str] = {}
    for item in parsed:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise Malformed("a label is not a STRUCT of two strings")
        key, label = item
        if not isinstance(key, str) or not isinstance(label, str) or key in labels:
            raise Malformed("a label is not a STRUCT of two strings")
        labels[key] = label
    return labels


# --------------------------------------------------------------------------- reconcile


class Fallback(StrEnum):
    """Why a table is read one by one although the fast path is on (the run section counts
    tables per kind; the detail text goes into the notes)."""

    FAST_PATH_OFF = "fast path off"
    LOCATION_NOT_READ = "location not read"  # --region left it out, or no location known
    REGION_UNREADABLE = "region unreadable"  # a whole view could not be read
    DATASET_OPTIONS_DISAGREE = "dataset options disagree"
    POLICY_TAGS_NEEDED = "policy tags needed"
    NOT_IN_INFORMATION_SCHEMA = "not in INFORMATION_SCHEMA"
    LISTINGS_DISAGREE = "listings disagree"
    IMPLAUSIBLE_ROWS = "implausible rows"
    KMS_KEY_MISSING = "KMS key missing"
    KMS_KEYS_OMITTED = "KMS keys omitted"  # the region's answers leave KMS keys out


@dataclass(frozen=True)
class Reason:
    kind: Fallback
    detail: str

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class Plan:
    """Per table: the rebuilt Table to use, or why to read it table by table."""

    use: Mapping[TableKey, Table]
    fallback: Mapping[TableKey, Reason]

    @classmethod
    def one_by_one(cls, keys: Collection[TableKey], kind: Fallback, detail: str) -> Plan:
        """Every table read one by one, for the same reason."""
        reason = Reason(kind, detail)
        return cls({}, dict.fromkeys(keys, reason))


NeedsTags = Callable[[str], bool]  # dataset id -> whether its tables must carry policy tags


def _never(_: str) -> bool:
    return False


def reconcile(
    snapshot: RegionSnapshot,
    datasets: Sequence[Dataset],
    listed: Mapping[str, Mapping[str, str]],
    needs_tags: NeedsTags = _never,
) -> Plan:
    """Decide, for every table listed by the API (or by TABLES), where to take it from.

    `datasets`: the datasets read through the API (their tables are the ones to collect);
    `listed`: dataset id -> {table id: type} from tables.list; `needs_tags`: the datasets
    whose tables must carry policy tags. Each dataset is decided on its own
    (reconcile_dataset): what disagrees costs that dataset, or that table, not the region.
    """
    use: dict[TableKey, Table] = {}
    fallback: dict[TableKey, Reason] = {}
    for dataset in datasets:
        plan = reconcile_dataset(snapshot, dataset, listed.get(dataset.dataset_id, {}), needs_tags)
        use.update(plan.use)
        fallback.update(plan.fallback)
    return Plan(use, fallback)


def reconcile_dataset(
    snapshot: RegionSnapshot,
    dataset: Dataset,
    from_api: Mapping[str, str],
    needs_tags: NeedsTags = _never,
) -> Plan:
    """One dataset's tables: taken from the snapshot only when nothing blocks the region,
    the dataset is in the snapshot's region, its SCHEMATA_OPTIONS agree with datasets.get
    (labels, description, default KMS key), policy tags are in the snapshot or not needed
    here, the table was rebuilt, its type agrees with tables.list, and a table in a dataset
    with a default KMS key shows a key."""
    dataset_id = dataset.dataset_id
    from_is = {t for d, t in (*snapshot.tables, *snapshot.rejected) if d == dataset_id}
    in_region = (dataset.location or "").lower() == snapshot.region.lower()
    whole = _dataset_reason(snapshot, dataset, in_region, needs_tags)
    use: dict[TableKey, Table] = {}
    fallback: dict[TableKey, Reason] = {}
    for table_id in sorted(set(from_api) | (from_is if in_region else set())):
        key = (dataset_id, table_id)
        reason = whole or _table_reason(snapshot, dataset, key, from_api)
        if reason is None:
            use[key] = snapshot.tables[key]
        else:
            fallback[key] = reason
    return Plan(use, fallback)


def _dataset_reason(
    snapshot: RegionSnapshot, dataset: Dataset, in_region: bool, needs_tags: NeedsTags
) -> Reason | None:
    if snapshot.blockers:
        return Reason(Fallback.REGION_UNREADABLE, snapshot.blockers[0])
    if not in_region:
        return Reason(
            Fallback.LOCATION_NOT_READ,
            f"dataset location {dataset.location} is outside region {snapshot.region}",
        )
    options = snapshot.dataset_options.get(dataset.dataset_id, DatasetOptions())
    if (
        dict(options.labels) != dict(dataset.labels)
        or options.description != dataset.description
        or options.default_kms_key != dataset.default_kms_key
    ):
        return Reason(
            Fallback.DATASET_OPTIONS_DISAGREE,
            "INFORMATION_SCHEMA.SCHEMATA_OPTIONS disagrees with datasets.get for this dataset, "
            "so its *_OPTIONS answers are not trusted",
        )
    if not snapshot.policy_tags and needs_tags(dataset.dataset_id):
        return Reason(
            Fallback.POLICY_TAGS_NEEDED,
            "its policy tags are needed and INFORMATION_SCHEMA gave none",
        )
    return None


def _table_reason(
    snapshot: RegionSnapshot,
    dataset: Dataset,
    key: TableKey,
    from_api: Mapping[str, str],
) -> Reason | None:
    if key in snapshot.rejected:
        return Reason(Fallback.IMPLAUSIBLE_ROWS, snapshot.rejected[key])
    table = snapshot.tables.get(key)
    if table is None:
        return Reason(Fallback.NOT_IN_INFORMATION_SCHEMA, "not in INFORMATION_SCHEMA")
    if key[1] not in from_api:
        return Reason(
            Fallback.LISTINGS_DISAGREE,
            "in INFORMATION_SCHEMA.TABLES but not listed by tables.list",
        )
    if from_api[key[1]] != table.type:
        return Reason(
            Fallback.LISTINGS_DISAGREE,
            "tables.list and INFORMATION_SCHEMA.TABLES disagree on the table type",
        )
    if dataset.default_kms_key and not table.kms_key:
        return Reason(
            Fallback.KMS_KEY_MISSING, "dataset has a default KMS key but TABLE_OPTIONS shows none"
        )
    return None
