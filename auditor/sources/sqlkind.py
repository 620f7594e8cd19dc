"""Is this SQL file a BigQuery schema doc? Discovery asks it of `*.sql` files nobody named.

Repositories hold many kinds of SQL: ETL queries, DML, views and procedures, Jinja models,
and other databases' DDL (PostgreSQL migrations, MySQL dumps, Redshift tables). A file is a
schema doc when it declares tables with column lists; then it is read as BigQuery DDL (or in
the configured dialect). Only a file that claims BigQuery (its own BigQuery syntax says so)
and still fails is reported invalid; the rest is skipped with the evidence. Works on code
only: comments and string literals are removed before anything here looks at it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from auditor.model import Problem, TableSchema

BIGQUERY = "bigquery"

# A statement that declares a table's columns: CREATE [OR REPLACE] [EXTERNAL] TABLE
# [IF NOT EXISTS] name ( ... Temporary tables (script and procedure scratch space), CTAS,
# CLONE, COPY and LIKE define no schema to check.
_DECLARES_COLUMNS_RE = re.compile(
    r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:EXTERNAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(?!FUNCTION\b)[^\s(]+\s*\(",
    re.IGNORECASE,
)
_JINJA_RE = re.compile(r"\{\{|\{%")
_JINJA_TAG_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_WORD_RE = re.compile(r"[A-Za-z_]+")
# Written column types GoogleSQL DDL accepts (INT64's and NUMERIC's documented aliases too).
BIGQUERY_DDL_TYPES = frozenset(
    {
        "STRING", "BYTES", "INT64", "INT", "SMALLINT", "INTEGER", "BIGINT", "TINYINT",
        "BYTEINT", "FLOAT64", "NUMERIC", "DECIMAL", "BIGNUMERIC", "BIGDECIMAL", "BOOL",
        "DATE", "DATETIME", "TIME", "TIMESTAMP", "GEOGRAPHY", "JSON", "INTERVAL", "RANGE",
        "STRUCT", "ARRAY",
    }
)  # fmt: skip
# Syntax only BigQuery DDL has: `project.dataset.table` names, its own type names,
# OPTIONS(...), CLUSTER BY, and the platform's {placeholder} names.
_BIGQUERY_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a `project.dataset.table` name", re.compile(r"`[^`\n]*\.[^`\n]*`")),
    ("BigQuery type names",
     re.compile(r"\b(?:INT64|FLOAT64|BIGNUMERIC|GEOGRAPHY|STRING|BYTES)\b", re.I)),
    ("STRUCT<>/ARRAY<>", re.compile(r"\b(?:STRUCT|ARRAY)\s*<", re.I)),
    ("OPTIONS(...)", re.compile(r"\bOPTIONS\s*\(", re.I)),
    ("CLUSTER BY", re.compile(r"\bCLUSTER\s+BY\b", re.I)),
    ("{placeholder} names", re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")),
)  # fmt: skip
# What other databases' DDL gives away, to say what a skipped file looks like.
_OTHER_DIALECTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("PostgreSQL", re.compile(
        r"\b(?:BIG|SMALL)?SERIAL\b|\bJSONB\b|\bTIMESTAMPTZ\b|\bUUID\b|::|\bgen_random_uuid\b"
        r"|\bplpgsql\b|\bREFERENCES\b", re.I)),
    ("MySQL", re.compile(r"\bAUTO_INCREMENT\b|\bENGINE\s*=|\bUNSIGNED\b|\bCHARSET\b", re.I)),
    ("Redshift", re.compile(r"\bDISTKEY\b|\bSORTKEY\b|\bDISTSTYLE\b", re.I)),
    ("SQLite", re.compile(r"\bAUTOINCREMENT\b", re.I)),
    ("SQL Server", re.compile(r"\bNVARCHAR\b|\bIDENTITY\s*\(|\[dbo\]", re.I)),
)  # fmt: skip
_SHOWN = 3


def declares_columns(code: str) -> bool:
    """Whether one statement's code is a CREATE TABLE with a column list."""
    return _DECLARES_COLUMNS_RE.match(code) is not None


def before_parse(codes: Sequence[str]) -> str | None:
    """Why a file is not a schema doc, judged before any parsing; None when it may be one.
    `codes`: each statement's code."""
    whole = "\n".join(codes)
    if not any(declares_columns(code) for code in codes):
        held = ", ".join(_statement_kinds(codes)) or "no statements"
        jinja = "templated SQL (Jinja); " if _JINJA_RE.search(whole) else ""
        return f"{jinja}no CREATE TABLE with a column list (it holds {held})"
    if _JINJA_RE.search(whole):
        return "templated SQL (Jinja {{ }} / {% %}): not a schema doc until rendered"
    return None


def after_parse(
    codes: Sequence[str],
    tables: Sequence[TableSchema],
    problems: Sequence[Problem],
    written_types: Sequence[tuple[str, int | None]],
    dialect: str,
) -> str | None:
    """Why a file whose CREATE TABLE statements were parsed is not a schema doc of the
    dialect; None when it is one (its problems then count)."""
    unread = [p for p in problems if p.unread]
    if dialect != BIGQUERY:
        if unread:
            return f"does not parse as {dialect} DDL ({_first_line(unread)})"
        return None if any(t.fields for t in tables) else _no_columns()
    foreign = [(word, line) for word, line in written_types if word not in BIGQUERY_DDL_TYPES]
    if not unread and not foreign:
        return None if any(t.fields for t in tables) else _no_columns()
    whole = "\n".join(codes)
    if any(pattern.search(whole) for _, pattern in _BIGQUERY_MARKERS):
        return None  # it claims to be BigQuery DDL: its problems are AUD-003 findings
    evidence: list[str] = []
    if foreign:
        words = list(dict.fromkeys(word for word, _ in foreign))[:_SHOWN]
        where = f" (line {foreign[0][1]})" if foreign[0][1] else ""
        evidence.append(f"column types {', '.join(words)} are not BigQuery's{where}")
    if unread:
        evidence.append(f"does not parse as BigQuery ({_first_line(unread)})")
    looks = _looks_like(whole)
    return "not BigQuery DDL: " + "; ".join(evidence) + (f"; looks like {looks}" if looks else "")


def _no_columns() -> str:
    return "its CREATE TABLE statements declare no columns"


def _first_line(problems: Sequence[Problem]) -> str:
    line = problems[0].line
    return f"line {line}" if line is not None else "first statement"


def _looks_like(code: str) -> str:
    for name, pattern in _OTHER_DIALECTS:
        found = list(dict.fromkeys(m.group(0).upper() for m in pattern.finditer(code)))
        if found:
            return f"{name} ({', '.join(found[:_SHOWN])})"
    return ""


def _statement_kinds(codes: Sequence[str]) -> list[str]:
    """The leading keywords of the statements, in order of appearance: SELECT, INSERT,
    CREATE VIEW, CREATE TABLE (without columns) ..."""
    kinds: dict[str, None] = {}
    for code in codes:
        plain = _JINJA_TAG_RE.sub(" ", code)
        words = [w.upper() for w in _WORD_RE.findall(plain[:200])]
        if not words:
            continue
        kind = words[0]
        if kind == "CREATE":
            rest = [w for w in words[1:] if w not in ("OR", "REPLACE", "TEMP", "TEMPORARY")]
            kind = " ".join(["CREATE", *rest[:1]])
            if rest[:2] == ["MATERIALIZED", "VIEW"] or rest[:2] == ["TABLE", "FUNCTION"]:
                kind = " ".join(["CREATE", *rest[:2]])
        kinds.setdefault(kind)
        if len(kinds) == _SHOWN + 1:
            break
    shown = list(kinds)
    return shown[:_SHOWN] + (["..."] if len(shown) > _SHOWN else [])
