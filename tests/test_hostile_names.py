"""Hostile names and free text (tests/support/hostile.py) from every source, through every
output.

1. SQL: every builder either backtick-quotes a checked name or refuses it with a clear
   error; values are query parameters. Generated SQL is parsed with sqlglot (BigQuery
   dialect): one statement, identifiers round-trip exactly. Names BigQuery itself allows
   (Unicode table ids, spaces, 300 characters) are created on the local engine and scanned
   end to end.
2. HTML: a report whose findings, gaps and waivers carry hostile text has no injected element,
   attribute or URL, and keeps its CSP (the browser test at the end opens it).
3. Terminal: console report, `access explain`, CLI errors and text logs show control, bidi
   and zero-width characters as escapes; JSON, SARIF and JUnit stay parseable.

Runtime (2 shared cores): about 15 s without the emulator and browser tests, about 50 s with
them (engine start and the hostile estate: 14 s; the browser: 7 s).
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from click.testing import CliRunner
from google.cloud import bigquery
from sqlglot import exp

from auditor.cli import main
from auditor.content.columns import SAFE_NAME, TextColumn
from auditor.content.pushdown import NotCompilable, ScanTarget, compile_query
from auditor.demo.estate import build_estate
from auditor.demo.seed import SeedOptions, seed
from auditor.errors import UsageError
from auditor.history.bigquery_sink import parse_dataset
from auditor.history.store import HistoryStore
from auditor.io.safe_text import terminal_lines, terminal_text
from auditor.logs import JsonLog, LogSeverity, TextLog
from auditor.model import (
    AccessEntry,
    CoverageGap,
    Dataset,
    Field,
    GranteeKind,
    Inventory,
    Report,
    RunInfo,
    Table,
)
from auditor.policy.waivers import load_waivers
from auditor.report import console, junit
from auditor.report.html import content_security_policy
from auditor.resources import PROJECT_DIR
from auditor.sources.bigquery import make_client
from auditor.sources.infoschema import UnsafeIdentifier, View, region_query, sql_identifier
from auditor.sources.snapshot.read import read_snapshot
from auditor.sources.snapshot.write import dump_snapshot
from tests.conftest import LocalBigQuery
from tests.support.hostile import (
    BY_KEY,
    CORPUS,
    CYRILLIC_A,
    ESC,
    READABLE,
    RLO,
    TABLE_IDS,
    TERMINAL_UNSAFE,
    table_id_ok,
)

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
KEYS = [h.key for h in CORPUS]
TEXTS = [h.text for h in CORPUS]
# What a waiver file, a command line or the history can hold: a YAML file with an unpaired
# surrogate is refused (test_an_unpaired_surrogate_in_yaml_is_refused_naming_the_line);
# a snapshot keeps one, and every report shows it escaped.
STORED = [h for h in CORPUS if h.key != "lone_surrogate"]
S_TEXTS = [h.text for h in STORED]
CREATED = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def raw_unsafe(text: str) -> set[str]:
    """The terminal-unsafe characters present raw in `text`."""
    return {c for c in text if c in TERMINAL_UNSAFE}


def parse_one(sql: str) -> exp.Expression:
    """`sql` parsed as BigQuery: exactly one statement, a SELECT."""
    statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    assert len(statements) == 1, sql
    assert isinstance(statements[0], exp.Select | exp.Union), type(statements[0])
    return statements[0]


def table_parts(statement: exp.Expression) -> set[tuple[str, str, str]]:
    """(project, dataset, table) of every qualified table (aliases and CTEs have no dataset)."""
    return {(t.catalog, t.db, t.name) for t in statement.find_all(exp.Table) if t.db}


# --------------------------------------------------------------------------- the corpus


def test_corpus_covers_every_kind_of_hostile_text() -> None:
    joined = "".join(TEXTS)
    for needed in ("'", '"', "`", "\\", "\n", "\r", "\x00", "\x07", "\x9b", ESC, RLO,
                   "\u2066", "\u200b", "\u2028", CYRILLIC_A, "\U0001f600", "<script>",
                   "onerror=", "javascript:", "{{ 7*7 }}", "; DROP TABLE x; --", "*/"):  # fmt: skip
        assert needed in joined, needed
    assert max(len(t) for t in TEXTS) == 300
    assert all(table_id_ok(t) for t in TABLE_IDS)
    assert not table_id_ok(BY_KEY["backtick"]) and not table_id_ok(BY_KEY["sql_injection"])


# --------------------------------------------------------------------------- 1. SQL


@pytest.mark.parametrize("kind", ["project", "region", "dataset"])
@pytest.mark.parametrize("text", TEXTS, ids=KEYS)
def test_infoschema_refuses_every_hostile_identifier(kind: str, text: str) -> None:
    if text == BY_KEY["long"] and kind != "project":  # plain letters: a legal (odd) name
        assert sql_identifier(kind, text) == f"`{text}`"
        return
    with pytest.raises(UnsafeIdentifier) as raised:
        sql_identifier(kind, text)
    assert str(raised.value).startswith(f"invalid {kind} name {text!r} (must match ")


@pytest.mark.parametrize("text", TEXTS, ids=KEYS)
def test_region_query_refuses_hostile_project_and_region(text: str) -> None:
    with pytest.raises(UnsafeIdentifier, match="invalid project name"):
        region_query(text, "us", View.TABLES)
    if text == BY_KEY["long"]:
        return  # a region of plain letters (checked by the parse test below)
    with pytest.raises(UnsafeIdentifier, match="invalid region name"):
        region_query(P, text, View.TABLES)


@pytest.mark.parametrize("view", list(View))
def test_region_query_parses_as_one_select_of_the_quoted_view(view: View) -> None:
    project = "example.com:my-project"  # a domain-scoped id: dots and a colon inside backticks
    statement = parse_one(region_query(project, "europe-west4", view))
    # sqlglot reads `a`.`b`.INFORMATION_SCHEMA.V as one table named INFORMATION_SCHEMA.V.
    assert table_parts(statement) == {
        (project, "region-europe-west4", f"INFORMATION_SCHEMA.{view.value}")
    }


def _target(table_id: str, *columns: str, dataset: str = "acme") -> ScanTarget:
    fields = tuple(Field(c, "STRING") for c in columns)
    table = Table(P, dataset, table_id, fields=fields)
    return ScanTarget(table, tuple(TextColumn((f,)) for f in fields))


def _compile(target: ScanTarget) -> Any:
    return compile_query([target], sample_rows=10, max_cell_chars=100)


@pytest.mark.parametrize("table_id", ["x_meta_step_logs", *TABLE_IDS])
def test_pushdown_quotes_table_ids_it_accepts(table_id: str) -> None:
    query = _compile(_target(table_id, "error_message"))
    statement = parse_one(query.sql)
    assert table_parts(statement) == {(P, "acme", table_id)}
    assert table_parts(parse_one(query.samples[0])) == {(P, "acme", table_id)}
    columns = {c.name for c in statement.find_all(exp.Column)}
    assert "error_message" in columns


def test_pushdown_passes_detector_patterns_and_keywords_as_parameters() -> None:
    query = _compile(_target("x_meta_step_logs", "error_message"))
    values = [v for _, v in query.parameters]
    assert any("AIza" in v for v in values)  # the Google API key pattern
    assert all(v not in query.sql for v in values if len(v) > 3)
    names = {n for n, _ in query.parameters}
    assert names == set(re.findall(r"@(p\d+)", query.sql))


ILLEGAL_TABLE_IDS = [h for h in CORPUS if not table_id_ok(h.text)]
UNSAFE_COLUMNS = [h for h in CORPUS if SAFE_NAME.fullmatch(h.text) is None]


@pytest.mark.parametrize(
    "text", [h.text for h in ILLEGAL_TABLE_IDS], ids=[h.key for h in ILLEGAL_TABLE_IDS]
)
def test_pushdown_refuses_table_ids_bigquery_would_not_allow(text: str) -> None:
    with pytest.raises(NotCompilable) as raised:
        _compile(_target(text, "error_message"))
    assert str(raised.value) == f"table id {text!r} is not a plain name; not put into SQL"


@pytest.mark.parametrize(
    "text", [h.text for h in UNSAFE_COLUMNS], ids=[h.key for h in UNSAFE_COLUMNS]
)
def test_pushdown_refuses_column_names_that_are_not_plain(text: str) -> None:
    with pytest.raises(NotCompilable) as raised:
        _compile(_target("x_meta_step_logs", text))
    assert str(raised.value) == f"column {text!r} is not a plain name; not put into SQL"


@pytest.mark.parametrize("text", TEXTS, ids=KEYS)
def test_history_sink_refuses_hostile_dataset_names(text: str) -> None:
    if text == BY_KEY["long"]:  # 300 plain letters: a legal dataset id
        assert parse_dataset(text, P).dataset_id == text
        return
    with pytest.raises(UsageError) as raised:
        parse_dataset(text, P)
    assert str(raised.value) == f"not a BigQuery dataset (dataset or project.dataset): {text!r}"


@pytest.mark.parametrize("text", TEXTS, ids=KEYS)
def test_demo_seed_refuses_hostile_projects(text: str) -> None:
    """The demo formats its project into view SQL; a hostile one stops before any call."""
    with pytest.raises(UsageError) as raised:
        seed(None, SeedOptions(project=text))  # type: ignore[arg-type]  (never reached)
    assert str(raised.value) == f"not a BigQuery project id: {text!r}"


def test_demo_view_sql_parses_as_one_select_of_quoted_tables() -> None:
    estate = build_estate(SeedOptions(project="example.com:gac-prod-1"))
    views = [v for d in estate.datasets for v in d.views]
    assert views, "the demo estate has views"
    for view in views:
        statement = parse_one(view.query)
        assert {project for project, _, _ in table_parts(statement)} == {"example.com:gac-prod-1"}


def test_history_store_keeps_hostile_strings_exactly(tmp_path: Path) -> None:
    """SQLite gets every value as a `?` parameter: hostile strings are stored verbatim."""
    from auditor.model import Finding, Severity, Status

    findings = tuple(
        Finding(
            rule_id="AUD-010",
            rule_name="datasets-classified",
            status=Status.FAIL,
            severity=Severity.LOW,
            resource=f"{BQ}/{text}",
            message=text,
            column=text,
        )
        for text in S_TEXTS
    )
    report = Report(RunInfo(CREATED, CREATED, "/r", "auditor scan"), (), findings)
    with HistoryStore.open(tmp_path / "h.sqlite") as store:
        run_id = store.record(report, results_sha256="0" * 64)
        stored = store.findings(run_id)
    assert sorted((f.resource, f.message, f.column) for f in stored) == sorted(
        (f"{BQ}/{t}", t, t) for t in S_TEXTS
    )


# ------------------------------------------------------------------ 1b. the live estate

TENANT = "hostile_tenant"
FLEX = "hostile_flex"
DESCRIPTION = f"{ESC}[31m<script>alert(1)</script>{RLO}{ESC}]0;title\x07\nforged"
# Flexible column names the engine accepts, which the content scan will not put into SQL.
FLEX_COLUMNS = {"f_space": "my col-1", "f_quote": "o'col", "f_tag": "<b>x", "f_cjk": "日本"}
LEGAL_TABLES = {  # table id -> its one STRING column
    f"cust{CYRILLIC_A}mers_copy": "api_key",  # a credential column in a confusable table
    "données größe-日本語": "note",
    "spaced name - with dashes": "note",
    "t" * 300: "note",
}


@pytest.fixture(scope="module")
def hostile_estate(faithful_bq: LocalBigQuery) -> Iterator[LocalBigQuery]:
    """Two tenant datasets with legal but hostile names; removed afterwards, since the
    engine is shared by the whole test session."""
    client = make_client(P, faithful_bq.endpoint)
    try:
        _create_hostile_datasets(client)
        yield faithful_bq
    finally:
        for dataset_id in (TENANT, FLEX):
            client.delete_dataset(f"{P}.{dataset_id}", delete_contents=True, not_found_ok=True)


def _create_hostile_datasets(client: bigquery.Client) -> None:
    tenant = bigquery.Dataset(f"{P}.{TENANT}")
    tenant.labels = {"dataset_role": "tenant", "note": "données-日本"}
    tenant.description = DESCRIPTION
    client.create_dataset(tenant)
    ref = bigquery.DatasetReference(P, TENANT)
    for table_id, column in LEGAL_TABLES.items():
        table = bigquery.Table(
            ref.table(table_id),
            schema=[bigquery.SchemaField(column, "STRING", description=DESCRIPTION)],
        )
        table.description = DESCRIPTION
        client.create_table(table)
        if len(table_id) < 200:  # the engine keeps a table's rows in a folder named after it
            client.insert_rows_json(ref.table(table_id), [{column: f"value {DESCRIPTION}"}])
    view = bigquery.Table(ref.table("hostile_view"))
    view.view_query = f"SELECT note FROM `{P}.{TENANT}.spaced name - with dashes` -- */ `; DROP"
    client.create_table(view)
    flex = bigquery.Dataset(f"{P}.{FLEX}")
    flex.labels = {"dataset_role": "tenant"}
    client.create_dataset(flex)
    for table_id, column in FLEX_COLUMNS.items():
        table = bigquery.Table(
            bigquery.DatasetReference(P, FLEX).table(table_id),
            schema=[bigquery.SchemaField(column, "STRING")],
        )
        client.create_table(table)


IAM = ("--iam-exports", str(PROJECT_DIR / "examples" / "demo-iam"))


def scan(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "scan.json"
    result = CliRunner().invoke(main, ["scan", *args, "-f", "json", "-o", str(out)])
    assert "Traceback" not in result.output
    assert out.exists(), result.output
    return result.exit_code, json.loads(out.read_text(encoding="utf-8")), result.output


def failing(report: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    return {
        (f["rule_name"], f["resource"], f.get("column"))
        for f in report["findings"]
        if f["status"] == "FAIL"
    }


@pytest.mark.emulator
@pytest.mark.parametrize("fast_path", ["--fast-path", "--no-fast-path"])
def test_legal_hostile_names_are_scanned_end_to_end(
    hostile_estate: LocalBigQuery, tmp_path: Path, fast_path: str
) -> None:
    only = ("--only", "tenant-no-credential-columns", "--only", "table-cmek",
            "--only", "tenant-no-credential-values")  # fmt: skip
    code, report, _ = scan(
        tmp_path, "--endpoint", hostile_estate.endpoint, *IAM, "--dataset", TENANT, fast_path, *only
    )
    tables = f"{BQ}/{TENANT}/tables"
    expected = {("table-cmek", f"{tables}/{t}", None) for t in LEGAL_TABLES}
    expected.add(("tenant-no-credential-columns", f"{tables}/cust{CYRILLIC_A}mers_copy", "api_key"))
    assert failing(report) == expected
    # The content scan read every table through the REST API (ids in URL paths).
    contents = {
        f["resource"].removeprefix(f"{tables}/"): f["status"]
        for f in report["findings"]
        if f["rule_name"] == "tenant-no-credential-values"
    }
    assert contents == {**dict.fromkeys(LEGAL_TABLES, "PASS"), "hostile_view": "SKIPPED"}
    assert report["run"]["complete"] is True, report["run"]["coverage"]
    assert code == 1


@pytest.mark.emulator
def test_pushdown_queries_legal_hostile_table_ids(
    hostile_estate: LocalBigQuery, tmp_path: Path
) -> None:
    """The same tables through pushdown: their ids go into SQL, backtick-quoted."""
    code, report, _ = scan(
        tmp_path, "--endpoint", hostile_estate.endpoint, *IAM, "--dataset", TENANT,
        "--content-scan", "pushdown", "--only", "tenant-no-credential-values",
    )  # fmt: skip
    statuses = {
        f["resource"].removeprefix(f"{BQ}/{TENANT}/tables/"): f["status"]
        for f in report["findings"]
    }
    assert statuses == {**dict.fromkeys(LEGAL_TABLES, "PASS"), "hostile_view": "SKIPPED"}
    assert report["run"]["complete"] is True, report["run"]["coverage"]
    assert code == 0


@pytest.mark.emulator
def test_snapshot_of_the_hostile_estate_keeps_every_string_exactly(
    hostile_estate: LocalBigQuery, tmp_path: Path
) -> None:
    snap = tmp_path / "estate.json"
    result = CliRunner().invoke(
        main,
        ["snapshot", "--endpoint", hostile_estate.endpoint, *IAM, "--dataset", TENANT,
         "-o", str(snap)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    inventory = read_snapshot(snap)
    (dataset,) = inventory.datasets
    assert dataset.description == DESCRIPTION
    assert dataset.labels == {"dataset_role": "tenant", "note": "données-日本"}
    tables = {t.table_id: t for t in inventory.live_tables}
    assert set(tables) == {*LEGAL_TABLES, "hostile_view"}
    for table_id, column in LEGAL_TABLES.items():
        assert tables[table_id].description == DESCRIPTION
        assert [(f.name, f.description) for f in tables[table_id].fields] == [(column, DESCRIPTION)]
    assert tables["hostile_view"].view_query == (
        f"SELECT note FROM `{P}.{TENANT}.spaced name - with dashes` -- */ `; DROP"
    )


@pytest.mark.emulator
def test_flexible_column_names_are_a_visible_gap_not_sql(
    hostile_estate: LocalBigQuery, tmp_path: Path
) -> None:
    code, report, _ = scan(
        tmp_path, "--endpoint", hostile_estate.endpoint, *IAM, "--dataset", FLEX,
        "--only", "tenant-no-credential-values",
    )  # fmt: skip
    reason = "contents of columns not scanned, their names are not plain identifiers: "
    assert {(g["scope"], g["reason"]) for g in report["run"]["coverage"]} == {
        (f"{BQ}/{FLEX}/tables/{t}", reason + c) for t, c in FLEX_COLUMNS.items()
    }
    assert code == 3


@pytest.mark.emulator
def test_console_scan_of_the_hostile_estate_shows_names_readably(
    hostile_estate: LocalBigQuery,
) -> None:
    result = CliRunner().invoke(
        main,
        ["scan", "--endpoint", hostile_estate.endpoint, *IAM, "--dataset", TENANT,
         "--only", "tenant-no-credential-columns", "--color"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"{BQ}/{TENANT}/tables/cust{CYRILLIC_A}mers_copy" in result.stdout
    assert raw_unsafe(re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)) == {"\n"}


# ----------------------------------------------------- 2 and 3. a snapshot full of them


def hostile_inventory() -> Inventory:
    """Every hostile string as: an unlabelled dataset id (AUD-010), a tenant table id with a
    credential column (AUD-001), label keys and values, descriptions, policy tag names, view
    SQL, a reader of `customers` (user:KEY+TEXT@example.com) and a coverage gap."""
    datasets = [Dataset(P, text, location="EU") for text in TEXTS]
    readers = tuple(
        AccessEntry(GranteeKind.USER, f"user:{key}{text}@example.com", "roles/bigquery.dataViewer")
        for key, text in zip(KEYS, TEXTS, strict=True)
    )
    datasets.append(Dataset(P, "customers", location="EU", access=readers))
    labels = {
        "dataset_role": "tenant",
        **{f"{key}{text}": text for key, text in zip(KEYS, TEXTS, strict=True)},
    }
    datasets.append(Dataset(P, "acme", location="EU", labels=labels, description=" ".join(TEXTS)))
    tag = f"projects/{P}/locations/eu/taxonomies/1/policyTags/"
    tables = tuple(
        Table(
            P, "acme", text,
            fields=(Field("api_key", "STRING", description=text, policy_tags=(tag + text,)),),
            labels={key: text},
            description=text,
        )
        for key, text in zip(KEYS, TEXTS, strict=True)
    )  # fmt: skip
    view = Table(P, "acme", "acme_view", type="VIEW", view_query=f"SELECT 1 -- {' '.join(TEXTS)}")
    return Inventory(
        root="/estate",
        project=P,
        datasets=tuple(datasets),
        live_tables=(*tables, view),
        gaps=tuple(
            CoverageGap(f"{BQ}/gap_{k}", f"403: {t}") for k, t in zip(KEYS, TEXTS, strict=True)
        ),
    )


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "estate.json"
    text = dump_snapshot(hostile_inventory(), created_at=CREATED, tool_version="0.1.0")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def waivers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("waivers") / "waivers.yaml"
    entries = [
        {
            "rule": "AUD-010",
            "resource": f"{BQ}/{BY_KEY['script_tag']}",
            "reason": " ".join(S_TEXTS),  # YAML: no unpaired surrogate
            "owner": "data-platform@example.com",
            "expires": "2099-01-31",
        }
    ]
    path.write_text(json.dumps({"waivers": entries}), encoding="utf-8")  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def outputs(snapshot: Path, waivers: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(
        main,
        ["scan", "--snapshot", str(snapshot), "--waivers", str(waivers),
         "-f", "json", "-f", "sarif", "-f", "junit", "-f", "html", "--output-dir", str(out)],
    )  # fmt: skip
    assert result.exit_code == 3, result.output  # the gaps make it incomplete
    return out


def _one(folder: Path, suffix: str) -> Path:
    (found,) = [p for p in folder.iterdir() if p.name.endswith(suffix)]
    return found


def test_json_report_carries_hostile_names_exactly(outputs: Path) -> None:
    report = json.loads(_one(outputs, ".json").read_text(encoding="ascii"))
    classified = {
        f["resource"]
        for f in report["findings"]
        if f["rule_name"] == "datasets-classified" and f["status"] in ("FAIL", "WAIVED")
    }
    assert classified == {f"{BQ}/{t}" for t in TEXTS}
    columns = {
        (f["resource"], f["column"])
        for f in report["findings"]
        if f["rule_name"] == "tenant-no-credential-columns" and f["status"] == "FAIL"
    }
    assert columns == {(f"{BQ}/acme/tables/{t}", "api_key") for t in TEXTS}
    gaps = {(g["scope"], g["reason"]) for g in report["run"]["coverage"]}
    assert {(f"{BQ}/gap_{k}", f"403: {t}") for k, t in zip(KEYS, TEXTS, strict=True)} == gaps


def test_sarif_is_valid_json_with_the_names(outputs: Path) -> None:
    sarif = json.loads(_one(outputs, ".sarif").read_text(encoding="ascii"))
    messages = [r["message"]["text"] for r in sarif["runs"][0]["results"]]
    for text in TEXTS:
        assert any(text in m for m in messages), text


def test_junit_is_well_formed_xml_with_controls_shown_as_escapes(outputs: Path) -> None:
    path = _one(outputs, ".xml")
    root = ET.parse(path).getroot()  # raises on a character XML 1.0 cannot carry
    names = {case.get("name") for case in root.iter("testcase")}
    # Each unclassified dataset is a case named by its resource: < > & parse back as they
    # were, controls and invisible characters come back as escapes.
    assert {terminal_lines(f"{BQ}/{t}") for t in TEXTS} <= names
    assert f"{BQ}/{BY_KEY['script_tag']}" in names
    assert f"{BQ}/nul\\x00byte" in names
    assert raw_unsafe(path.read_text(encoding="utf-8")) == {"\n"}


@pytest.mark.parametrize("text", TEXTS, ids=KEYS)
def test_junit_text_is_always_xml_parseable(text: str) -> None:
    shown = junit._xml_text(text)
    assert raw_unsafe(shown) <= {"\n"}
    element = ET.Element("t", {"a": shown})
    element.text = shown
    parsed = ET.fromstring(ET.tostring(element, encoding="unicode"))
    assert parsed.get("a") == parsed.text == shown


class _Page(HTMLParser):
    """Every element with its attributes, the text outside <script>, and script bodies."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


@pytest.fixture(scope="module")
def page(outputs: Path) -> _Page:
    parsed = _Page()
    parsed.feed(_one(outputs, ".html").read_text(encoding="utf-8"))
    parsed.close()
    return parsed


def test_html_has_no_injected_element_attribute_or_url(page: _Page) -> None:
    tags = {tag for tag, _ in page.elements}
    assert tags.isdisjoint({"img", "iframe", "object", "embed", "form", "base", "frame"})
    # The findings data block and the page's one script: nothing else.
    assert sorted(str(a.get("type")) for t, a in page.elements if t == "script") == [
        "None",
        "application/json",
    ]
    for tag, attrs in page.elements:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name, value in attrs.items():
            if name in ("href", "src", "action", "formaction", "xlink:href", "srcset"):
                assert value is not None and (value.startswith("#") or value == "data:,"), value


def test_html_keeps_its_content_security_policy(page: _Page, outputs: Path) -> None:
    (csp,) = [
        a["content"]
        for t, a in page.elements
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    html_text = _one(outputs, ".html").read_text(encoding="utf-8")
    style = re.search(r"<style>(.*?)</style>", html_text, re.DOTALL)
    script = re.search(r"<script>(.*?)</script>", html_text, re.DOTALL)
    assert style is not None and script is not None
    assert csp == content_security_policy(style.group(1), script.group(1))


def test_html_shows_hostile_text_literally(page: _Page) -> None:
    text = "".join(page.text)
    assert BY_KEY["script_tag"] in text  # the waiver reason and gaps, as text
    assert BY_KEY["img_onerror"] in text
    assert BY_KEY["template"] in text  # not evaluated by the template engine
    assert BY_KEY["javascript_url"] in text  # text, never a link
    assert f"403: cust{CYRILLIC_A}mers" in text  # other scripts stay readable
    assert "customers\\u202etxt.exe" in text  # bidi override shown, not obeyed
    assert raw_unsafe(text) <= {"\n"}  # layout newlines of the page itself
    # The findings data block (read by the page's script, shown with textContent only)
    # carries every name exactly.
    (data,) = [json.loads(s) for s in page.scripts if s.lstrip().startswith("{")]
    assert {f"{BQ}/{t}" for t in TEXTS} <= set(data["strings"])


def test_console_report_escapes_every_control(snapshot: Path, waivers: Path) -> None:
    result = CliRunner().invoke(
        main, ["scan", "--snapshot", str(snapshot), "--waivers", str(waivers)]
    )
    assert result.exit_code == 3
    out = result.stdout
    assert raw_unsafe(out) == {"\n"}
    assert f"{BQ}/{terminal_text(BY_KEY['ansi_color'])}" in out
    assert "\\x1b]0;pwned title\\x07" in out  # the OSC title, escaped
    assert "customers\\u202etxt.exe" in out
    assert "cus\\u200btomers" in out
    assert "[bold red]markup[/]" in out  # rich markup printed, not applied
    for readable in READABLE:
        assert readable in out
    # A newline in a name cannot forge a line of the report.
    assert not any(line.startswith("CRITICAL FAIL forged") for line in out.splitlines())


def test_access_explain_escapes_principals(snapshot: Path) -> None:
    result = CliRunner().invoke(
        main, ["access", "explain", "--dataset", "customers", "--snapshot", str(snapshot)]
    )
    assert result.exit_code == 3, result.output  # the snapshot has coverage gaps
    out = result.stdout
    assert raw_unsafe(out) == {"\n"}
    assert "user:osc_title\\x1b]0;pwned title\\x07@example.com can read" in out
    assert f"user:confusablecust{CYRILLIC_A}mers@example.com can read" in out
    assert not any(line.startswith("CRITICAL FAIL forged") for line in out.splitlines())
    assert raw_unsafe(result.stderr) == {"\n"}
    assert "coverage gap: " + terminal_text(f"{BQ}/gap_nul: 403: {BY_KEY['nul']}") in result.stderr


def test_an_unpaired_surrogate_in_yaml_is_refused_naming_the_line(tmp_path: Path) -> None:
    """A YAML escape can spell half a character; the file is refused, naming the line."""
    waivers = tmp_path / "waivers.yaml"
    entry = '{rule: AUD-010, resource: "*", owner: o@example.com, expires: 2099-01-01, reason: '
    waivers.write_text(f'waivers:\n  - {entry}"half \\ud83d pair"}}\n', encoding="utf-8")
    result = CliRunner().invoke(
        main, ["scan", "--snapshot", str(tmp_path / "nope.json"), "--waivers", str(waivers)]
    )
    assert result.exit_code == 2, result.output
    assert f"error: {waivers}:2: string holds an unpaired surrogate \\ud83d" in result.stderr


def test_an_escaped_surrogate_pair_in_yaml_is_one_character(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        'waivers:\n  - {rule: AUD-010, resource: "*", owner: o@example.com, expires: 2099-01-01,'
        ' reason: "ok \\ud83d\\ude00"}\n',
        encoding="utf-8",
    )
    assert load_waivers(waivers)[0].reason == "ok \U0001f600"


def test_remediation_plan_shows_hostile_names_escaped(snapshot: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    result = CliRunner().invoke(
        main,
        ["remediate", "plan", "--snapshot", str(snapshot), "-o", str(plan), "--only", "AUD-007",
         "--allow-partial"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert raw_unsafe(out) == {"\n"}
    dataset = terminal_text(BY_KEY["osc_title"])
    assert f"choose a default CMEK for dataset {dataset}\n" in out
    assert not any(line.startswith("CRITICAL FAIL forged") for line in out.splitlines())
    assert json.loads(plan.read_text(encoding="utf-8"))["project"] == P


def test_rules_list_escapes_a_hostile_title(tmp_path: Path) -> None:
    source = PROJECT_DIR / "policies" / "AUD-010-datasets-classified.yaml"
    text = re.sub(r"(?m)^title: .*$", r'title: "Classified \\e]0;t\\a \\u202e"', source.read_text())
    (tmp_path / "AUD-010.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "list", "-p", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("medium   Classified \\x1b]0;t\\x07 \\u202e\n")
    assert raw_unsafe(result.stdout) == {"\n"}


# --------------------------------------------------------------- CLI errors and logs


# A command-line argument cannot hold NUL (argv entries are C strings).
# Nor an unpaired high surrogate (undecodable bytes become \\udc80-\\udcff, which round-trip).
ARGV_TEXTS = [h for h in STORED if "\x00" not in h.text]


@pytest.mark.parametrize("text", [h.text for h in ARGV_TEXTS], ids=[h.key for h in ARGV_TEXTS])
def test_cli_error_messages_escape_controls(text: str, tmp_path: Path) -> None:
    path = str(tmp_path / f"{text}.json")  # as Path shows it: "//" becomes "/"
    result = CliRunner().invoke(main, ["scan", "--snapshot", path])
    assert result.exit_code == 2, result.output
    expected = [
        f"error: {terminal_text(line)}"
        for line in f"{path}: not a readable regular file".split("\n")
    ]
    assert result.stderr.splitlines() == [
        f"... replaying snapshot {terminal_text(path)}",
        *expected,
    ]
    assert raw_unsafe(result.stderr) == {"\n"}


def test_gate_file_names_are_escaped_and_reported_exactly(tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "customer" / "onboarding" / "schemas"
    folder.mkdir(parents=True)
    name = f"x_{ESC}[31m<b>{RLO}\n.json"
    (folder / name).write_text(
        json.dumps([{"name": "api_key", "type": "STRING"}]), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["gate", str(tmp_path), "-f", "console", "-f", "json",
                                       "--output-dir", str(tmp_path / "r")])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert raw_unsafe(result.stdout) == {"\n"}
    assert "x_\\x1b[31m<b>\\u202e\\x0a.json" in result.stdout
    report = json.loads(_one(tmp_path / "r", ".json").read_text(encoding="ascii"))
    paths = {f["location"]["path"] for f in report["findings"] if f["status"] == "FAIL"}
    assert f"templates/customer/onboarding/schemas/{name}" in paths


@pytest.mark.parametrize("text", TEXTS, ids=KEYS)
def test_text_log_lines_escape_controls(text: str) -> None:
    shown: list[str] = []
    log = TextLog(shown.append)
    log.log(LogSeverity.WARNING, f"could not read {text}")
    log.progress(text)
    assert all(raw_unsafe(line) == set() for line in shown)
    assert shown[0] == f"warning: could not read {terminal_text(text)}"


@pytest.mark.parametrize("text", TEXTS, ids=KEYS)
def test_json_log_lines_are_ascii_json_that_round_trips(text: str) -> None:
    stream = io.StringIO()
    log = JsonLog(run_id="r1", stream=stream, clock=lambda: CREATED)
    log.log(LogSeverity.INFO, text, table=text)
    line = stream.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1 and line.isascii()
    entry = json.loads(line)
    assert entry["message"] == entry["table"] == text


def test_terminal_text_keeps_letters_and_escapes_the_rest() -> None:
    for readable in READABLE:
        assert terminal_text(readable) == readable
    assert terminal_text("a\x1b[31m\x07\x00\r\n\t\u202e\u2066\u200b\ufeff\x9b\ud800") == (
        "a\\x1b[31m\\x07\\x00\\x0d\\x0a\\x09\\u202e\\u2066\\u200b\\ufeff\\x9b\\ud800"
    )
    assert terminal_lines("one\ntwo\x1b") == "one\ntwo\\x1b"
    for text in TEXTS:
        assert raw_unsafe(terminal_text(text)) == set()


def test_console_render_escapes_each_hostile_field() -> None:
    from auditor.model import Finding, Location, Severity, Status

    findings = tuple(
        Finding(
            rule_id="AUD-001",
            rule_name=f"rule-{key}",
            status=Status.FAIL,
            severity=Severity.CRITICAL,
            resource=f"{BQ}/acme/tables/{text}",
            message=f"column {text} is a credential",
            column=text,
            principal=f"user:{text}@example.com",
            location=Location(f"schemas/{text}.json", 3),
        )
        for key, text in zip(KEYS, TEXTS, strict=True)
    )
    report = Report(RunInfo(CREATED, CREATED, "/r", "auditor gate"), (), findings)
    text = console.render(report, width=400)
    assert raw_unsafe(text) == {"\n"}
    for key, hostile in zip(KEYS, TEXTS, strict=True):
        assert f"  column:    {terminal_text(hostile)}\n" in text, key
        assert f"  principal: user:{terminal_text(hostile)}@example.com\n" in text, key


# --------------------------------------------------------------------------- browser


@pytest.fixture
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright missing")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium missing: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"], headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.browser
def test_browser_runs_nothing_and_shows_text_literally(chromium: Any, outputs: Path) -> None:
    path = _one(outputs, ".html")
    page = chromium.new_page()
    dialogs: list[str] = []
    problems: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("html[data-ready=true]", timeout=10_000)
    page.select_option("#page-size", "1000")
    page.fill("#f-text", "onerror")
    rows = page.locator("#findings-body tr.finding").all_inner_texts()
    assert any(BY_KEY["img_onerror"] in row for row in rows), rows
    page.fill("#f-text", "")
    body = page.locator("body").inner_text()
    assert BY_KEY["script_tag"] in body
    assert "customers\\u202etxt.exe" in body
    assert dialogs == [] and problems == []
    assert [u for u in requests if u != path.as_uri() and not u.startswith("data:")] == []
    assert page.evaluate("document.images.length") == 0
    assert page.evaluate("document.scripts.length") == 2
    page.close()
