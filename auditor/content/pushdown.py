"""Pushdown mode: the detector catalog compiled to BigQuery SQL, so no value leaves BigQuery.

One query per table, over a sample (`LIMIT n` in a subquery). For each text column (see
`columns`) and each detector it returns how many sampled rows match and, for one match,
`fingerprint:length:prefix` computed in SQL: SUBSTR(TO_HEX(SHA256(secret)), 1, 16),
CHAR_LENGTH(secret) and SUBSTR(secret, 1, LEAST(4, DIV(CHAR_LENGTH(secret), 5))), which is
exactly what `detect.redact.redact` shows. Of the matching rows it keeps MIN(...), the
lowest fingerprint, as the local mode does (ANY_VALUE would make the evidence depend on row
order). Nothing else comes back.

The query, for a table with text columns c0..cN and the catalog's detectors 0..D:

    SELECT i, j, COUNT(*) AS n, MIN(<evidence of x>) AS e
    FROM (
      SELECT c.i, m.j, m.x
      FROM (SELECT cell.i, cell.v, LOWER(cell.v) AS l
            FROM (SELECT <c0> AS c0, ... FROM `p`.`d`.`t` AS t LIMIT n) AS s,
                 UNNEST([STRUCT(-1 AS i, NULL AS v), STRUCT(0, s.c0), ...]) AS cell) AS c,
           UNNEST([STRUCT(-1 AS j, NULL AS x),
                   STRUCT(0, IF(STRPOS(c.l, @p1) > 0, <secret of @p0 in c.v>, NULL)),
                   ...]) AS m
      WHERE (c.i = -1 AND m.j = -1) OR (c.i >= 0 AND m.x IS NOT NULL)
    )
    GROUP BY i, j

It is the per-(column, detector) COUNTIF(REGEXP_CONTAINS(col, pattern)) of the catalog with
the columns turned into rows: the sample is unpivoted into cells (one per sampled row and
column) and every cell meets each detector once, with a constant pattern. (i, j) = (-1, -1)
counts the sampled rows. The sample is read once. Two other shapes were built and measured
first, on both local engines:

- The wide form, one COUNTIF and one evidence expression per column and detector: its size
  grows with columns x detectors, and the fast engine's SQL translator (sqlglot) spent
  ~0.1 s per pair: about 25 s per tenant table, 7 hours for 1,000 tables; it also runs
  into BigQuery's query-length limit on wide tables.
- The detector list as an ARRAY<STRUCT> query parameter joined with the cells: compact,
  but then the pattern is a column value, and DuckDB (both engines) compiles such a regular
  expression anew for every row: 6 s per 1,000-row table with the prefilter, 10 minutes
  without it. With constant patterns the same table takes 2.5 s on the fast engine, almost
  all of it query translation.

An answer must have the columns (i, j, n, e): the fast engine answers a query it cannot run
with no rows, no columns and the error where the client does not look, which must not read
as "nothing found". An empty table answers no rows (no (-1, -1) group), with its columns.

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

Cost: a dry run estimates the bytes first, of the sample subquery alone: it references the
same columns of the same table, which is what BigQuery bills (and the fast engine
translates it in a fraction of the time). A table over `max_bytes_billed` is not queried
and becomes a coverage gap; the query runs with `maximum_bytes_billed` set, so BigQuery
refuses to bill more. `LIMIT` does not reduce what BigQuery bills: the estimate is the
full size of the selected columns (and BigQuery bills at least 10 MB per table). The local
engines estimate 0 bytes and ignore maximum_bytes_billed.

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
from dataclasses import dataclass
from typing import Any

from google.cloud import bigquery

from auditor.content.base import ContentMode, ContentOptions, TableOutcome
from auditor.content.columns import SAFE_NAME, TextColumn
from auditor.content.local import Fetch
from auditor.detect.redact import FINGERPRINT_HEX_DIGITS, MAX_SHOWN_FRACTION, redact
from auditor.detect.values import Detector, catalog
from auditor.model import ContentScan, CoverageGap, Table, ValueHit
from auditor.sources.bigquery import NO_RETRY, QUERY_WAIT_FACTOR
from auditor.sources.infoschema import DATASET_RE, PROJECT_RE, Malformed

__all__ = [
    "MAX_QUERY_CHARS",
    "NotCompilable",
    "PushdownQuery",
    "compile_query",
    "pushdown_weaker_detectors",
    "scan_table",
    "whole_match_pattern",
]

TABLE_RE = re.compile(r"[\w-]{1,1024}")
MAX_QUERY_CHARS = 1_000_000  # BigQuery refuses longer standard SQL queries (1,024K)
SHOWN_CHARS = 4  # redact()'s default `keep`
_NULL = "CAST(NULL AS STRING)"
_FLAGS = re.compile(r"\(\?[a-zA-Z]+\)")


class NotCompilable(ValueError):
    """A table the compiler will not put into a query: an id or column name that is not a
    plain name, or so many text columns that the query would be too long."""


@dataclass(frozen=True)
class PushdownQuery:
    sql: str
    # The sample alone: the columns the query reads, so the bytes BigQuery bills for it. The
    # dry run estimates this, far cheaper for the fast engine to translate than `sql`.
    sample_sql: str
    parameters: tuple[tuple[str, str], ...]  # (name, value) of the STRING query parameters
    columns: tuple[str, ...]  # dotted paths of the columns examined; i indexes them
    detectors: tuple[str, ...]  # detector ids; j indexes them

    def job_parameters(self) -> list[bigquery.ScalarQueryParameter]:
        return [bigquery.ScalarQueryParameter(n, "STRING", v) for n, v in self.parameters]


def pushdown_weaker_detectors(detectors: Sequence[Detector] | None = None) -> tuple[str, ...]:
    """Detectors with Python-only refinements, which pushdown cannot apply."""
    return tuple(d.id for d in (detectors or catalog()) if d.validate or d.min_entropy is not None)


# ---------------------------------------------------------------------------- compiling


def compile_query(
    table: Table,
    columns: Sequence[TextColumn],
    *,
    sample_rows: int,
    max_cell_chars: int,
    detectors: Sequence[Detector] | None = None,
) -> PushdownQuery:
    """The one query that scans a sample of `table`. NotCompilable for an id that does not
    validate or a query longer than BigQuery takes."""
    detectors = tuple(detectors or catalog())
    source = _table_name(table)
    names: dict[str, str] = {}  # value -> parameter name

    def param(value: str) -> str:
        return "@" + names.setdefault(value, f"p{len(names)}")

    secrets = [f"STRUCT(-1 AS j, {_NULL} AS x)"]  # the row-count entry
    for j, detector in enumerate(detectors):
        secret = f"REGEXP_EXTRACT(c.v, {param(whole_match_pattern(detector.pattern))})"
        if detector.secret_group:
            secret = f"REGEXP_REPLACE({secret}, {param(_anchored(detector.pattern))}, r'\\1')"
        prefilter = " OR ".join(f"STRPOS(c.l, {param(k)}) > 0" for k in detector.keywords)
        secrets.append(f"STRUCT({j}, IF({prefilter or 'TRUE'}, NULLIF({secret}, ''), NULL))")
    cells = [f"STRUCT(-1 AS i, {_NULL} AS v)"]  # one per sampled row: the row count
    cells += [f"STRUCT({i}, s.c{i})" for i in range(len(columns))]
    sampled = [
        f"SUBSTR({_column_sql(c)}, 1, {int(max_cell_chars)}) AS c{i}" for i, c in enumerate(columns)
    ]
    sample = "\n".join(
        [
            "SELECT " + ",\n  ".join(sampled),
            f"FROM {source} AS t",
            f"LIMIT {int(sample_rows)}",
        ]
    )
    sql = "\n".join(
        [
            f"SELECT i, j, COUNT(*) AS n, MIN({_evidence_sql('x')}) AS e",
            "FROM (",
            "  SELECT c.i AS i, m.j AS j, m.x AS x",
            "  FROM (",
            "    SELECT cell.i AS i, cell.v AS v, LOWER(cell.v) AS l",
            "    FROM (",
            "      " + sample.replace("\n", "\n      "),
            "    ) AS s,",
            "    UNNEST([" + ", ".join(cells) + "]) AS cell",
            "  ) AS c,",
            "  UNNEST([\n    " + ",\n    ".join(secrets) + "\n  ]) AS m",
            "  WHERE (c.i = -1 AND m.j = -1) OR (c.i >= 0 AND m.x IS NOT NULL)",
            ")",
            "GROUP BY i, j",
        ]
    )
    if len(sql) > MAX_QUERY_CHARS:
        raise NotCompilable(
            f"{len(columns)} text columns make a query of {len(sql):,} characters, more than "
            f"the {MAX_QUERY_CHARS:,} BigQuery takes"
        )
    return PushdownQuery(
        sql=sql,
        sample_sql=sample,
        parameters=tuple((name, value) for value, name in names.items()),
        columns=tuple(c.path for c in columns),
        detectors=tuple(d.id for d in detectors),
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


def scan_table(
    client: bigquery.Client,
    table: Table,
    columns: Sequence[TextColumn],
    options: ContentOptions,
    call: Fetch,
) -> TableOutcome:
    """Dry run, then the query within budget. Raises what the calls or the answer raised."""
    query = compile_query(
        table, columns, sample_rows=options.sample_rows, max_cell_chars=options.max_cell_chars
    )
    params = query.job_parameters()
    dry = call(
        lambda: client.query(
            query.sample_sql,
            job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False),
            retry=NO_RETRY,
            job_retry=NO_RETRY,
            timeout=options.timeout,
        )
    )
    estimate = dry.total_bytes_processed
    if estimate is not None and estimate > options.max_bytes_billed:
        reason = (
            f"pushdown scan not run: the dry run estimates {estimate:,} bytes, over the budget "
            f"of {options.max_bytes_billed:,} bytes (--max-bytes-billed / the rule's max_bytes)"
        )
        return TableOutcome(None, (), (CoverageGap(table.resource, reason),))
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
    sampled, hits = read_answer(names, rows, query, table.resource)
    scan = ContentScan(table.resource, ContentMode.PUSHDOWN.value, sampled, query.columns)
    return TableOutcome(scan, hits)


_EVIDENCE = re.compile(rf"([0-9a-f]{{{FINGERPRINT_HEX_DIGITS}}}):([0-9]+):(.*)", re.DOTALL)


ANSWER_COLUMNS = ("i", "j", "n", "e")


def read_answer(
    names: Sequence[str], rows: Sequence[Mapping[str, Any]], query: PushdownQuery, table: str
) -> tuple[int, tuple[ValueHit, ...]]:
    """(rows sampled, hits) from the query's answer: its column names and rows. Malformed
    if it is not that shape."""
    if tuple(names) != ANSWER_COLUMNS:
        # The fast engine answers a query it could not run with no rows and no columns.
        raise Malformed(f"the scan query answered the columns {list(names)} (did it run?)")
    if not rows:
        return 0, ()  # nothing sampled: an empty table
    sampled: int | None = None
    seen: set[tuple[int, int]] = set()
    hits: list[ValueHit] = []
    for row in rows:
        i, j = _count(row, "i", low=-1), _count(row, "j", low=-1)
        if (i, j) in seen:
            raise Malformed(f"the scan query answered ({i}, {j}) twice")
        seen.add((i, j))
        if (i, j) == (-1, -1):
            sampled = _count(row, "n", low=1)
            continue
        if not (0 <= i < len(query.columns) and 0 <= j < len(query.detectors)):
            raise Malformed(f"the scan query answered an unknown pair ({i}, {j})")
        column, detector = query.columns[i], query.detectors[j]
        count = _count(row, "n", low=1)
        shown = row.get("e")
        match = _EVIDENCE.fullmatch(shown) if isinstance(shown, str) else None
        if match is None:
            raise Malformed(f"no usable evidence for {column} / {detector}")
        fingerprint, length, prefix = match.group(1), int(match.group(2)), match.group(3)
        shown_text = _redacted(prefix, length)
        hits.append(ValueHit(table, column, detector, count, shown_text, fingerprint))
    if sampled is None:
        raise Malformed("the scan query answered hits but not its row count")
    if any(h.rows > sampled for h in hits):
        raise Malformed("the scan query counted more matching rows than it sampled")
    order = {d: n for n, d in enumerate(query.detectors)}
    columns = {c: n for n, c in enumerate(query.columns)}
    hits.sort(key=lambda h: (columns[h.column], order[h.detector]))
    return sampled, tuple(hits)


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
