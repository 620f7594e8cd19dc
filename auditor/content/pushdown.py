"""Pushdown mode: the catalog's patterns run as SQL in BigQuery, to narrow the sample to
candidate cells; the same Python detectors then confirm them (content.confirm).

One query scans several tables (`ScanTarget`s, up to `ContentOptions.tables_per_query`),
each over a sample (`LIMIT n` in a CTE). For each table it returns its sampled row count
and the distinct texts of its candidate cells, those in which some detector's keyword
(STRPOS on the lower-cased cell) and pattern (REGEXP_CONTAINS) both occur, with how many
sampled rows hold each text. Nothing else leaves BigQuery: the cells no pattern matches
stay there. The candidates are then scanned by `detect.values.scan_value`, as the local
mode scans every cell, so the Python-only refinements (min_entropy, validators such as
not-placeholder, the JWT and checksum checks), precedence between detectors and the choice
of evidence are the same in every mode: one finding set, whatever the mode. (The SQL is a
prefilter: each detector's keywords and pattern are exactly what `scan_value` requires
before it looks further, so no cell it would report is left behind.)

The query, for tables 0..T with text columns c0..cN each and the catalog's detectors 0..D:

    WITH s0 AS (SELECT <c0> AS c0, ... FROM `p`.`d`.`t0` AS t LIMIT n),
         s1 AS (...),
    cells AS (
      SELECT 0 AS t, cell.i AS i, cell.v AS v, LOWER(cell.v) AS l
      FROM s0 AS s
      CROSS JOIN UNNEST([STRUCT(-1 AS i, NULL AS v), STRUCT(0 AS i, s.c0 AS v), ...]) AS cell
      UNION ALL
      SELECT 1 AS t, ... FROM s1 AS s CROSS JOIN UNNEST([...]) AS cell
    )
    SELECT t, i, v, COUNT(*) AS n
    FROM cells AS c
    WHERE c.i = -1
       OR IF(STRPOS(c.l, @p1) > 0 OR ..., REGEXP_CONTAINS(c.v, @p0), FALSE)
       OR ...                                   -- one term per detector
    GROUP BY t, i, v

(t, -1, NULL) counts the sampled rows of table t. Each sample is read once, and the
detector part, the bulk of the query text and of its parameters, is written once per
query whatever the number of tables: a table adds its sample and its cells only.

History of the shape (measured on the local engines; the detector part then computed the
evidence in SQL, REGEXP_EXTRACT and SHA256 per detector, which this shape no longer does):

- The wide form, one COUNTIF and one evidence expression per column and detector: its size
  grows with columns x detectors, and the fast engine's SQL translator (sqlglot) spent
  ~0.1 s per pair: about 25 s per tenant table, 7 hours for 1,000 tables; it also runs
  into BigQuery's query-length limit on wide tables.
- The detector list as an ARRAY<STRUCT> query parameter joined with the cells: compact,
  but then the pattern is a column value, and DuckDB (both engines) compiles such a regular
  expression anew for every row: 6 s per 1,000-row table with the prefilter, 10 minutes
  without it.
- One table per query, the shape above with nested subqueries joined by commas
  (`FROM (...) AS s, UNNEST(...)`): 2.5 s per table on the fast engine, almost all of it
  query translation, not data (LIMIT 1 and LIMIT 1000 cost the same). Profiled: the
  emulator parses each query about six times, and sqlglot's parser deep-copies the whole
  FROM subquery of every SELECT that has a join (`_implicit_unnests_to_explicit`), so the
  nested subqueries were copied over and over: 60% of the translation. Named CTEs make
  every FROM a short table reference: a 5-table query translates in 0.9 s where the
  nested form took 2.8 s. What pays is the batching: on the fast engine, 10 demo tables
  x 1,000 rows cost 36.1 s of engine CPU one per query in the former shape, 43.7 s one per
  query in this one, 13.7 s five per query and 10.5 s all in one (3.4x less; same
  outcomes).
- The detectors as an array column of `cells`, unnested afterwards: translates fast too,
  but DuckDB ran it several times slower (421 s against 54 s for 20 tables x 1,000 rows,
  on a busy machine).
- A combined alternation of every pattern as a first pass (COUNTIF(REGEXP_CONTAINS(col,
  @all)) per column): not used. On the fast engine it alone took 6.8 s for a 22-column,
  1,000-row table, more than the whole query above, and the keyword prefilter (STRPOS)
  already keeps most cells away from every regex.

Several tables per query also means fewer jobs in BigQuery, each within the same budget.

An answer must have the columns (t, i, v, n): the fast engine answers a query it cannot
run with no rows, no columns and the error where the client does not look, which must not
read as "nothing found". An empty table answers no rows (no (t, -1, NULL) group).

How the SQL is built:

- Identifiers: project, dataset and table ids are validated (`PROJECT_RE`, `DATASET_RE`,
  `TABLE_RE`) and backtick-quoted; column names are plain identifiers (columns.SAFE_NAME)
  and backtick-quoted. Nothing is escaped: a name that does not validate is not scanned.
- Values from the catalog (patterns, keywords) are STRING query parameters (constant for
  the query), never literals. Quoting them would be fragile: patterns hold both quote
  characters, and inside a raw literal `\\'` is refused by the faithful engine and silently
  returns no rows on the fast one.
- A cell: `t.a.b` for a leaf under RECORDs; TO_JSON_STRING(...) for JSON;
  ARRAY_TO_STRING(ARRAY(SELECT leaf FROM UNNEST(...) AS u0, UNNEST(u0.b) AS u1 WHERE leaf IS
  NOT NULL), '\\n') under REPEATED fields (the local mode joins the same values with
  newlines); then SUBSTR(..., 1, max_cell_chars), as scan_value reads only that much.
- Keyword prefilter: a detector's regex runs on a cell only if LOWER(cell) contains one of
  its keywords (STRPOS), the rule scan_value applies; most (cell, detector) pairs never
  reach a regex. The pattern goes in with its capturing group made non-capturing
  (`whole_match_pattern`): containment is the same, and the engines need not agree on
  groups.
- Functions used, all present in BigQuery and in both local engines (checked one by one):
  SUBSTR, LOWER, STRPOS, REGEXP_CONTAINS, IF, TO_JSON_STRING, ARRAY_TO_STRING,
  ARRAY(SELECT ... UNNEST), COUNT, GROUP BY a STRING, UNNEST of an array of STRUCTs built
  from the row. Not used, because an engine lacks it or reads it differently: raw literals
  holding quotes (above), REGEXP_EXTRACT's group (BigQuery returns the group, both local
  engines the whole match), `SELECT *` over UNNEST of STRUCTs (the fast engine names the
  column `unnest`), UNNEST ... WITH OFFSET (refused by the faithful engine, no rows on the
  fast one), TABLESAMPLE (would cut the bytes billed in BigQuery; both engines return no
  rows for it).

Cost: a dry run estimates the bytes first, of the samples alone (`estimate_sql`: every
sampled column under an aggregate, so the same columns of the same tables, which is what
BigQuery bills; the fast engine translates it in a fraction of the time). A batch over
`max_bytes_billed`, or whose dry run, query or answer failed, is split in halves and each
half tried again, down to single tables: one large or unreadable table does not leave the
others unscanned, and costs about 2 log2(batch) extra calls. A single table over the budget
is not queried and becomes a coverage gap, as does one whose calls failed; the query runs
with `maximum_bytes_billed` set, so BigQuery refuses to bill more. `LIMIT` does not reduce
what BigQuery bills: the estimate is the full size of the selected columns (and BigQuery
bills at least 10 MB per table). The local engines estimate 0 bytes and ignore
maximum_bytes_billed.

What can still differ from the local mode: the rows. `LIMIT n` takes any n rows,
tabledata.list the first n; on a table of at most n rows (or the same rows) the findings,
counts and fingerprints are the local mode's. And RE2 (BigQuery) and Python (`re`) are
checked to agree on every catalog pattern (tests: the catalog examples and the values
corpus, in google-re2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from google.cloud import bigquery

from auditor.content.base import ContentMode, ContentOptions, TableOutcome
from auditor.content.columns import SAFE_NAME, TextColumn
from auditor.content.confirm import Cell, confirm_cells
from auditor.content.local import Fetch
from auditor.detect.catalog import Detector, catalog
from auditor.detect.values import redact_secrets
from auditor.gcp.calls import CallFailed
from auditor.gcp.clients import NO_RETRY
from auditor.gcp.retry import QUERY_WAIT_FACTOR
from auditor.gcp.wording import ServerText, describe
from auditor.model import ContentScan, CoverageGap, Table
from auditor.sources.infoschema import DATASET_RE, PROJECT_RE, Malformed

__all__ = [
    "ANSWER_COLUMNS",
    "MAX_QUERY_CHARS",
    "NotCompilable",
    "PushdownQuery",
    "ScanTarget",
    "compile_query",
    "read_answer",
    "scan_tables",
    "whole_match_pattern",
]

# Letters, digits, underscores, dashes, spaces: the legal table ids without a backtick or a
# backslash, so backtick quoting needs no escapes (BigQuery also allows marks; not here).
TABLE_RE = re.compile(r"[\w\- ]{1,1024}")
MAX_QUERY_CHARS = 1_000_000  # BigQuery refuses longer standard SQL queries (1,024K)
_NULL = "CAST(NULL AS STRING)"


class NotCompilable(ValueError):
    """A table the compiler will not put into a query: an id or column name that is not a
    plain name, or so many text columns that the query would be too long."""


@dataclass(frozen=True)
class ScanTarget:
    """One table and the text columns of it that are scanned."""

    table: Table
    columns: tuple[TextColumn, ...]


@dataclass(frozen=True)
class PushdownQuery:
    sql: str
    # Per table, its sample alone: the columns the query reads, so the bytes BigQuery bills
    # for it (see `estimate_sql`).
    samples: tuple[str, ...]
    parameters: tuple[tuple[str, str], ...]  # (name, value) of the STRING query parameters
    tables: tuple[str, ...]  # resource names; t indexes them
    columns: tuple[tuple[str, ...], ...]  # per table, dotted paths of its columns; i indexes
    detectors: tuple[str, ...]  # detector ids; j indexes them

    def job_parameters(self) -> list[bigquery.ScalarQueryParameter]:
        return [bigquery.ScalarQueryParameter(n, "STRING", v) for n, v in self.parameters]

    @property
    def estimate_sql(self) -> str:
        """What the dry run estimates: every sampled column referenced by an aggregate (so
        BigQuery counts it, as it bills it), without the detectors (which the fast engine
        translates slowly and which read nothing more)."""
        parts = []
        for t, (sample, columns) in enumerate(zip(self.samples, self.columns, strict=True)):
            counted = " + ".join(f"COUNT(s.c{i})" for i in range(len(columns)))
            parts.append(f"SELECT {t} AS t, {counted} AS n FROM (\n{sample}\n) AS s")  # noqa: S608
        return "\nUNION ALL\n".join(parts)


# ---------------------------------------------------------------------------- compiling


def compile_query(
    targets: Sequence[ScanTarget],
    *,
    sample_rows: int,
    max_cell_chars: int,
    detectors: Sequence[Detector] | None = None,
) -> PushdownQuery:
    """The one query that scans a sample of each target table. NotCompilable for an id
    that does not validate or a query longer than BigQuery takes."""
    if not targets:
        raise ValueError("a pushdown query needs at least one table")
    detectors = tuple(detectors or catalog())
    names: dict[str, str] = {}  # value -> parameter name

    def param(value: str) -> str:
        return "@" + names.setdefault(value, f"p{len(names)}")

    terms = []
    for detector in detectors:
        matches = f"REGEXP_CONTAINS(c.v, {param(whole_match_pattern(detector.pattern))})"
        prefilter = " OR ".join(f"STRPOS(c.l, {param(k)}) > 0" for k in detector.keywords)
        terms.append(f"IF({prefilter}, {matches}, FALSE)" if prefilter else matches)
    samples = tuple(
        _sample_sql(target, sample_rows=sample_rows, max_cell_chars=max_cell_chars)
        for target in targets
    )
    sampled = [
        f"s{t} AS (\n  {sample.replace(chr(10), chr(10) + '  ')}\n)"
        for t, sample in enumerate(samples)
    ]
    cells = "\n  UNION ALL\n  ".join(
        _cells_sql(t, len(target.columns)) for t, target in enumerate(targets)
    )
    sql = "\n".join(
        [
            "WITH " + ",\n".join(sampled) + ",",
            "cells AS (",
            "  " + cells,
            ")",
            "SELECT c.t AS t, c.i AS i, c.v AS v, COUNT(*) AS n",
            "FROM cells AS c",
            "WHERE c.i = -1",
            "   OR " + "\n   OR ".join(terms),
            "GROUP BY t, i, v",
        ]
    )
    if len(sql) > MAX_QUERY_CHARS:
        columns = sum(len(target.columns) for target in targets)
        raise NotCompilable(
            f"{columns} text columns make a query of {len(sql):,} characters, more than "
            f"the {MAX_QUERY_CHARS:,} BigQuery takes"
        )
    return PushdownQuery(
        sql=sql,
        samples=samples,
        parameters=tuple((name, value) for value, name in names.items()),
        tables=tuple(target.table.resource for target in targets),
        columns=tuple(tuple(c.path for c in target.columns) for target in targets),
        detectors=tuple(d.id for d in detectors),
    )


def _sample_sql(target: ScanTarget, *, sample_rows: int, max_cell_chars: int) -> str:
    sampled = [
        f"SUBSTR({_column_sql(c)}, 1, {int(max_cell_chars)}) AS c{i}"
        for i, c in enumerate(target.columns)
    ]
    return "\n".join(
        [
            "SELECT " + ",\n  ".join(sampled),
            f"FROM {_table_name(target.table)} AS t",
            f"LIMIT {int(sample_rows)}",
        ]
    )


def _cells_sql(t: int, columns: int) -> str:
    """Sample `s<t>` unpivoted into (t, i, v, l) cells, plus one (t, -1) cell per row."""
    cells = [f"STRUCT(-1 AS i, {_NULL} AS v)"]  # one per sampled row: the row count
    cells += [f"STRUCT({i} AS i, s.c{i} AS v)" for i in range(columns)]
    return (
        f"SELECT {int(t)} AS t, cell.i AS i, cell.v AS v, LOWER(cell.v) AS l\n"  # noqa: S608
        f"  FROM s{int(t)} AS s\n"
        f"  CROSS JOIN UNNEST([{', '.join(cells)}]) AS cell"
    )


def _table_name(table: Table) -> str:
    checks = (
        (PROJECT_RE, table.project, "project"),
        (DATASET_RE, table.dataset_id, "dataset"),
        (TABLE_RE, table.table_id, "table"),
    )
    for pattern, value, what in checks:
        if pattern.fullmatch(value) is None:
            raise NotCompilable(f"{what} id {value!r} is not a plain name; not put into SQL")
    return f"`{table.project}`.`{table.dataset_id}`.`{table.table_id}`"


def _column_sql(column: TextColumn) -> str:
    """The SQL of one text cell (see the module doc)."""
    expr = "t"
    unnests: list[str] = []
    for step in column.steps:
        if SAFE_NAME.fullmatch(step.name) is None:
            raise NotCompilable(f"column {column.path!r} is not a plain name; not put into SQL")
        expr = f"{expr}.`{step.name}`"
        if step.mode == "REPEATED":
            alias = f"u{len(unnests)}"
            unnests.append(f"UNNEST({expr}) AS {alias}")
            expr = alias
    if column.is_json:
        expr = f"TO_JSON_STRING({expr})"
    if not unnests:
        return expr
    return (
        f"ARRAY_TO_STRING(ARRAY(SELECT {expr} FROM {', '.join(unnests)} "  # noqa: S608  (ids validated above)
        f"WHERE {expr} IS NOT NULL), '\\n')"
    )


def whole_match_pattern(pattern: str) -> str:
    """`pattern` with its capturing group (at most one) made non-capturing."""
    start, end = _capture(pattern)
    return pattern if start < 0 else pattern[:start] + "(?:" + pattern[end:]


def _capture(pattern: str) -> tuple[int, int]:
    """(start, end) of the opening of the capturing group: `(` or `(?P<name>`; (-1, -1)."""
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
        elif in_class:
            in_class = char != "]"
            i += 1
        elif char == "[":
            in_class = True
            i += 1
            if pattern.startswith("^", i):
                i += 1
            if pattern.startswith("]", i):
                i += 1  # a leading ']' is a literal
        elif pattern.startswith("(?P<", i):
            return i, pattern.index(">", i) + 1
        elif pattern.startswith("(?", i):
            i += 2
        elif char == "(":
            return i, i + 1
        else:
            i += 1
    return -1, -1


# ---------------------------------------------------------------------------- running


def scan_tables(
    client: bigquery.Client,
    targets: Sequence[ScanTarget],
    options: ContentOptions,
    call: Fetch,
) -> list[TableOutcome]:
    """Scan `targets` (one outcome each, in their order), up to `options.tables_per_query`
    tables per query and `options.workers` queries at once. Never raises: every failure
    is a gap naming each table it left unscanned."""
    outcomes: dict[int, TableOutcome] = {}
    batchable: list[int] = []
    sizes: dict[int, int] = {}
    for index, target in enumerate(targets):
        try:
            alone = compile_query(
                [target], sample_rows=options.sample_rows, max_cell_chars=options.max_cell_chars
            )
        except NotCompilable as exc:
            outcomes[index] = _not_scanned(target, str(exc))
            continue
        batchable.append(index)
        sizes[index] = len(alone.sql)
    groups = _pack(batchable, sizes, options.tables_per_query)

    def one(group: list[int]) -> list[TableOutcome]:
        return _scan_group(client, [targets[i] for i in group], options, call)

    with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="pushdown") as pool:
        for group, found in zip(groups, pool.map(one, groups), strict=True):
            outcomes.update(zip(group, found, strict=True))
    return [outcomes[i] for i in range(len(targets))]


def _pack(indexes: Sequence[int], sizes: Mapping[int, int], per_query: int) -> list[list[int]]:
    """Consecutive groups of at most `per_query` tables whose queries, summed, stay under
    MAX_QUERY_CHARS (each table's own query counts the shared detector part once more: an
    estimate from above)."""
    groups: list[list[int]] = []
    size = 0
    for index in indexes:
        if groups and len(groups[-1]) < per_query and size + sizes[index] <= MAX_QUERY_CHARS:
            groups[-1].append(index)
            size += sizes[index]
        else:
            groups.append([index])
            size = sizes[index]
    return groups


def _scan_group(
    client: bigquery.Client,
    targets: Sequence[ScanTarget],
    options: ContentOptions,
    call: Fetch,
) -> list[TableOutcome]:
    """Dry run, then the query within budget. A group over the budget, or whose calls or
    answer failed, is split in halves and each half tried again, so one large or broken
    table does not leave the others unscanned; a single table is then a gap."""
    try:
        return _query_group(client, targets, options, call)
    except _OverBudget as over:
        if len(targets) == 1:
            reason = (
                f"pushdown scan not run: the dry run estimates {over.estimate:,} bytes, over "
                f"the budget of {options.max_bytes_billed:,} bytes (--max-bytes-billed / the "
                "rule's max_bytes)"
            )
            return [TableOutcome(None, (), (CoverageGap(targets[0].table.resource, reason),))]
    except Exception as exc:  # every failure becomes a gap, never an escape
        if len(targets) == 1:
            return [_not_scanned(targets[0], _reason(exc))]
    half = len(targets) // 2
    return _scan_group(client, targets[:half], options, call) + _scan_group(
        client, targets[half:], options, call
    )


class _OverBudget(Exception):
    def __init__(self, estimate: int) -> None:
        super().__init__(estimate)
        self.estimate = estimate


def _query_group(
    client: bigquery.Client,
    targets: Sequence[ScanTarget],
    options: ContentOptions,
    call: Fetch,
) -> list[TableOutcome]:
    query = compile_query(
        targets, sample_rows=options.sample_rows, max_cell_chars=options.max_cell_chars
    )
    dry = call(
        lambda: client.query(
            query.estimate_sql,
            job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False),
            retry=NO_RETRY,
            job_retry=NO_RETRY,
            timeout=options.timeout,
        )
    )
    estimate = dry.total_bytes_processed
    if estimate is not None and estimate > options.max_bytes_billed:
        raise _OverBudget(estimate)
    params = query.job_parameters()
    wait = options.timeout * QUERY_WAIT_FACTOR

    def run() -> tuple[tuple[str, ...], list[dict[str, Any]]]:
        answer = client.query_and_wait(
            query.sql,
            job_config=bigquery.QueryJobConfig(
                query_parameters=params,
                maximum_bytes_billed=options.max_bytes_billed,
                use_legacy_sql=False,
            ),
            api_timeout=options.timeout,
            wait_timeout=wait,
            retry=NO_RETRY,
            job_retry=NO_RETRY,
        )
        rows = [dict(row.items()) for row in answer]
        return tuple(f.name for f in answer.schema or ()), rows

    names, rows = call(run)
    outcomes = []
    for target, (sampled, cells) in zip(targets, read_answer(names, rows, query), strict=True):
        columns = tuple(c.path for c in target.columns)
        scan = ContentScan(target.table.resource, ContentMode.PUSHDOWN.value, sampled, columns)
        hits = confirm_cells(target.table.resource, columns, cells, options.max_cell_chars)
        outcomes.append(TableOutcome(scan, hits))
    return outcomes


def _not_scanned(target: ScanTarget, reason: str) -> TableOutcome:
    gap = CoverageGap(target.table.resource, f"contents not scanned (pushdown): {reason}")
    return TableOutcome(None, (), (gap,))


def _reason(exc: Exception) -> str:
    if isinstance(exc, CallFailed):
        return exc.reason
    return describe(exc, server_text=ServerText.WITHHELD, scrub=redact_secrets)


ANSWER_COLUMNS = ("t", "i", "v", "n")


def read_answer(
    names: Sequence[str], rows: Sequence[Mapping[str, Any]], query: PushdownQuery
) -> list[tuple[int, tuple[Cell, ...]]]:
    """Per table of the query, (rows sampled, candidate cells) from its answer: its column
    names and rows. Malformed if it is not that shape."""
    if tuple(names) != ANSWER_COLUMNS:
        # The fast engine answers a query it could not run with no rows and no columns.
        raise Malformed(f"the scan query answered the columns {list(names)} (did it run?)")
    sampled: dict[int, int] = {}
    seen: set[tuple[int, int, str | None]] = set()
    cells: list[tuple[int, Cell]] = []
    for row in rows:
        t, i = _count(row, "t"), _count(row, "i", low=-1)
        text = row.get("v")
        if (t, i, text) in seen:
            raise Malformed(f"the scan query answered ({t}, {i}) with the same text twice")
        seen.add((t, i, text if isinstance(text, str) else None))
        if t >= len(query.tables):
            raise Malformed(f"the scan query answered an unknown table {t}")
        if i == -1:
            if text is not None:
                raise Malformed("the scan query answered a row count with a text")
            sampled[t] = _count(row, "n", low=1)
            continue
        if not 0 <= i < len(query.columns[t]):
            raise Malformed(f"the scan query answered an unknown column ({t}, {i})")
        if not isinstance(text, str):
            raise Malformed(f"the scan query answered a cell of ({t}, {i}) that is not text")
        cells.append((t, Cell(i, text, _count(row, "n", low=1))))
    # An empty table answers no rows at all (no (t, -1) group).
    if any(t not in sampled for t, _ in cells):
        raise Malformed("the scan query answered cells but not their table's row count")
    per_column: dict[tuple[int, int], int] = {}
    for t, cell in cells:
        per_column[(t, cell.column)] = per_column.get((t, cell.column), 0) + cell.rows
    if any(rows_ > sampled[t] for (t, _), rows_ in per_column.items()):
        raise Malformed("the scan query answered more cells of a column than it sampled")
    order = sorted(range(len(cells)), key=lambda n: (cells[n][1].column, cells[n][1].text))
    return [
        (sampled.get(t, 0), tuple(cells[n][1] for n in order if cells[n][0] == t))
        for t in range(len(query.tables))
    ]


def _count(row: Mapping[str, Any], name: str, low: int = 0) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise Malformed(f"result column {name} is not an integer >= {low}")
    return value
