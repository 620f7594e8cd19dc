"""Pushdown mode: the detector catalog compiled to BigQuery SQL, so no value leaves BigQuery.

One query scans several tables (`ScanTarget`s, up to `ContentOptions.tables_per_query`),
each over a sample (`LIMIT n` in a CTE). For each table, text column (see `columns`) and
detector it returns how many sampled rows match and, for one match,
`fingerprint:length:prefix` computed in SQL: SUBSTR(TO_HEX(SHA256(secret)), 1, 16),
CHAR_LENGTH(secret) and SUBSTR(secret, 1, LEAST(4, DIV(CHAR_LENGTH(secret), 5))), which is
exactly what `detect.redact.redact` shows. Of the matching rows it keeps MIN(...), the
lowest fingerprint, as the local mode does (ANY_VALUE would make the evidence depend on row
order). Nothing else comes back.

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
    SELECT t, i, j, COUNT(*) AS n, MIN(<evidence of x>) AS e
    FROM (
      SELECT c.t, c.i, m.j, m.x
      FROM cells AS c
      CROSS JOIN UNNEST([STRUCT(-1 AS j, NULL AS x),
                         STRUCT(0 AS j, IF(STRPOS(c.l, @p1) > 0, <secret of @p0>, NULL) AS x),
                         ...]) AS m
      WHERE (c.i = -1 AND m.j = -1) OR (c.i >= 0 AND m.x IS NOT NULL)
    )
    GROUP BY t, i, j

It is the per-(column, detector) COUNTIF(REGEXP_CONTAINS(col, pattern)) of the catalog with
the columns turned into rows: each sample is unpivoted into cells (one per sampled row and
column) and every cell meets each detector once, with a constant pattern. (t, -1, -1)
counts the sampled rows of table t. Each sample is read once. The detector part, the
bulk of the query text and of its parameters, is written once per query, whatever the
number of tables: a table adds its sample and its cells only. Shapes built and measured
on the local engines:

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

An answer must have the columns (t, i, j, n, e): the fast engine answers a query it cannot
run with no rows, no columns and the error where the client does not look, which must not
read as "nothing found". An empty table answers no rows (no (t, -1, -1) group).

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
  reach a regex.
- The secret: REGEXP_EXTRACT with the pattern's capturing group made non-capturing gives
  the whole first match, and REGEXP_REPLACE(match, '^(?:pattern)$', r'\\1') its group.
  REGEXP_EXTRACT alone returns the group in BigQuery, but both local engines (DuckDB
  underneath) return the whole match even when the pattern has a group; all three agree on
  the two-step form. Re-matching the anchored pattern on the match finds the same group:
  the original parse is the preferred one among all parses, hence among those spanning
  exactly the match.
- Rows matched: the cells whose secret is not NULL, i.e. COUNTIF(REGEXP_CONTAINS(cell,
  pattern)) for patterns whose group always takes part in a match (all of the catalog's).
- Functions used, all present in BigQuery and in both local engines (checked one by one):
  SUBSTR, LOWER, STRPOS, REGEXP_EXTRACT, REGEXP_REPLACE, NULLIF, IF, TO_JSON_STRING,
  ARRAY_TO_STRING, ARRAY(SELECT ... UNNEST), SHA256, TO_HEX, CHAR_LENGTH, LEAST, DIV,
  CONCAT, CAST, COUNT, MIN, UNNEST of an array of STRUCTs built from the row. Not used,
  because an engine lacks it or reads it differently: raw literals holding quotes (above),
  REGEXP_EXTRACT's group (above), `SELECT *` over UNNEST of STRUCTs (the fast engine names
  the column `unnest`), UNNEST ... WITH OFFSET (refused by the faithful engine, no rows on
  the fast one), ANY_VALUE (not deterministic), TABLESAMPLE (would cut the bytes billed in
  BigQuery; both engines return no rows for it).

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

What SQL cannot do, so pushdown may report MORE than the local mode:

- Python-only validators (`validate`) and `min_entropy` do not run: placeholders, masked
  and low-entropy values, JWT-shaped strings that do not decode, `next_page_token=`
  cursors and the like are reported by the detectors that carry them:
  `pushdown_weaker_detectors()`, every detector of the shipped catalog except
  gcp-service-account-key and pem-private-key.
- Precedence by overlap: every detector counts its own matches, so text claimed by an
  earlier detector (`"api_key": "AIza..."`) is reported by the later one too
  (secret-assignment).
- The first match: REGEXP_EXTRACT takes the leftmost pattern match, the local mode the
  leftmost one its validators accept, so the evidence may differ where both report.
- RE2 and Python differ at the edges: Python's `$` also matches before a final newline.
It never reports less for the same rows. The rows themselves can differ: `LIMIT n` takes
any n rows, tabledata.list the first n.
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
from auditor.content.local import Fetch
from auditor.detect.redact import FINGERPRINT_HEX_DIGITS, MAX_SHOWN_FRACTION, redact
from auditor.detect.values import Detector, catalog
from auditor.model import ContentScan, CoverageGap, Table, ValueHit
from auditor.sources.bigquery import NO_RETRY, QUERY_WAIT_FACTOR, _Failed, describe
from auditor.sources.infoschema import DATASET_RE, PROJECT_RE, Malformed

__all__ = [
    "MAX_QUERY_CHARS",
    "NotCompilable",
    "PushdownQuery",
    "ScanTarget",
    "compile_query",
    "pushdown_weaker_detectors",
    "read_answer",
    "scan_tables",
    "whole_match_pattern",
]

# Letters, digits, underscores, dashes, spaces: the legal table ids without a backtick or a
# backslash, so backtick quoting needs no escapes (BigQuery also allows marks; not here).
TABLE_RE = re.compile(r"[\w\- ]{1,1024}")
MAX_QUERY_CHARS = 1_000_000  # BigQuery refuses longer standard SQL queries (1,024K)
SHOWN_CHARS = 4  # redact()'s default `keep`
_NULL = "CAST(NULL AS STRING)"
_FLAGS = re.compile(r"\(\?[a-zA-Z]+\)")


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


def pushdown_weaker_detectors(detectors: Sequence[Detector] | None = None) -> tuple[str, ...]:
    """Detectors with Python-only refinements, which pushdown cannot apply."""
    return tuple(d.id for d in (detectors or catalog()) if d.validate or d.min_entropy is not None)


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

    secrets = [f"STRUCT(-1 AS j, {_NULL} AS x)"]  # the row-count entry
    for j, detector in enumerate(detectors):
        secret = f"REGEXP_EXTRACT(c.v, {param(whole_match_pattern(detector.pattern))})"
        if detector.secret_group:
            secret = f"REGEXP_REPLACE({secret}, {param(_anchored(detector.pattern))}, r'\\1')"
        prefilter = " OR ".join(f"STRPOS(c.l, {param(k)}) > 0" for k in detector.keywords)
        found = f"IF({prefilter or 'TRUE'}, NULLIF({secret}, ''), NULL)"
        secrets.append(f"STRUCT({j} AS j, {found} AS x)")
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
            f"SELECT t, i, j, COUNT(*) AS n, MIN({_evidence_sql('x')}) AS e",
            "FROM (",
            "  SELECT c.t AS t, c.i AS i, m.j AS j, m.x AS x",
            "  FROM cells AS c",
            "  CROSS JOIN UNNEST([",
            "    " + ",\n    ".join(secrets),
            "  ]) AS m",
            "  WHERE (c.i = -1 AND m.j = -1) OR (c.i >= 0 AND m.x IS NOT NULL)",
            ")",
            "GROUP BY t, i, j",
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


def _evidence_sql(secret: str) -> str:
    shown = f"LEAST({SHOWN_CHARS}, DIV(CHAR_LENGTH({secret}), {MAX_SHOWN_FRACTION}))"
    return (
        f"CONCAT(SUBSTR(TO_HEX(SHA256({secret})), 1, {FINGERPRINT_HEX_DIGITS}), ':', "
        f"CAST(CHAR_LENGTH({secret}) AS STRING), ':', SUBSTR({secret}, 1, {shown}))"
    )


def whole_match_pattern(pattern: str) -> str:
    """`pattern` with its capturing group (at most one) made non-capturing."""
    start, end = _capture(pattern)
    return pattern if start < 0 else pattern[:start] + "(?:" + pattern[end:]


def _anchored(pattern: str) -> str:
    """`pattern` matching a whole string, leading global flags kept in front."""
    flags = _FLAGS.match(pattern)
    head, body = (flags.group(), pattern[flags.end() :]) if flags else ("", pattern)
    return f"{head}^(?:{body})$"


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
    for target, (sampled, hits) in zip(targets, read_answer(names, rows, query), strict=True):
        columns = tuple(c.path for c in target.columns)
        scan = ContentScan(target.table.resource, ContentMode.PUSHDOWN.value, sampled, columns)
        outcomes.append(TableOutcome(scan, hits))
    return outcomes


def _not_scanned(target: ScanTarget, reason: str) -> TableOutcome:
    gap = CoverageGap(target.table.resource, f"contents not scanned (pushdown): {reason}")
    return TableOutcome(None, (), (gap,))


def _reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, _Failed) else describe(exc, server_message=False)


_EVIDENCE = re.compile(rf"([0-9a-f]{{{FINGERPRINT_HEX_DIGITS}}}):([0-9]+):(.*)", re.DOTALL)


ANSWER_COLUMNS = ("t", "i", "j", "n", "e")


def read_answer(
    names: Sequence[str], rows: Sequence[Mapping[str, Any]], query: PushdownQuery
) -> list[tuple[int, tuple[ValueHit, ...]]]:
    """Per table of the query, (rows sampled, hits) from its answer: its column names and
    rows. Malformed if it is not that shape."""
    if tuple(names) != ANSWER_COLUMNS:
        # The fast engine answers a query it could not run with no rows and no columns.
        raise Malformed(f"the scan query answered the columns {list(names)} (did it run?)")
    sampled: dict[int, int] = {}
    seen: set[tuple[int, int, int]] = set()
    hits: list[tuple[int, ValueHit]] = []
    for row in rows:
        t, i, j = _count(row, "t"), _count(row, "i", low=-1), _count(row, "j", low=-1)
        if (t, i, j) in seen:
            raise Malformed(f"the scan query answered ({t}, {i}, {j}) twice")
        seen.add((t, i, j))
        if t >= len(query.tables):
            raise Malformed(f"the scan query answered an unknown table {t}")
        if (i, j) == (-1, -1):
            sampled[t] = _count(row, "n", low=1)
            continue
        if not (0 <= i < len(query.columns[t]) and 0 <= j < len(query.detectors)):
            raise Malformed(f"the scan query answered an unknown pair ({i}, {j})")
        hits.append((t, _hit(row, query.tables[t], query.columns[t][i], query.detectors[j])))
    # An empty table answers no rows at all (no (t, -1, -1) group): nothing sampled.
    if any(t not in sampled for t, _ in hits):
        raise Malformed("the scan query answered hits but not their table's row count")
    if any(h.rows > sampled[t] for t, h in hits):
        raise Malformed("the scan query counted more matching rows than it sampled")
    order = {d: n for n, d in enumerate(query.detectors)}
    answer = []
    for t, columns in enumerate(query.columns):
        position = {c: n for n, c in enumerate(columns)}
        found = sorted(
            (h for u, h in hits if u == t), key=lambda h: (position[h.column], order[h.detector])
        )
        answer.append((sampled.get(t, 0), tuple(found)))
    return answer


def _hit(row: Mapping[str, Any], table: str, column: str, detector: str) -> ValueHit:
    count = _count(row, "n", low=1)
    shown = row.get("e")
    match = _EVIDENCE.fullmatch(shown) if isinstance(shown, str) else None
    if match is None:
        raise Malformed(f"no usable evidence for {column} / {detector}")
    fingerprint, length, prefix = match.group(1), int(match.group(2)), match.group(3)
    return ValueHit(table, column, detector, count, _redacted(prefix, length), fingerprint)


def _count(row: Mapping[str, Any], name: str, low: int = 0) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise Malformed(f"result column {name} is not an integer >= {low}")
    return value


def _redacted(prefix: str, length: int) -> str:
    """redact()'s text for a secret of `length` characters that starts with `prefix`.

    redact() reads only the first characters it shows and the length, so the hidden rest,
    which never left BigQuery, is stood in for by padding.
    """
    if len(prefix) != min(SHOWN_CHARS, length // MAX_SHOWN_FRACTION):
        raise Malformed("the evidence prefix is not what redact() would show")
    return redact(prefix + "\x00" * (length - len(prefix)), keep=SHOWN_CHARS)
