"""Read the platform's SQL schema docs (BigQuery DDL) into TableSchema objects.

Only CREATE TABLE statements become tables; in a doc named as one, every other statement is
parsed (so a broken one is reported) and then ignored. A `*.sql` file discovery merely found
is first asked whether it is a schema doc at all (auditor.sources.sqlkind): only its CREATE
TABLE statements with column lists are read, and a file that is not a schema doc is skipped
with the reason. Anything odd becomes a Problem naming file and line; nothing here raises on
bad input, and a bad statement never hides the good ones.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError

from auditor import limits
from auditor.io.files import (
    Unreadable,
    UnreadableFile,
    read_text_bounded,
    relative,
)
from auditor.model import Field, Location, Origin, Problem, TableSchema
from auditor.sources import sqlkind

MAX_DOC_BYTES = limits.MAX_SQL_DOC_BYTES
# BigQuery's own limit on STRUCT/ARRAY nesting; also keeps recursion bounded on hostile input.
MAX_NESTING = limits.MAX_SCHEMA_NESTING
MAX_TOKENS = limits.MAX_SQL_TOKENS
MAX_STATEMENTS = limits.MAX_SQL_STATEMENTS


# sqlglot's BigQuery dialect reads the standard SQL names as generic types; map them back.
# Note the trap: BigQuery TIMESTAMP is sqlglot TIMESTAMPTZ, and DATETIME is sqlglot TIMESTAMP.
_DT = exp.DType
_CANONICAL: dict[exp.DType, str] = {
    _DT.BIGINT: "INT64",
    _DT.INT: "INT64",
    _DT.SMALLINT: "INT64",
    _DT.TINYINT: "INT64",
    _DT.DOUBLE: "FLOAT64",
    _DT.FLOAT: "FLOAT64",
    _DT.BOOLEAN: "BOOL",
    _DT.TEXT: "STRING",
    _DT.BINARY: "BYTES",
    _DT.TIMESTAMPTZ: "TIMESTAMP",
    _DT.TIMESTAMP: "DATETIME",
    _DT.DATE: "DATE",
    _DT.TIME: "TIME",
    _DT.DECIMAL: "NUMERIC",
    _DT.BIGDECIMAL: "BIGNUMERIC",
    _DT.JSON: "JSON",
    _DT.GEOGRAPHY: "GEOGRAPHY",
    _DT.INTERVAL: "INTERVAL",
    _DT.RANGE: "RANGE",
    _DT.STRUCT: "STRUCT",
}
# Another dialect's names for BigQuery's types, used when a doc is read in that dialect.
_OTHER_DIALECT: dict[exp.DType, str] = {
    _DT.VARCHAR: "STRING",
    _DT.CHAR: "STRING",
    _DT.NVARCHAR: "STRING",
    _DT.NCHAR: "STRING",
    _DT.UUID: "STRING",
    _DT.VARBINARY: "BYTES",
    _DT.JSONB: "JSON",
    _DT.TIMESTAMPLTZ: "TIMESTAMP",
    _DT.SERIAL: "INT64",
    _DT.BIGSERIAL: "INT64",
    _DT.SMALLSERIAL: "INT64",
    _DT.MEDIUMINT: "INT64",
    _DT.UINT: "INT64",
    _DT.UBIGINT: "INT64",
}
# The written type name after a column's name (a backticked name ends one character later).
_WRITTEN_TYPE_RE = re.compile(r"`?\s*([A-Za-z_][A-Za-z0-9_]*)")

_CREATE_TABLE_RE = re.compile(
    r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:TEMP|TEMPORARY|EXTERNAL|SNAPSHOT)\s+)?"
    r"TABLE\b(?!\s+FUNCTION\b)",
    re.IGNORECASE,
)
_TOKEN_RE = re.compile(r"[A-Za-z0-9_]+|[^A-Za-z0-9_\s]")
_PLACEHOLDER_RE = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
# sqlglot's error descriptions quote tokens or values after these; the text before is generic.
_UNSAFE_DESCRIPTION_RE = re.compile(r"""['"`<{]| but got |\n""")
_TABLE_CONSTRAINTS = (exp.PrimaryKey, exp.ForeignKey, exp.Constraint)
# What sqlglot has been seen to raise beyond ParseError on odd input.
_PARSER_CRASHES = (
    SqlglotError,
    RecursionError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
)


@dataclass(frozen=True)
class SqlDocLoad:
    path: str  # relative to root, posix
    tables: tuple[TableSchema, ...]
    problems: tuple[Problem, ...]
    # Why a discovered file that nobody named as a SQL doc is not one; None for a doc.
    skipped: str | None = None
    dialect: str = sqlkind.BIGQUERY


# ---------------------------------------------------------------------------- splitting

# Where something that can hide a ';' starts; the match is the opening delimiter. Dollar
# quotes ($$ ... $$, $body$ ... $body$) are PostgreSQL's function bodies; BigQuery has no `$`.
_SPECIAL_RE = re.compile(r"--|#|/\*|'''|\"\"\"|\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$|['\"`;]")
_CLOSERS: dict[str, re.Pattern[str]] = {
    "'''": re.compile(r"(?:[^\\]|\\.)*?'''", re.DOTALL),
    '"""': re.compile(r'(?:[^\\]|\\.)*?"""', re.DOTALL),
    "'": re.compile(r"(?:[^\\']|\\.)*'", re.DOTALL),
    '"': re.compile(r'(?:[^\\"]|\\.)*"', re.DOTALL),
    "`": re.compile(r"(?:[^\\`]|\\.)*`", re.DOTALL),
}


@dataclass
class _Statement:
    """One statement: its text (placeholders substituted), where it starts, its code only."""

    start: int = -1  # offset of its first code character; -1 while only comments were seen
    pieces: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)  # without comments/strings, to classify it
    tokens: int = 0  # about what the SQL parser will see: words, symbols, whole strings

    def add(self, piece: str, offset: int, kind: str) -> None:
        """Append a piece of kind "code", "name" (backticked), "string" or "comment"."""
        if self.start < 0:
            if kind == "comment":
                return  # leading comments are not part of the statement
            stripped = len(piece) - len(piece.lstrip())
            if stripped == len(piece):
                return
            piece, offset = piece[stripped:], offset + stripped
            self.start = offset
        self.pieces.append(piece)
        self.code.append(piece if kind in ("code", "name") else " ")
        self.tokens += len(_TOKEN_RE.findall(piece)) if kind == "code" else 1


class _Placeholders:
    """Swaps `{name}` segments for identifiers sqlglot accepts, and back again."""

    def __init__(self, text: str) -> None:
        prefix = "__auditor_ph"
        lowered = text.lower()
        while prefix in lowered:  # never collide with a name already in the doc
            prefix += "x"
        self._prefix = prefix
        self._back_re = re.compile(re.escape(prefix) + r"(\d+)__")
        self._originals: list[str] = []
        self._index: dict[str, int] = {}

    def substitute(self, code: str) -> str:
        return _PLACEHOLDER_RE.sub(self._swap, code)

    def _swap(self, match: re.Match[str]) -> str:
        original = match.group(0)
        index = self._index.setdefault(original, len(self._originals))
        if index == len(self._originals):
            self._originals.append(original)
        return f"{self._prefix}{index}__"

    def restore(self, name: str) -> str:
        return self._back_re.sub(lambda m: self._originals[int(m.group(1))], name)


def _split(text: str, placeholders: _Placeholders) -> Iterator[_Statement]:
    """Split on top-level ';', skipping those inside strings, quoted names and comments."""
    current = _Statement()
    pos = 0
    n = len(text)
    while pos < n:
        match = _SPECIAL_RE.search(text, pos)
        stop = match.start() if match else n
        if stop > pos:
            current.add(placeholders.substitute(text[pos:stop]), pos, "code")
        if match is None:
            break
        opener = match.group(0)
        if opener == ";":
            if current.start >= 0:
                yield current
            current = _Statement()
            pos = match.end()
            continue
        if opener in ("--", "#"):
            newline = text.find("\n", stop)
            end = n if newline < 0 else newline
            current.add(text[stop:end], stop, "comment")
        elif opener == "/*":
            close = text.find("*/", stop + 2)
            end = n if close < 0 else close + 2
            current.add(text[stop:end], stop, "comment")
        elif opener.startswith("$"):
            close = text.find(opener, match.end())
            end = n if close < 0 else close + len(opener)
            current.add(text[stop:end], stop, "string")
        else:
            closed = _CLOSERS[opener].match(text, match.end())
            end = closed.end() if closed else n  # unterminated: runs to the end, parse fails
            if opener == "`":  # a quoted name may hold placeholders too
                current.add(placeholders.substitute(text[stop:end]), stop, "name")
            else:
                current.add(text[stop:end], stop, "string")
        pos = end
    if current.start >= 0:
        yield current


# ---------------------------------------------------------------------------- conversion


class _DocReader:
    """Turns the statements of one doc into tables and problems."""

    def __init__(self, text: str, rel_path: str, dialect: str = sqlkind.BIGQUERY) -> None:
        self.text = text
        self.path = rel_path
        self.dialect = dialect
        self.placeholders = _Placeholders(text)
        self.tables: list[TableSchema] = []
        self.problems: list[Problem] = []
        # Each column's type as written (upper case) and its line: what the file claims to be.
        self.written_types: list[tuple[str, int | None]] = []
        self._newlines = [m.start() for m in re.finditer("\n", text)]
        self._offset = 0  # lines before the statement being read
        self._sql = ""  # the statement being read, as the parser sees it

    def line_at(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1

    def problem(
        self, message: str, line: int | None, column: str | None = None, *, unread: bool = False
    ) -> None:
        self.problems.append(Problem(self.path, message, line, column, unread=unread))

    def line_of(self, node: exp.Expr) -> int | None:
        """The file line of the first token under `node` that sqlglot gave a position."""
        for sub in node.walk():
            line = sub.meta.get("line") if sub.meta else None
            if isinstance(line, int):
                return line + self._offset
        return None

    def problem_line(self, node: exp.Expr, near: int | None) -> int:
        """Like line_of, else the enclosing column's line, else the statement's first line."""
        return self.line_of(node) or near or self._offset + 1

    def statements(self) -> list[_Statement]:
        return list(_split(self.text, self.placeholders))

    def read(self, statements: Sequence[_Statement]) -> None:
        seen: dict[tuple[str | None, str], int | None] = {}
        tokens = 0
        for count, statement in enumerate(statements, start=1):
            first_line = self.line_at(statement.start)
            self._offset = first_line - 1
            tokens += statement.tokens
            # The SQL parser is slow (see auditor.limits): bound what one doc can cost.
            over = (
                f"more than {MAX_STATEMENTS:,} statements" if count > MAX_STATEMENTS
                else f"more than {MAX_TOKENS:,} SQL tokens" if tokens > MAX_TOKENS
                else None
            )  # fmt: skip
            if over is not None:
                message = f"SQL doc has {over}; statements from line {first_line} on were not read"
                self.problem(message, first_line, unread=True)
                return
            table = self._read_statement(statement, first_line)
            if table is None:
                continue
            key = (table.dataset, table.name)
            if key in seen:
                self.problem(
                    f"table {_display(table)} is defined more than once "
                    f"(first at line {seen[key]})",
                    table.location.line,
                )
            else:
                seen[key] = table.location.line
            # Both definitions are kept: the audit should see every column either declares.
            self.tables.append(table)

    def _read_statement(self, statement: _Statement, first_line: int) -> TableSchema | None:
        self._sql = "".join(statement.pieces)
        parsed = self._parse(self._sql, first_line)
        if parsed is None:
            return None
        if isinstance(parsed, exp.Create) and str(parsed.args.get("kind") or "").upper() == "TABLE":
            return self._table(parsed, first_line)
        if _CREATE_TABLE_RE.match("".join(statement.code)):
            # sqlglot fell back to an opaque Command: the table exists but its columns are unknown.
            self.problem(
                "CREATE TABLE uses syntax the SQL parser does not support; "
                "its columns were not read",
                first_line,
                unread=True,
            )
        return None

    def _parse(self, sql: str, first_line: int) -> exp.Expr | None:
        try:
            # error_message_context=0: sqlglot's messages and warnings must not quote the doc,
            # which may hold secrets in string literals.
            expressions = sqlglot.parse(sql, read=self.dialect, error_message_context=0)
        except ParseError as exc:
            detail = exc.errors[0] if exc.errors else {}
            what = _safe_description(str(detail.get("description") or ""))
            where = detail.get("line")
            at = f" (line {where + self._offset})" if isinstance(where, int) else ""
            self.problem(f"cannot parse SQL statement: {what}{at}", first_line, unread=True)
            return None
        except TokenError:
            self.problem("cannot parse SQL statement: invalid token", first_line, unread=True)
            return None
        except _PARSER_CRASHES as exc:
            # sqlglot is a third-party parser fed hostile text; its crash is this doc's problem.
            self.problem(
                f"cannot parse SQL statement: parser failed ({type(exc).__name__})",
                first_line,
                unread=True,
            )
            return None
        found = [e for e in expressions if e is not None]
        if len(found) != 1:
            self.problem(
                "cannot parse SQL statement: not exactly one statement", first_line, unread=True
            )
            return None
        return found[0]

    def _table(self, create: exp.Create, first_line: int) -> TableSchema | None:
        schema = create.this
        target = schema.this if isinstance(schema, exp.Schema) else schema
        if not isinstance(target, exp.Table):
            self.problem("CREATE TABLE without a readable table name", first_line)
            return None
        name_node = target.this
        if not isinstance(name_node, exp.Identifier):
            self.problem("table name has more than three parts", first_line)
            return None
        name = self.placeholders.restore(name_node.name)
        if not name:
            self.problem("table name is empty", first_line)
            return None
        db = target.args.get("db")
        dataset = self.placeholders.restore(db.name) if isinstance(db, exp.Identifier) else None
        line = self.line_of(name_node) or first_line
        location = Location(self.path, line)
        fields: tuple[Field, ...] = ()
        items = schema.expressions if isinstance(schema, exp.Schema) else []
        if items:
            fields = self._fields(items, "", 1, line)
        else:
            self.problem(
                f"CREATE TABLE {_join(dataset, name)} declares no columns "
                "(AS SELECT, LIKE, COPY or CLONE); its columns cannot be audited",
                line,
            )
        return TableSchema(name, fields, Origin.SQL_DOC, location, dataset)

    def _fields(
        self, items: Sequence[exp.Expr], parent: str, depth: int, parent_line: int | None
    ) -> tuple[Field, ...]:
        fields: list[Field] = []
        seen: set[str] = set()
        for item in items:
            if isinstance(item, _TABLE_CONSTRAINTS):
                continue  # PRIMARY KEY / FOREIGN KEY ... NOT ENFORCED: not columns
            if not isinstance(item, exp.ColumnDef):
                what = (
                    "STRUCT member without a name" if parent else "unrecognised column definition"
                )
                self.problem(what, self.problem_line(item, parent_line), parent or None)
                continue
            built = self._field(item, parent, depth, parent_line)
            if built is None:
                continue
            folded = built.name.casefold()  # BigQuery column names are case-insensitive
            if folded in seen:
                self.problem(
                    f"column {built.name} is declared more than once",
                    built.line,
                    _join(parent or None, built.name),
                )
            seen.add(folded)
            fields.append(built)
        return tuple(fields)

    def _field(
        self, column: exp.ColumnDef, parent: str, depth: int, parent_line: int | None
    ) -> Field | None:
        ident = column.this
        if not isinstance(ident, exp.Identifier) or not ident.name:
            where = self.problem_line(column, parent_line)
            self.problem("column name is not a valid identifier", where, parent or None)
            return None
        name = self.placeholders.restore(ident.name)
        path = _join(parent or None, name)
        line = self.line_of(ident)
        end = ident.meta.get("end") if ident.meta else None
        written = _WRITTEN_TYPE_RE.match(self._sql, end + 1) if isinstance(end, int) else None
        if written is not None:
            self.written_types.append((written.group(1).upper(), line))
        kind = column.args.get("kind")
        if not isinstance(kind, exp.DataType):
            self.problem(f"column {name} has no type", line, path)
            return None
        element = kind
        arrays = 0
        while element.this == _DT.ARRAY:
            inner = element.expressions[0] if element.expressions else None
            if not isinstance(inner, exp.DataType):
                self.problem(f"column {name} is an ARRAY without an element type", line, path)
                return None
            element, arrays = inner, arrays + 1
        if arrays > 1:
            # Not valid BigQuery; keep the column (its name still matters) as its innermost type.
            self.problem("ARRAY of ARRAY is not a BigQuery type", line, path)
        sub_fields: tuple[Field, ...] = ()
        if element.this == _DT.STRUCT:
            if depth >= MAX_NESTING:
                self.problem(f"STRUCT nested deeper than {MAX_NESTING} levels", line, path)
            else:
                sub_fields = self._fields(element.expressions, path, depth + 1, line)
        mode = "REPEATED" if arrays else "REQUIRED" if _not_null(column) else "NULLABLE"
        return Field(
            name=name,
            type=self._type_name(element, path, line),
            mode=mode,
            description=_description(column),
            fields=sub_fields,
            line=line,
        )

    def _type_name(self, kind: exp.DataType, path: str, line: int | None) -> str:
        dtype = kind.this
        known = _CANONICAL.get(dtype) if isinstance(dtype, exp.DType) else None
        if known is None and self.dialect != sqlkind.BIGQUERY and isinstance(dtype, exp.DType):
            known = _OTHER_DIALECT.get(dtype)
        if known is not None:
            return known
        label = dtype.value if isinstance(dtype, exp.DType) else str(dtype)
        if self.dialect == sqlkind.BIGQUERY:
            # Not a BigQuery type (e.g. VARCHAR, UUID): keep the column, say what it was read as.
            self.problem(f"column type {label} is not a BigQuery type", line, path)
        return label.upper()


def _safe_description(description: str) -> str:
    """sqlglot's error text without the doc's own text (tokens, quoted values): no secrets."""
    cut = _UNSAFE_DESCRIPTION_RE.split(description, maxsplit=1)[0]
    cut = cut.strip(" :")[:80].strip()
    return cut or "invalid syntax"


def _not_null(column: exp.ColumnDef) -> bool:
    for constraint in column.constraints:
        kind = constraint.args.get("kind")
        # `NULL` parses as NotNullColumnConstraint(allow_null=True).
        if isinstance(kind, exp.NotNullColumnConstraint) and not kind.args.get("allow_null"):
            return True
    return False


def _description(column: exp.ColumnDef) -> str | None:
    for constraint in column.constraints:
        options = constraint.args.get("kind")
        if not isinstance(options, exp.Properties):
            continue
        for prop in options.expressions:
            if isinstance(prop, exp.Property) and prop.name.lower() == "description":
                value = prop.args.get("value")
                if (isinstance(value, exp.Literal) and value.is_string) or isinstance(
                    value, exp.RawString
                ):
                    return str(value.this)
    return None


def _join(parent: str | None, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _display(table: TableSchema) -> str:
    return _join(table.dataset, table.name)


# ---------------------------------------------------------------------------- public API


def parse_sql_doc(
    text: str, rel_path: str, *, dialect: str = sqlkind.BIGQUERY, claimed: bool = True
) -> SqlDocLoad:
    """Read the CREATE TABLE statements of one SQL doc. Never raises on bad input.

    `dialect`: a sqlglot dialect name. `claimed`: a SQL doc glob names the file; when not,
    the file is first asked whether it is a schema doc at all (see the module doc).
    """
    too_big = len(text) > MAX_DOC_BYTES or (
        len(text.encode("utf-8", "surrogatepass")) > MAX_DOC_BYTES
    )
    if too_big:
        message = f"SQL doc is larger than {MAX_DOC_BYTES} bytes; not read"
        if not claimed:
            return SqlDocLoad(rel_path, (), (), message, dialect)
        return SqlDocLoad(rel_path, (), (Problem(rel_path, message, unread=True),), None, dialect)
    # sqlglot and _split count only '\n'; normalising keeps every line number in agreement.
    reader = _DocReader(text.replace("\r\n", "\n").replace("\r", "\n"), rel_path, dialect)
    statements = reader.statements()
    if claimed:
        reader.read(statements)
        return SqlDocLoad(rel_path, tuple(reader.tables), tuple(reader.problems), None, dialect)
    codes = ["".join(statement.code) for statement in statements]
    reason = sqlkind.before_parse(codes)
    if reason is None:
        tables = [
            s for s, code in zip(statements, codes, strict=True) if sqlkind.declares_columns(code)
        ]
        reader.read(tables)
        reason = sqlkind.after_parse(
            codes, reader.tables, reader.problems, reader.written_types, dialect
        )
    if reason is not None:
        return SqlDocLoad(rel_path, (), (), reason, dialect)
    return SqlDocLoad(rel_path, tuple(reader.tables), tuple(reader.problems), None, dialect)


def load_sql_doc(
    path: Path, root: Path, *, dialect: str = sqlkind.BIGQUERY, claimed: bool = True
) -> SqlDocLoad:
    """Read and parse one SQL doc file; an unreadable file is a Problem, never an exception.

    A file nobody named (`claimed` False) that is not UTF-8 text or is over the size limit
    is skipped with the reason; any other read failure is a Problem (a coverage gap).
    """
    rel_path = relative(path, root)
    try:
        text = read_text_bounded(path, MAX_DOC_BYTES, "SQL doc")
    except UnreadableFile as exc:
        if not claimed and exc.kind is not Unreadable.FAILED:
            return SqlDocLoad(rel_path, (), (), exc.message, dialect)
        problem = Problem(rel_path, exc.message, exc.line, unread=True)
        return SqlDocLoad(rel_path, (), (problem,), None, dialect)
    return parse_sql_doc(text, rel_path, dialect=dialect, claimed=claimed)
