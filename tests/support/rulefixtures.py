"""Per-rule fixtures: inputs in the formats a rule reads, and the exact findings expected.

    tests/rules/AUD-006/fail-public-dataset/
        exports/        an offline export folder (docs/offline-exports.md), as `scan --exports`
                        reads it: datasets/D.json, tables/D.T.json, project-iam.json, ...
        repo/           a platform repo (table templates, SQL docs), as the gate reads it
        rows/           D.T.json: rows of a table of exports/tables/, one JSON object per row
                        keyed by column name (as `bq query --format=prettyjson` prints them);
                        served over local HTTP as tabledata.list answers to the content scan
        expected.json   {"about": "...", "findings": [{"status": "FAIL", "resource": "...",
                         "column": "...", "principal": "..."}], "gaps": ["scope", ...],
                         "evaluation_time": "2026-06-01T00:00:00Z"}

A folder holds any of repo/, exports/ and rows/. The rule is the shipped one (policies/) of the
folder's parent id, run through `audit` as the gate and the scan run it. `findings` is the exact
set of (status, resource, column, principal) the run must give, PASS and SKIPPED included;
`gaps` (default none) the exact set of coverage-gap scopes, so a fixture whose files do not load
cannot pass by accident; `evaluation_time` (default 2026-06-01T00:00:00Z) decides time-bound IAM
conditions.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from auditor.audit import audit
from auditor.collect import collect_from_exports
from auditor.content.base import TENANT_LABELS, ContentOptions
from auditor.content.columns import text_columns
from auditor.content.scan import scan_contents
from auditor.model import Field, Inventory, Table
from auditor.policy.checks import CheckKind, load_all
from auditor.policy.checks.content import content_options
from auditor.policy.loader import load_policies
from auditor.policy.rule import Rule
from auditor.resources import POLICIES_DIR
from auditor.sources.bigquery import make_client
from auditor.sources.repo import collect_repo

from .recorded import RecordedServer

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
VERDICTS = ("pass", "fail")
DEFAULT_EVALUATION_TIME = datetime(2026, 6, 1, tzinfo=UTC)
_FINDING_KEYS = {"status", "resource", "column", "principal"}
_TOP_KEYS = {"about", "findings", "gaps", "evaluation_time"}
_PARTS = ("repo", "exports", "rows", "expected.json")
_BIGQUERY = "/bigquery/v2"  # the REST API's base path, under the server's URL


class Expected(NamedTuple):
    status: str
    resource: str
    column: str | None = None
    principal: str | None = None


@dataclass(frozen=True)
class Fixture:
    folder: Path
    about: str
    findings: frozenset[Expected]
    gaps: frozenset[str]
    evaluation_time: datetime

    @property
    def rule_id(self) -> str:
        return self.folder.parent.name

    @property
    def verdict(self) -> str:
        """'pass' or 'fail', from the folder's name."""
        return self.folder.name.split("-", 1)[0]

    @property
    def name(self) -> str:
        return f"{self.rule_id}/{self.folder.name}"


@dataclass(frozen=True)
class Outcome:
    findings: frozenset[Expected]
    gaps: frozenset[str]


def fixture_folders(root: Path = RULES_DIR) -> list[Path]:
    """Every fixture folder: tests/rules/<rule id>/<verdict>-<name>/, sorted."""
    return sorted(p for p in root.glob("*/*") if p.is_dir())


def read_fixture(folder: Path) -> Fixture:
    """The fixture in `folder`; ValueError naming the file for anything malformed."""
    where = folder.relative_to(RULES_DIR.parent).as_posix()
    verdict = folder.name.split("-", 1)[0]
    if verdict not in VERDICTS or "-" not in folder.name:
        raise ValueError(f"{where}: a fixture folder is named pass-NAME or fail-NAME")
    unknown = sorted(p.name for p in folder.iterdir() if p.name not in _PARTS)
    if unknown:
        raise ValueError(f"{where}: unknown entries {unknown} (allowed: {', '.join(_PARTS)})")
    path = folder / "expected.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{where}/expected.json: {exc}") from None
    if not isinstance(doc, dict) or set(doc) - _TOP_KEYS or "findings" not in doc:
        raise ValueError(f"{where}/expected.json: an object with findings (and {_TOP_KEYS})")
    if not isinstance(doc.get("about"), str) or not doc["about"]:
        raise ValueError(f"{where}/expected.json: 'about' says what the fixture shows")
    findings = [_expected(item, where) for item in doc["findings"]]
    if len(set(findings)) != len(findings):
        raise ValueError(f"{where}/expected.json: a finding is listed twice")
    when = doc.get("evaluation_time")
    return Fixture(
        folder=folder,
        about=doc["about"],
        findings=frozenset(findings),
        gaps=frozenset(doc.get("gaps", ())),
        evaluation_time=datetime.fromisoformat(when) if when else DEFAULT_EVALUATION_TIME,
    )


def _expected(item: Any, where: str) -> Expected:
    if (
        not isinstance(item, dict)
        or set(item) - _FINDING_KEYS
        or not {"status", "resource"} <= set(item)
    ):
        raise ValueError(
            f"{where}/expected.json: a finding has status, resource and optionally "
            f"column, principal; got {item!r}"
        )
    return Expected(item["status"], item["resource"], item.get("column"), item.get("principal"))


@cache
def shipped_rules() -> tuple[Mapping[str, Rule], Mapping[str, CheckKind]]:
    """The shipped policy pack by rule id, and the registry."""
    registry = load_all()
    loaded = load_policies([POLICIES_DIR], registry)
    assert not loaded.errors, [str(e) for e in loaded.errors]
    return {r.id: r for r in loaded.rules}, registry


def run_fixture(folder: Path, rule: Rule, evaluation_time: datetime) -> Outcome:
    """What the audit of `folder`'s inputs by `rule` gives."""
    registry = shipped_rules()[1]
    inventory = collect(folder, rule)
    result = audit(
        inventory,
        [rule],
        registry,
        lambda: evaluation_time,
        evaluation_time=evaluation_time,
        command="fixture",
    )
    findings = frozenset(
        Expected(f.status.value, f.resource, f.column, f.principal) for f in result.report.findings
    )
    return Outcome(findings, frozenset(g.scope for g in inventory.gaps))


# Where a live fixture's repo/ keeps its templates (the scan's --template-glob).
FIXTURE_TEMPLATE_GLOBS = ("*templates/*.json", "*schemas/*.json")


def collect(folder: Path, rule: Rule) -> Inventory:
    """The inventory the gate (repo/) and the scan (exports/, rows/) read from `folder`."""
    repo, exports, rows = folder / "repo", folder / "exports", folder / "rows"
    if not exports.is_dir():
        with tempfile.TemporaryDirectory() as empty:
            root = repo if repo.is_dir() else Path(empty)
            return collect_repo(root)
    with tempfile.TemporaryDirectory() as empty:
        templates = repo if repo.is_dir() else Path(empty)
        inventory = collect_from_exports(
            exports, templates, FIXTURE_TEMPLATE_GLOBS, lambda _message: None
        )
    if rows.is_dir():
        inventory = with_contents(inventory, rows, rule)
    return inventory


def with_contents(inventory: Inventory, rows: Path, rule: Rule) -> Inventory:
    """The inventory with the content scan of its tenant tables (as the live scan adds it),
    their rows served from `rows/` by a local HTTP server the real BigQuery client talks to."""
    assert inventory.project is not None, "rows need exports naming the project"
    tables = {f"{t.dataset_id}.{t.table_id}": t for t in inventory.live_tables}
    tenant = {
        d.dataset_id
        for d in inventory.datasets
        if all(d.labels.get(k) == v for k, v in TENANT_LABELS.items())
    }
    options = dataclasses.replace(
        content_options([rule], base=ContentOptions(workers=1, attempts=1)), timeout=10.0
    )
    with tempfile.TemporaryDirectory() as recordings:
        for path in sorted(rows.glob("*.json")):
            table = tables.get(path.stem)
            assert table is not None, f"{path}: no table {path.stem} in exports/tables/"
            answer = tabledata_answer(table, json.loads(path.read_text(encoding="utf-8")))
            recording = {
                "request": {"method": "GET", "path": f"{_BIGQUERY}/{_table_path(table)}/data"},
                "response": {"status": 200, "body": answer},
            }
            (Path(recordings) / path.name).write_text(json.dumps(recording), encoding="utf-8")
        with RecordedServer(Path(recordings)) as server:
            client = make_client(inventory.project, server.url)
            scanned = [t for t in inventory.live_tables if t.dataset_id in tenant]
            result = scan_contents(client, scanned, options)
    return dataclasses.replace(
        inventory,
        content_scans=result.scans,
        value_hits=result.hits,
        gaps=inventory.gaps + result.gaps,
    )


def _table_path(table: Table) -> str:
    return f"projects/{table.project}/datasets/{table.dataset_id}/tables/{table.table_id}"


def tabledata_answer(table: Table, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """tabledata.list's REST answer for `rows`, with the cells BigQuery sends when asked for the
    top-level columns that hold text (what the local scan asks for), in schema order."""
    tops = set(text_columns(table.fields).tops)
    selected = [f for f in table.fields if f.name in tops]
    for row in rows:
        unknown = set(row) - {f.name for f in table.fields}
        assert not unknown, f"rows of {table.table_id} name unknown columns {sorted(unknown)}"
    return {
        "kind": "bigquery#tableDataList",
        "totalRows": str(len(rows)),
        "rows": [{"f": [_cell(row.get(f.name), f) for f in selected]} for row in rows],
    }


def _cell(value: Any, f: Field) -> dict[str, Any]:
    if value is None:
        return {"v": None}
    if f.mode == "REPEATED":
        return {"v": [_cell_value(item, f) for item in value]}
    return _cell_value(value, f)


def _cell_value(value: Any, f: Field) -> dict[str, Any]:
    if f.is_record:
        return {"v": {"f": [_cell(value.get(sub.name), sub) for sub in f.fields]}}
    if isinstance(value, dict | list):  # a JSON column's value, sent as text like BigQuery does
        return {"v": json.dumps(value, separators=(",", ":"))}
    if isinstance(value, bool):
        return {"v": "true" if value else "false"}
    return {"v": str(value)}
