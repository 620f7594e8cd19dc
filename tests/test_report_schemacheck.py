"""The compiled report check (auditor/report/schemacheck.py) answers as jsonschema does.

A saved report is checked by the compiled closures (fast) and worded by jsonschema only when
it fails; if the two ever disagreed, a report jsonschema refuses could be rendered. So they
are compared on the real schema, on a valid report and on many mutations of it.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from auditor.errors import InputError
from auditor.model import Finding, Location, Report, RuleInfo, RunInfo, Severity, Status, WaiverRef
from auditor.report import json as json_report
from auditor.report.schemacheck import UnsupportedSchema, compile_schema
from auditor.resources import format_schema

SCHEMA = json.loads(format_schema("report").read_text(encoding="utf-8"))
SLOW = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
FAST = compile_schema(SCHEMA)
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BQ = "//bigquery.googleapis.com/projects/p/datasets"


def _valid() -> dict[str, Any]:
    rule = RuleInfo("AUD-001", "r", "t", Severity.HIGH, "why", "fix", ("https://x.test",),
                    {"soc2": ("CC6.1",)})  # fmt: skip
    findings = (
        Finding("AUD-001", "r", Status.FAIL, Severity.HIGH, f"{BQ}/d/tables/t", "m",
                column="a.b", principal="user:a@x.test", location=Location("t.json", 3),
                evidence={"paths": [[{"kind": "group-member"}]], "n": 1.5}, remediation="x",
                waiver=WaiverRef("why", "me", "2024-06-01"), in_baseline=True),
        Finding("AUD-001", "r", Status.PASS, Severity.HIGH, f"{BQ}/e", "ok"),
    )  # fmt: skip
    run = RunInfo(START, START + timedelta(seconds=3), "/r", "scan", tool_version="1")
    data: dict[str, Any] = json_report.to_dict(Report(run, (rule,), findings))
    return data


VALID = _valid()

# Values of every JSON type, and near-misses of the schema's constraints.
ODD = st.sampled_from(
    [None, True, False, 0, 1, -1, 1.0, 2.5, "", "x", "FAIL", "high", "a" * 24, "0" * 24,
     "2024-05-01", "2024-02-30", "2024-05-01T12:00:00Z", "2024-05-01 12:00:00", [], [1], {},
     {"path": "p"}, {"path": "p", "line": 0}, {"x": 1}, ["a"], "critical", "PASS"]
)  # fmt: skip


def _containers(value: Any, pointer: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [pointer]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_containers(v, (*pointer, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_containers(v, (*pointer, i)))
    return out


POINTERS = _containers(VALID)


def _at(data: Any, pointer: tuple[Any, ...]) -> Any:
    for part in pointer:
        data = data[part]
    return data


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        pointer = draw(st.sampled_from(POINTERS))
        if not pointer:
            continue
        key = pointer[-1]
        try:  # an earlier mutation may have removed or replaced the way there
            parent = _at(data, pointer[:-1])
            current = parent[key]
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[key] = draw(ODD)
        elif action == "delete" and isinstance(parent, dict):
            del parent[key]
        elif action == "add" and isinstance(current, dict):
            current[draw(st.sampled_from(["extra", "line", "path", "status"]))] = draw(ODD)
    return data


def test_a_real_report_conforms_to_both() -> None:
    assert SLOW.is_valid(VALID)
    assert FAST(VALID)


@settings(max_examples=600, deadline=None)
@given(mutated())
def test_the_compiled_check_agrees_with_jsonschema(data: dict[str, Any]) -> None:
    assert FAST(data) == SLOW.is_valid(data), json.dumps(data)[:2000]


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        (("findings", 0, "status"), "BROKEN"),
        (("findings", 0, "fingerprint"), "ABC"),
        (("findings", 0, "location", "line"), 0),
        (("findings", 0, "waiver", "expires"), "2024-02-30"),
        (("findings", 0, "in_baseline"), 1),
        (("run", "complete"), 0),
        (("summary", "findings"), 1.5),
        (("rules", 0, "frameworks", "soc2"), [1]),
    ],
)
def test_each_constraint_is_enforced(pointer: tuple[Any, ...], value: Any) -> None:
    data = copy.deepcopy(VALID)
    _at(data, pointer[:-1])[pointer[-1]] = value
    assert not FAST(data)
    assert not SLOW.is_valid(data)
    with pytest.raises(InputError, match="not an auditor JSON report: at "):
        json_report.load(json.dumps(data), "r.json")


def test_integers_as_jsonschema_counts_them() -> None:
    data = copy.deepcopy(VALID)
    data["summary"]["findings"] = 2.0  # an integer in draft 2020-12
    assert FAST(data) and SLOW.is_valid(data)
    data["summary"]["findings"] = True  # a boolean never is
    assert not FAST(data) and not SLOW.is_valid(data)


def test_one_of_any_of_all_of() -> None:
    one = compile_schema({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]})
    assert one({"a": 1}) and one({"b": 1}) and not one({"a": 1, "b": 2}) and not one({})
    anything = compile_schema({"anyOf": [{"type": "null"}, {"type": "string"}]})
    assert anything(None) and anything("x") and not anything(1)
    both = compile_schema({"allOf": [{"type": "string"}, {"minLength": 2}]})
    assert both("ab") and not both("a") and not both(3)


def test_an_unknown_keyword_is_refused_when_compiling() -> None:
    with pytest.raises(UnsupportedSchema, match="maxLength"):
        compile_schema({"type": "string", "maxLength": 3})
    with pytest.raises(UnsupportedSchema, match="only local"):
        compile_schema({"$ref": "https://example.test/s.json"})
