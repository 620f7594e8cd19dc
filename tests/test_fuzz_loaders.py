"""Fuzzing every loader: any input gives a result or the loader's own error naming the file.

Inputs: arbitrary bytes, arbitrary JSON values, and mutations of the valid examples the
project ships (text-level edits and JSON/YAML tree edits). The oracle is the same for each
loader: it returns, or raises its InputError (PolicyError, ConfigError) whose path is the
file, or reports Problems that name the file and a line inside it. Any other exception, or
an example that runs past its wall-clock budget, fails the test. Explicit tests put every
limit of auditor/limits.py just over the edge and check the refusal names file and limit.

Example counts come from the Hypothesis profile (tests/conftest.py): modest in CI, large
with AUDITOR_FUZZ=1.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor import limits
from auditor.cli import main
from auditor.config import load_config, parse_config
from auditor.errors import InputError, PolicyError
from auditor.io.yamlpos import load_yaml
from auditor.model import Inventory, Problem
from auditor.policy.baseline import fingerprints_from_report
from auditor.policy.checks import load_all
from auditor.policy.loader import load_policies, load_rule
from auditor.policy.waivers import load_waivers
from auditor.remediate.planfile import load_plan, read_plan
from auditor.report.reader import report_from_json
from auditor.sources.exports import load_exports
from auditor.sources.snapshot.read import load_snapshot, read_snapshot
from auditor.sources.snapshot.write import dump_snapshot
from auditor.sources.sniff import Claim
from auditor.sources.sqldocs import load_sql_doc, parse_sql_doc
from auditor.sources.templates import load_template, parse_template

T = TypeVar("T")

PROJECT = Path(__file__).resolve().parent.parent
PLATFORM_REPO = PROJECT / "examples" / "platform-repo"
DEMO_IAM = PROJECT / "examples" / "demo-iam"
EXPORTS_DIR = PROJECT / "tests" / "data" / "exports"
DEMO_SNAPSHOT = PROJECT / "tests" / "data" / "remediate" / "demo-estate.snapshot.json"
FUZZED_TEMPLATE = "templates/customer/onboarding/schemas/x_meta_pipeline_queue.json"

# Wall-clock budget of one example (generous: two shared cores). A hang or a quadratic
# blow-up on a few KB of input ends the example with a failure instead of a stuck run.
BUDGET_SECONDS = 10.0
FUZZ = os.environ.get("AUDITOR_FUZZ") == "1"  # the long opt-in run (see tests/conftest.py)
# The fuzz profile's count; in CI half Hypothesis' default: 14 properties share ~1 minute.
EXAMPLES = settings.default.max_examples if FUZZ else 50
# Examples that load a whole folder or run the whole gate cost ~50-400 ms each: fewer.
SLOW_EXAMPLES = max(12, EXAMPLES // 4)
# Docs of sqlglot-hostile text: 1 MiB (the limit) takes ~10 s, so CI uses an eighth of it.
PATHOLOGICAL_SQL_CHARS = limits.MAX_SQL_DOC_BYTES - 1 if FUZZ else limits.MAX_SQL_DOC_BYTES // 8
MAX_MUTANT_CHARS = 100_000  # bounds what repeated copies of subtrees can grow to
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the wall-clock budget below bounds each example instead
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WAIVERS_EXAMPLE = """\
waivers:
  - rule: AUD-004
    resource: "database/schemas/tenant_dataset.sql#x_meta_step_logs"
    column: "worker_hostname"
    reason: "doc update lands in PLAT-812"
    owner: data-platform@example.com
    expires: 2027-01-31
  - rule: tenant-no-credential-columns
    resource: "templates/*"
    principal: "serviceAccount:*@genai.iam.gserviceaccount.com"
    reason: Migration ticket SEC-12
    owner: security@example.com
    expires: 2026-06-30
"""


# ---------------------------------------------------------------------------- the oracle


class Hang(Exception):
    """An example ran past BUDGET_SECONDS."""


@contextmanager
def time_bound(seconds: float = BUDGET_SECONDS) -> Iterator[None]:
    """Interrupt the block after `seconds` (SIGALRM), and fail it if it took longer anyway
    (a loader that swallowed the interruption)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"took {elapsed:.1f} s, the budget is {seconds} s"


def line_count(text: str | bytes) -> int:
    """Lines in text, counting every break some parser counts (YAML counts U+2028 and U+0085)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return len(text.splitlines()) + 1


def result_or_refusal(call: Callable[[], T], name: str, lines: int) -> T | None:
    """call()'s result, or None when it raised an InputError naming `name` (and a line
    inside the input, where it gives one). Anything else propagates and fails the test."""
    with time_bound():
        try:
            return call()
        except InputError as exc:
            assert exc.path == name, f"error names {exc.path!r}, not the file {name!r}"
            assert str(exc).startswith(name)
            assert exc.detail.strip(), "an error without a message"
            assert exc.line is None or 1 <= exc.line <= lines, f"line {exc.line} of {lines}"
            return None


def assert_problems_name(problems: tuple[Problem, ...], name: str, lines: int) -> None:
    for problem in problems:
        assert problem.path == name, problem
        assert problem.message.strip(), problem
        assert problem.line is None or 1 <= problem.line <= lines, (problem, lines)


# ---------------------------------------------------------------------------- strategies

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["RECORD", "STRUCT", "REPEATED", "STRING", "fields", "", "2026-01-31"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.text(max_size=12)
            | st.sampled_from(["name", "type", "mode", "fields", "schema", "waivers", "id"]),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)
# Fragments that mean something to one of the parsers (JSON, YAML, TOML, SQL, sqlglot).
TOKENS = st.sampled_from(
    [
        "{", "}", "[", "]", '"', "'", ",", ":", ";", "\n", "\r", "\t", "\\", "\\u", "\\ud800",
        "-", "#", "(", ")", "<", ">", "`", "/*", "--", "'''", "NaN", "1e999", "-0", "null",
        "true", "9" * 5000, "&a", "*a", "<<: *a", "!!python/object:os.system", "~", "%YAML",
        "STRUCT<", "ARRAY<", "RECORD", "REPEATED", "{tenant_id}", "CREATE TABLE", "OPTIONS(",
        "[[", "]]", "= ", '"""', "\x00", "\ufeff", "\u2028", "\udcff", "é", "\U0001d518",
    ]
)  # fmt: skip


@st.composite
def text_mutation(draw: st.DrawFn, text: str) -> str:
    """text with one edit: a span deleted, duplicated or replaced, tokens inserted, or cut."""
    n = len(text)
    start = draw(st.integers(0, n))
    end = draw(st.integers(start, min(n, start + 200)))
    kind = draw(st.sampled_from(["delete", "insert", "duplicate", "replace", "truncate"]))
    if kind == "delete":
        return text[:start] + text[end:]
    if kind == "insert":
        junk = "".join(draw(st.lists(TOKENS | st.text(max_size=8), min_size=1, max_size=6)))
        return text[:start] + junk + text[start:]
    if kind == "duplicate":
        return text[:end] + text[start:end] * draw(st.integers(1, 50)) + text[end:]
    if kind == "replace":
        return text[:start] + draw(st.text(max_size=20)) + text[end:]
    return text[:start]


@st.composite
def mutated_text(draw: st.DrawFn, examples: list[str]) -> str:
    text = draw(st.sampled_from(examples))
    for _ in range(draw(st.integers(1, 4))):
        text = draw(text_mutation(text))
    return text


def tree_paths(value: Any) -> list[tuple[Any, ...]]:
    """Every path into a JSON-like value (the root is ())."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        found.append(path)
        children = (
            item.items()
            if isinstance(item, dict)
            else enumerate(item)
            if isinstance(item, list)
            else ()
        )
        stack.extend(((*path, key), child) for key, child in children)
    return found


def tree_get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def tree_mutation(draw: st.DrawFn, doc: Any) -> Any:
    """doc with one node replaced, removed, wrapped (deeply) or swapped for a copy of another."""
    paths = tree_paths(doc)
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["replace", "delete", "wrap", "copy", "retype", "repeat"]))
    old = tree_get(doc, path)
    new: Any
    if kind == "replace":
        new = draw(JSON_VALUES)
    elif kind == "wrap":
        new = old
        for _ in range(draw(st.integers(1, 30))):
            new = draw(st.sampled_from([[new], {"fields": [new]}, {"schema": new}]))
    elif kind == "copy":
        new = copy.deepcopy(tree_get(doc, draw(st.sampled_from(paths))))
    elif kind == "retype":
        new = draw(st.sampled_from([str(old), [old], {"value": old}, None, 0, len(paths)]))
    elif kind == "repeat":
        new = [copy.deepcopy(old) for _ in range(draw(st.integers(2, 40)))]
    else:  # delete
        if not path:
            return None
        parent = tree_get(doc, path[:-1])
        del parent[path[-1]]
        return doc
    if not path:
        return new
    tree_get(doc, path[:-1])[path[-1]] = new
    return doc


@st.composite
def mutated_tree(draw: st.DrawFn, examples: list[Any], dump: Callable[[Any], str]) -> str:
    doc = copy.deepcopy(draw(st.sampled_from(examples)))
    for _ in range(draw(st.integers(1, 3))):
        changed = draw(tree_mutation(copy.deepcopy(doc)))
        # Copies of copies grow exponentially; huge inputs have their own tests below.
        if len(json.dumps(changed)) <= MAX_MUTANT_CHARS:
            doc = changed
    return dump(doc)


def json_dump(value: Any) -> str:
    return json.dumps(value, indent=1)


def yaml_dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)


def any_input(examples: list[str], trees: list[Any], dump: Callable[[Any], str]) -> Any:
    """Bytes, JSON values, text mutations and tree mutations, as bytes to write to a file."""
    return st.one_of(
        st.binary(max_size=2048),
        JSON_VALUES.map(json.dumps).map(str.encode),
        mutated_text(examples).map(lambda t: t.encode("utf-8", "surrogatepass")),
        mutated_tree(trees, dump).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


def as_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------------------- the examples


def read_all(paths: list[Path]) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in paths]


TEMPLATE_FILES = sorted((PROJECT / "schemas").glob("*/*.json")) + sorted(
    PLATFORM_REPO.glob("templates/**/*.json")
)
TEMPLATE_FILES = [p for p in TEMPLATE_FILES if not p.name.endswith(".schema.json")]
TEMPLATES = read_all(TEMPLATE_FILES)
TEMPLATE_TREES = [json.loads(t) for t in TEMPLATES]
SQL_DOCS = read_all(sorted((PROJECT / "schemas" / "sql").glob("*.sql")))
SQL_DOCS += read_all(sorted(PLATFORM_REPO.glob("database/schemas/*.sql")))
POLICY_FILES = sorted((PROJECT / "policies").glob("*.yaml"))
POLICIES = read_all(POLICY_FILES)
POLICY_TREES = [load_yaml(text, "p.yaml").value for text in POLICIES]
WAIVER_TREES = [load_yaml(WAIVERS_EXAMPLE, "w.yaml").value]
CONFIG_EXAMPLE = (PROJECT / "auditor.toml.example").read_text(encoding="utf-8")
EXPORT_FILES = sorted(p.relative_to(EXPORTS_DIR).as_posix() for p in EXPORTS_DIR.rglob("*.json"))
EXPORTS = read_all([EXPORTS_DIR / rel for rel in EXPORT_FILES])
EXPORT_TREES = [json.loads(t) for t in EXPORTS]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def gate_report(work: Path) -> str:
    """The JSON report of `auditor gate` on the example platform repo."""
    out = work / "gate-report.json"
    result = CliRunner().invoke(main, ["gate", str(PLATFORM_REPO), "-f", "json", "-o", str(out)])
    assert result.exit_code == 1, result.output
    return Example(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def plan_text(work: Path) -> str:
    """A remediation plan written by `auditor remediate plan` from the demo snapshot."""
    out = work / "plan.json"
    args = ["remediate", "plan", "--snapshot", str(DEMO_SNAPSHOT), "-o", str(out)]
    result = CliRunner().invoke(main, [*args, "--allow-partial"])
    assert result.exit_code == 0, result.output
    return Example(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def snapshot_text() -> str:
    """A small snapshot written by the product: the demo IAM exports and the templates."""
    exports = load_exports(EXPORTS_DIR)
    templates = tuple(
        load.table
        for path in TEMPLATE_FILES[:4]
        if (load := load_template(path, PROJECT)).table is not None
    )
    inventory = exports.into(Inventory(root="fuzz", templates=templates))
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Example(dump_snapshot(inventory, created_at=created, tool_version="0.1.0"))


class Example(str):
    """A fixture's example text, shown by its size in Hypothesis' failure reports."""

    def __repr__(self) -> str:
        return f"<example text of {len(self)} characters>"


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------- templates

TEMPLATE_INPUTS = any_input(TEMPLATES, TEMPLATE_TREES, json_dump)


@FUZZ_SETTINGS
@given(data=TEMPLATE_INPUTS)
def test_template_files(work: Path, data: bytes) -> None:
    path = write(work, "tenant/fuzzed.json", data)
    with time_bound():
        load = load_template(path, work)
    assert load.path == "tenant/fuzzed.json"
    assert_problems_name(load.problems, load.path, line_count(data))
    if load.table is None:  # nothing usable: then the file says why, as an unread problem
        assert any(p.unread for p in load.problems), load.problems


@FUZZ_SETTINGS
@given(text=st.one_of(JSON_VALUES.map(json.dumps), mutated_tree(TEMPLATE_TREES, json_dump)))
def test_template_texts_keep_every_valid_field(text: str) -> None:
    """parse_template never raises, and a well-formed field list gives a table."""
    with time_bound():
        load = parse_template(text, "t.json")
    assert_problems_name(load.problems, "t.json", line_count(text))
    value = json.loads(text)
    fields_list = isinstance(value, list) or (
        isinstance(value, dict) and isinstance(value.get("fields"), list)
    )
    if fields_list:  # form 1 or 2: the table is built, however bad its fields
        assert load.table is not None


# ---------------------------------------------------------------------------- SQL docs

SQL_INPUTS = st.one_of(
    st.binary(max_size=2048),
    mutated_text(SQL_DOCS).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@FUZZ_SETTINGS
@given(data=SQL_INPUTS)
def test_sql_doc_files(work: Path, data: bytes) -> None:
    path = write(work, "docs/fuzzed.sql", data)
    with time_bound():
        load = load_sql_doc(path, work)
    assert load.path == "docs/fuzzed.sql"
    assert_problems_name(load.problems, load.path, line_count(data))
    for table in load.tables:
        assert table.location is not None and table.location.path == load.path


# ---------------------------------------------------------------------------- policies

POLICY_INPUTS = any_input(POLICIES, POLICY_TREES, yaml_dump)
REGISTRY = load_all()


@FUZZ_SETTINGS
@given(data=POLICY_INPUTS)
def test_policy_rule_files(work: Path, data: bytes) -> None:
    path = write(work, "rules/AUD-999.yaml", data)
    rule = result_or_refusal(lambda: load_rule(path, REGISTRY), str(path), line_count(data))
    if rule is not None:
        assert rule.check in REGISTRY


@settings(FUZZ_SETTINGS, max_examples=SLOW_EXAMPLES)
@given(data=POLICY_INPUTS)
def test_one_bad_rule_file_does_not_hide_the_others(work: Path, data: bytes) -> None:
    pack = work / "pack"
    if not pack.exists():
        shutil.copytree(PROJECT / "policies", pack)
    bad = write(pack, "AUD-999-fuzzed.yaml", data)
    with time_bound():
        loaded = load_policies([pack], REGISTRY)
    shipped = {path.name.split("-")[0] + "-" + path.name.split("-")[1] for path in POLICY_FILES}
    ids = {rule.id for rule in loaded.rules}
    # A fuzzed rule may reuse a shipped id or name: then the file loaded second (sorted by
    # name, so the fuzzed one: AUD-999 sorts last) gets the error, never the shipped one.
    assert shipped <= ids, shipped - ids
    for error in loaded.errors:
        assert error.path == str(bad), error


# ---------------------------------------------------------------------------- waivers

WAIVER_INPUTS = any_input([WAIVERS_EXAMPLE], WAIVER_TREES, yaml_dump)


@FUZZ_SETTINGS
@given(data=WAIVER_INPUTS)
def test_waiver_files(work: Path, data: bytes) -> None:
    path = write(work, "waivers.yaml", data)
    waivers = result_or_refusal(lambda: load_waivers(path), str(path), line_count(data))
    for waiver in waivers or ():
        assert waiver.source is not None and waiver.source.path == str(path)


# ---------------------------------------------------------------------------- saved reports


@st.composite
def report_inputs(draw: st.DrawFn, report: str) -> bytes:
    tree = json.loads(report)
    text = draw(
        st.one_of(
            st.binary(max_size=1024).map(as_text),
            JSON_VALUES.map(json.dumps),
            mutated_text([report]),
            mutated_tree([tree], json_dump),
        )
    )
    return text.encode("utf-8", "surrogatepass")


@FUZZ_SETTINGS
@given(data=st.data())
def test_baselines(work: Path, gate_report: str, data: st.DataObject) -> None:
    raw = data.draw(report_inputs(gate_report))
    path = write(work, "baseline.json", raw)
    found = result_or_refusal(lambda: fingerprints_from_report(path), str(path), line_count(raw))
    assert found is None or all(isinstance(f, str) and f for f in found)


@FUZZ_SETTINGS
@given(data=st.data())
def test_report_reader(gate_report: str, data: st.DataObject) -> None:
    raw = data.draw(report_inputs(gate_report))
    text = raw.decode("utf-8", "replace")
    result_or_refusal(lambda: report_from_json(text, "saved.json"), "saved.json", line_count(text))


def test_the_report_reader_reads_the_unmutated_report(gate_report: str) -> None:
    report = report_from_json(gate_report, "saved.json")
    assert {f.rule_id for f in report.findings if f.status.value == "FAIL"} == {
        "AUD-001", "AUD-002", "AUD-004", "AUD-005",
    }  # fmt: skip


# ---------------------------------------------------------------------------- snapshots


@FUZZ_SETTINGS
@given(data=st.data())
def test_snapshots(work: Path, snapshot_text: str, data: st.DataObject) -> None:
    tree = json.loads(snapshot_text)
    raw = data.draw(
        st.one_of(
            st.binary(max_size=1024),
            JSON_VALUES.map(json.dumps).map(str.encode),
            mutated_text([snapshot_text]).map(lambda t: t.encode("utf-8", "surrogatepass")),
            mutated_tree([tree], json_dump).map(lambda t: t.encode("utf-8", "surrogatepass")),
        )
    )
    path = write(work, "estate.json", raw)
    inventory = result_or_refusal(lambda: read_snapshot(path), str(path), line_count(raw))
    assert inventory is None or isinstance(inventory, Inventory)


def test_the_snapshot_example_loads(snapshot_text: str) -> None:
    inventory = load_snapshot(snapshot_text, "estate.json")
    assert [t.name for t in inventory.templates] == [
        "customer_api_keys", "customer_cloud_credentials", "customer_profiles",
        "customer_subscriptions",
    ]  # fmt: skip
    assert {d.dataset_id for d in inventory.datasets} == {"acme", "customers"}


# ---------------------------------------------------------------------------- offline exports


@pytest.fixture(scope="module")
def export_folder(work: Path) -> Path:
    folder = work / "exports"
    shutil.copytree(EXPORTS_DIR, folder)
    return folder


@settings(FUZZ_SETTINGS, max_examples=SLOW_EXAMPLES)
@given(data=st.data())
def test_export_folders(export_folder: Path, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(EXPORT_FILES) - 1), label="file")
    rel = EXPORT_FILES[index]
    raw = data.draw(any_input([EXPORTS[index]], [EXPORT_TREES[index]], json_dump), label="contents")
    target = export_folder / rel
    target.write_bytes(raw)
    try:
        with time_bound():
            load = load_exports(export_folder)
    finally:
        target.write_text(EXPORTS[index], encoding="utf-8")
    # A bad file can make others unusable too (a broken ancestry.json leaves the folder
    # policies unplaced), but every problem names an export file and a line inside it.
    lines = {name: line_count(text) for name, text in zip(EXPORT_FILES, EXPORTS, strict=True)}
    lines[rel] = line_count(raw)
    for problem in load.problems:
        assert problem.path in lines, problem
        assert problem.line is None or 1 <= problem.line <= lines[problem.path], problem
    for problem in load.problems:
        if problem.path == rel and problem.unread:  # unreadable: a coverage gap names it
            assert any(
                f"export {rel}:" in g.reason or f"export {rel}" in g.reason for g in load.gaps
            )
    # A bad dataset, table or group file costs only its own dataset, table or group.
    intact = load_exports(EXPORTS_DIR)
    if rel.startswith("datasets/"):
        kept = {d.dataset_id for d in intact.datasets} - {rel[len("datasets/") : -len(".json")]}
        assert kept <= {d.dataset_id for d in load.datasets}
    if rel.startswith("groups/"):
        group = rel[len("groups/") : -len(".json")]
        kept_members = {m for m in intact.group_memberships if m.group != group}
        assert kept_members <= set(load.group_memberships)


# ---------------------------------------------------------------------------- config


@FUZZ_SETTINGS
@given(
    text=st.one_of(
        st.text(max_size=500),
        mutated_text([CONFIG_EXAMPLE]),
        st.lists(TOKENS | st.sampled_from(["[project]", "id", "a.b", "x = 1"])).map("".join),
    )
)
def test_config_texts(work: Path, text: str) -> None:
    result_or_refusal(
        lambda: parse_config(text, "auditor.toml", work), "auditor.toml", line_count(text)
    )


@FUZZ_SETTINGS
@given(data=st.binary(max_size=1024))
def test_config_files(work: Path, data: bytes) -> None:
    path = write(work, "auditor.toml", data)
    result_or_refusal(lambda: load_config(path), str(path), line_count(data))


# ---------------------------------------------------------------------------- remediation plans


@FUZZ_SETTINGS
@given(data=st.data())
def test_plan_files(work: Path, plan_text: str, data: st.DataObject) -> None:
    raw = data.draw(any_input([plan_text], [json.loads(plan_text)], json_dump))
    path = write(work, "plan.json", raw)
    plan = result_or_refusal(lambda: read_plan(path), str(path), line_count(raw))
    assert plan is None or len({a.id for a in plan.actions}) == len(plan.actions)


def test_the_plan_example_loads(plan_text: str) -> None:
    plan = load_plan(plan_text, "plan.json")
    assert [a.id for a in plan.actions] == ["A01", "A02", "A03", "A04"]


# ---------------------------------------------------------------------------- the gate CLI


@pytest.fixture(scope="module")
def gate_repo(work: Path, gate_report: str) -> Path:
    repo = work / "platform-repo"
    shutil.copytree(PLATFORM_REPO, repo)
    return repo


def failures(report: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    return {
        (f["rule_id"], f["resource"], f.get("column"))
        for f in report["findings"]
        if f["status"] == "FAIL"
    }


@settings(FUZZ_SETTINGS, max_examples=SLOW_EXAMPLES)
@given(data=TEMPLATE_INPUTS)
def test_gate_with_one_fuzzed_template(
    work: Path, gate_repo: Path, gate_report: str, data: bytes
) -> None:
    """The valid files' findings survive, the bad file is named, and the exit code is 3
    when the file could not be (fully) read, else 1 (the example repo has critical findings)."""
    valid = {f for f in failures(json.loads(gate_report)) if "x_meta_pipeline_queue" not in f[1]}
    target = gate_repo / FUZZED_TEMPLATE
    target.write_bytes(data)
    out = work / "fuzzed-gate.json"
    try:
        # What the gate reads, file by file: a file in the tenant folder (Claim.SCOPED), so
        # JSON that is not a field list is skipped with a reason, not a template.
        direct = load_template(target, gate_repo, claim=Claim.SCOPED)
        with time_bound():
            args = ["gate", str(gate_repo), "-f", "json", "-o", str(out)]
            result = CliRunner().invoke(main, args)
    finally:
        shutil.copyfile(PLATFORM_REPO / FUZZED_TEMPLATE, target)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert valid <= failures(report), valid - failures(report)
    gaps = [gap["scope"] for gap in report["run"]["coverage"]]
    if any(problem.unread for problem in direct.problems):
        # One gap per part that could not be read (the whole file, or each skipped field).
        assert (result.exit_code, set(gaps), report["run"]["complete"]) == (
            3, {FUZZED_TEMPLATE}, False
        )  # fmt: skip
    else:
        assert (result.exit_code, gaps, report["run"]["complete"]) == (1, [], True)
    schema_failures = {
        f["resource"]
        for f in report["findings"]
        if f["rule_id"] == "AUD-003" and f["status"] == "FAIL"
    }
    assert (FUZZED_TEMPLATE in schema_failures) == bool(direct.problems)


# ---------------------------------------------------------------------------- limits, just over


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space: a loader must refuse it unread."""
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


@contextmanager
def small_footprint(max_bytes: int = 8 * limits.MIB) -> Iterator[None]:
    """Fail the block if it allocated more than max_bytes at once (Python allocations)."""
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < max_bytes, f"peak {peak:,} bytes"


def nested_record(depth: int) -> list[dict[str, Any]]:
    field: dict[str, Any] = {"name": f"level{depth}", "type": "STRING"}
    for level in range(depth - 1, 0, -1):
        field = {"name": f"level{level}", "type": "RECORD", "fields": [field]}
    return [field]


def test_an_oversized_template_is_refused_unread(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "big.json", limits.MAX_JSON_BYTES + 1)
    with time_bound(2), small_footprint():
        load = load_template(path, tmp_path)
    assert (load.table, load.problems) == (
        None,
        (Problem("big.json", "file is larger than 10 MiB; not read", unread=True),),
    )


@pytest.mark.parametrize("opener", ["[", '{"fields":'])
def test_template_nesting_deeper_than_the_json_limit(opener: str) -> None:
    for depth in (limits.MAX_JSON_DEPTH + 1, 100_000):
        text = "\n" + opener * depth
        with time_bound(5):
            load = parse_template(text, "deep.json")
        message = f"nesting deeper than {limits.MAX_JSON_DEPTH} levels"
        assert load.problems == (Problem("deep.json", message, 2, unread=True),)


def test_records_nested_past_bigquerys_fifteen_levels() -> None:
    deepest = ".".join(f"level{n}" for n in range(1, 17))
    load = parse_template(json.dumps(nested_record(16), indent=1), "deep.json")
    assert [(p.message, p.column) for p in load.problems] == [
        ("column is nested 16 levels deep; BigQuery allows at most 15", deepest)
    ]
    assert parse_template(json.dumps(nested_record(15)), "ok.json").problems == ()


def test_more_columns_than_bigquery_allows() -> None:
    columns = [{"name": f"c{i}", "type": "INT64"} for i in range(limits.MAX_COLUMNS + 1)]
    with time_bound(60):
        load = parse_template(json.dumps(columns), "wide.json")
    message = (
        "table has 10,001 leaf columns (nested fields counted, RECORD columns themselves not, "
        "as BigQuery counts them); BigQuery allows at most 10,000"
    )
    assert load.problems == (Problem("wide.json", message, 1),)
    assert load.table is not None and len(load.table.fields) == limits.MAX_COLUMNS + 1


def test_an_oversized_sql_doc_is_refused_unread(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "big.sql", limits.MAX_SQL_DOC_BYTES + 1)
    with time_bound(2), small_footprint():
        load = load_sql_doc(path, tmp_path)
    assert load.problems == (
        Problem("big.sql", "SQL doc is larger than 1 MiB; not read", unread=True),
    )


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        # Every statement past the limit is left unread, and says from which line on.
        (
            "-- doc\n" + "CREATE TABLE d.t (a INT64);\n" * (limits.MAX_SQL_STATEMENTS + 5),
            "SQL doc has more than 1,000 statements; statements from line 1002 on were not read",
            1002,
        ),
        (
            "\nCREATE TABLE d.t (" + ", ".join(f"c{i} INT64" for i in range(20_000)) + ");",
            "SQL doc has more than 50,000 SQL tokens; statements from line 2 on were not read",
            2,
        ),
        (  # each '(' is a token: refused before sqlglot recurses a million levels
            "SELECT " + "(" * (limits.MAX_SQL_DOC_BYTES - 10),
            "SQL doc has more than 50,000 SQL tokens; statements from line 1 on were not read",
            1,
        ),
    ],
)
def test_sql_docs_past_the_parser_budget(text: str, message: str, line: int) -> None:
    with time_bound(30):
        load = parse_sql_doc(text, "docs.sql")
    assert [p for p in load.problems if "defined more than once" not in p.message] == [
        Problem("docs.sql", message, line, unread=True)
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (";" * PATHOLOGICAL_SQL_CHARS, None),  # empty statements
        (  # ''' strings, one token each: over the budget at full size, else sqlglot's error
            "'" * PATHOLOGICAL_SQL_CHARS,
            "SQL doc has more than 50,000 SQL tokens"
            if FUZZ
            else "cannot parse SQL statement: Adjacent string literals need to be separated by "
            "whitespace or comments (line 1)",
        ),
        ("--\n" * (PATHOLOGICAL_SQL_CHARS // 3), None),
    ],
)
def test_pathological_sql_docs_end_in_bounded_time(text: str, message: str | None) -> None:
    with time_bound(30):
        load = parse_sql_doc(text, "docs.sql")
    assert load.tables == ()
    assert [p.message.split(";")[0] for p in load.problems] == ([message] if message else [])


def test_struct_nesting_past_fifteen_levels_in_a_sql_doc() -> None:
    text = "CREATE TABLE d.t (a " + "STRUCT<b " * 16 + "INT64" + ">" * 16 + ");"
    load = parse_sql_doc(text, "docs.sql")
    assert [p.message for p in load.problems] == ["STRUCT nested deeper than 15 levels"]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("a: " + "[" * 101 + "]" * 101, "nesting deeper than 100 levels", 1),
        ("a: &a [1]\n" + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
         for p, c in zip("abcdefg", "bcdefgh", strict=True)),
         "document too large: more than 100000 nodes once aliases are expanded", 1),
        ("id: " + "9" * 5000, "invalid value: Exceeds the limit (4300 digits) for integer "
         "string conversion: value has 5000 digits; use sys.set_int_max_str_digits() to "
         "increase the limit", 1),
    ],
)  # fmt: skip
def test_yaml_past_its_limits(tmp_path: Path, text: str, message: str, line: int) -> None:
    path = write(tmp_path, "AUD-999.yaml", text.encode())
    with pytest.raises(PolicyError) as raised, time_bound(10):
        load_rule(path, REGISTRY)
    assert (raised.value.path, raised.value.detail, raised.value.line) == (str(path), message, line)


def test_an_oversized_yaml_file_is_refused_unread(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "AUD-999.yaml", limits.MAX_YAML_BYTES + 1)
    with pytest.raises(InputError) as raised, small_footprint():
        load_waivers(path)
    assert raised.value.detail == "file is 1048577 bytes; the limit is 1048576 bytes (1 MiB)"


def test_more_rule_files_than_a_pack_holds(tmp_path: Path) -> None:
    for i in range(limits.MAX_RULES + 1):
        (tmp_path / f"rule-{i:04}.yaml").touch()
    loaded = load_policies([tmp_path], REGISTRY)
    assert loaded.rules == ()
    assert [str(e) for e in loaded.errors] == [
        f"{tmp_path}: 1001 rule files; a policy pack holds at most 1000"
    ]


def test_more_waivers_than_a_file_holds(tmp_path: Path) -> None:
    path = write(tmp_path, "waivers.yaml", b"waivers:\n" + b"  - {}\n" * (limits.MAX_WAIVERS + 1))
    with pytest.raises(InputError) as raised:
        load_waivers(path)
    assert str(raised.value) == f"{path}:1: 5001 waivers; a waivers file holds at most 5000"


def test_an_oversized_config_is_refused_unread(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "auditor.toml", limits.MAX_CONFIG_BYTES + 1)
    with pytest.raises(InputError) as raised, small_footprint():
        load_config(path)
    assert str(raised.value) == f"{path}: larger than 1048576 bytes"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"findings": ' + "[" * 65 + "]" * 65 + "}", "nesting deeper than 64 levels"),
        ("[" * 100_000, "nesting deeper than 64 levels"),  # past the C parser's recursion limit
        ('{"findings": [' + "1" * 5000 + "]}", "invalid JSON: Exceeds the limit (4300 digits) "
         "for integer string conversion: value has 5000 digits; use sys.set_int_max_str_digits() "
         "to increase the limit"),
        ('{"findings": [NaN]}', "invalid JSON: NaN is not valid JSON"),
        ('{"findings": [{"status": ["FAIL"], "fingerprint": "x"}]}',
         "findings[0]: unknown status ['FAIL']"),
    ],
)  # fmt: skip
def test_baselines_past_their_limits(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "base.json", text.encode())
    with pytest.raises(InputError) as raised, time_bound(5):
        fingerprints_from_report(path)
    assert (raised.value.path, raised.value.detail) == (str(path), message)


def test_an_oversized_baseline_is_refused_unread(tmp_path: Path) -> None:
    path = sparse_file(tmp_path / "base.json", limits.MAX_REPORT_BYTES + 1)
    with pytest.raises(InputError) as raised, small_footprint():
        fingerprints_from_report(path)
    assert raised.value.detail == "file is larger than 512 MiB; not read"


def test_a_saved_report_nested_too_deep_is_refused() -> None:
    with pytest.raises(InputError) as raised:
        report_from_json("[" * 100_000, "saved.json")
    assert str(raised.value) == "saved.json: nesting deeper than 64 levels"


def test_oversized_snapshots_and_plans_are_refused_unread(tmp_path: Path) -> None:
    snapshot = sparse_file(tmp_path / "estate.json", limits.MAX_SNAPSHOT_BYTES + 1)
    plan = sparse_file(tmp_path / "plan.json", limits.MAX_PLAN_BYTES + 1)
    with small_footprint(), time_bound(2):
        for path, read, size in ((snapshot, read_snapshot, "512 MiB"), (plan, read_plan, "64 MiB")):
            with pytest.raises(InputError) as raised:
                read(path)
            assert str(raised.value) == f"{path}: file is larger than {size}; not read"


def test_a_snapshot_nested_too_deep_is_refused() -> None:
    text = (
        '{"inventory": ' + "[" * limits.MAX_SNAPSHOT_DEPTH + "]" * limits.MAX_SNAPSHOT_DEPTH + "}"
    )
    with pytest.raises(InputError) as raised:
        load_snapshot(text, "estate.json")
    assert str(raised.value) == "estate.json:1: nesting deeper than 256 levels"


def test_an_oversized_export_file_is_a_gap_and_the_rest_loads(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    shutil.copytree(EXPORTS_DIR, folder)
    sparse_file(folder / "groups" / "analysts@example.com.json", limits.MAX_EXPORT_BYTES + 1)
    with small_footprint(), time_bound(10):
        load = load_exports(folder)
    rel = "groups/analysts@example.com.json"
    assert [p for p in load.problems if p.path == rel] == [
        Problem(rel, "export file is larger than 64 MiB; not read", unread=True)
    ]
    assert any(g.reason.startswith(f"export {rel}: export file is larger") for g in load.gaps)
    assert {m.group for m in load.group_memberships} >= {"auditors@example.com"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = " + "[" * 100_000, "auditor.toml: not valid TOML: nesting is too deep"),
        ("x = " + "9" * 5000, "auditor.toml: not valid TOML: Exceeds the limit (4300 digits) "
         "for integer string conversion: value has 5000 digits; use sys.set_int_max_str_digits() "
         "to increase the limit"),
    ],
)  # fmt: skip
def test_toml_that_tomllib_cannot_hold_is_a_config_error(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(InputError) as raised:
        parse_config(text, "auditor.toml", tmp_path)
    assert str(raised.value) == message
