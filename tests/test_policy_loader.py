"""Policy loading: positioned YAML, the rule schema, check kinds and params, whole packs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from auditor.errors import InputError, PolicyError
from auditor.io.yamlpos import MAX_BYTES, MAX_NODES, load_yaml, read_yaml
from auditor.model import CheckResult, Inventory, Location, Severity
from auditor.policy.checks import REGISTRY, CheckKind, register
from auditor.policy.loader import PolicyLoad, load_policies, load_rule
from auditor.policy.rule import DocExample, ExampleInput, Rule, Scope, Target
from auditor.resources import POLICIES_DIR, format_schema

KIND_A = "zz-loader-test-columns"
KIND_B = "zz-loader-test-tables"


def _never_called(inventory: Inventory, rule: Rule) -> Iterable[CheckResult]:
    raise AssertionError("the loader must not run checks")


@pytest.fixture
def registry() -> Iterator[dict[str, CheckKind]]:
    """Two throwaway kinds registered in the real REGISTRY, removed afterwards."""
    register(
        KIND_A,
        description="test kind with strict params",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "pattern": {"type": "string", "format": "regex"},
                "limit": {"type": "integer", "minimum": 1},
            },
        },
    )(_never_called)
    register(KIND_B, description="test kind, any params", params_schema={"type": "object"})(
        _never_called
    )
    try:
        yield {KIND_A: REGISTRY[KIND_A], KIND_B: REGISTRY[KIND_B]}
    finally:
        REGISTRY.pop(KIND_A, None)
        REGISTRY.pop(KIND_B, None)


RULE = f"""\
id: AUD-101
name: tenant-no-secrets
title: Tenant tables hold no secrets
severity: high
description: Looks at columns.
rationale: GenAI reads tenant data.
remediation: Move the column to customers.
references:
  - https://example.com/a
  - CIS GCP 7.1
frameworks:
  soc2: [CC6.1, CC6.7]
  iso27001_2022: [A.8.3]
  cis_gcp: ["7.1"]
scope:
  target: tenant
  template_paths: ["tenant/*.json"]
  datasets: ["{{tenant_id}}"]
check:
  kind: {KIND_A}
  params:
    pattern: "^x_"
    limit: 3
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def rule_text(**changes: str) -> str:
    """RULE with whole top-level lines replaced: rule_text(id="id: AUD-102")."""
    lines = RULE.splitlines()
    for key, line in changes.items():
        index = next(i for i, old in enumerate(lines) if old.startswith(f"{key}:"))
        lines[index] = line
    return "\n".join(lines) + "\n"


def problems(load: PolicyLoad) -> list[str]:
    return [str(e) for e in load.errors]


# --- yamlpos ---------------------------------------------------------------------------


def test_lines_of_keys_items_and_values() -> None:
    doc = load_yaml(
        "# comment\n"
        "a: 1\n"
        "b:\n"
        "  c:\n"
        "    - x\n"
        "    - {d: 2,\n"
        "       e: 3}\n"
        "when: 2026-01-01\n"
        "flag: yes\n",
        "f.yaml",
    )
    assert doc.value == {"a": 1, "b": {"c": ["x", {"d": 2, "e": 3}]}, "when": "2026-01-01",
                         "flag": True}
    assert doc.lines == {
        (): 2,
        ("a",): 2,
        ("b",): 3,
        ("b", "c"): 4,
        ("b", "c", 0): 5,
        ("b", "c", 1): 6,
        ("b", "c", 1, "d"): 6,
        ("b", "c", 1, "e"): 7,
        ("when",): 8,
        ("flag",): 9,
    }
    assert doc.line_of(("b", "c", 1, "e")) == 7
    assert doc.line_of(("b", "c", 1, "missing", 0)) == 6  # nearest ancestor
    assert doc.line_of(("nowhere",)) == 2  # the document's start
    assert doc.at(("b", "c", 1)) == {"d": 2, "e": 3}


# PyYAML itself does not round-trip control characters and Unicode line separators.
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


def pointers(value: object, at: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from pointers(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from pointers(item, (*at, i))


@given(JSON_VALUES)
def test_round_trips_json_like_values_with_a_line_for_every_pointer(value: object) -> None:
    text = yaml.safe_dump(value, allow_unicode=True)
    doc = load_yaml(text, "f.yaml")
    assert doc.value == value
    line_count = max(1, text.count("\n"))
    for pointer in pointers(value):
        assert 1 <= doc.lines[pointer] <= line_count


def test_empty_document_is_none_on_line_1() -> None:
    doc = load_yaml("# nothing here\n", "f.yaml")
    assert doc.value is None
    assert doc.line_of(("a",)) == 1


def test_aliases_expand_into_plain_values() -> None:
    doc = load_yaml("base: &b [x, y]\ncopy: *b\n", "f.yaml")
    assert doc.value == {"base": ["x", "y"], "copy": ["x", "y"]}
    assert doc.line_of(("copy",)) == 2


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a' (first at line 1)"),
        ("a:\n  'k': 1\n  k: 2\n", 3, "duplicate key 'k' (first at line 2)"),
        ("a: b: c\n", 1, "invalid YAML: mapping values are not allowed here"),
        ("a: [1, 2\nb: 3\n", 2,
         "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence)"),
        ("- a\n---\n- b\n", 2,
         "invalid YAML: but found another document (expected a single document in the stream)"),
        ("a: *nope\n", 1, "invalid YAML: found undefined alias 'nope'"),
        ("a: !!python/object/apply:os.system [ls]\n", 1,
         "unsupported tag '!!python/object/apply:os.system'"),
        ("a: !custom x\n", 1, "unsupported tag '!custom'"),
        ("a: !!binary aGk=\n", 1, "unsupported tag '!!binary'"),
        ("a: !!set {x: null}\n", 1, "unsupported tag '!!set'"),
        ("on: 1\n", 1, "mapping key 'on' is read as boolean true; quote it to make it a string"),
        ("x: 1\n12: a\n", 2, "mapping key '12' is read as number 12; quote it to make it a string"),
        ("? [a]\n: b\n", 1, "mapping keys must be strings, not lists or mappings"),
        ("base: &b {x: 1}\nc:\n  <<: *b\n", 3, "merge keys ('<<') are not supported"),
        ("a: &a [b, *a]\n", 1, "recursive alias: a node contains itself"),
        ("a: b\x00\n", 1,
         "invalid YAML: unacceptable character #x0000: special characters are not allowed"),
    ],
)
def test_rejected_yaml(text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_yaml(text, "dir/f.yaml")
    assert (caught.value.path, caught.value.line, caught.value.detail) == ("dir/f.yaml", line,
                                                                          message)
    assert str(caught.value) == f"dir/f.yaml:{line}: {message}"


def test_alias_bomb_is_bounded() -> None:
    text = "l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n"
    for level in range(1, 7):  # 10**7 leaves once expanded
        text += f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 10) + "]\n"
    with pytest.raises(InputError) as caught:
        load_yaml(text, "bomb.yaml")
    assert caught.value.detail == (
        f"document too large: more than {MAX_NODES} nodes once aliases are expanded"
    )


def test_size_limit() -> None:
    text = "a: " + "x" * MAX_BYTES + "\n"
    with pytest.raises(InputError) as caught:
        load_yaml(text, "big.yaml")
    assert caught.value.detail == (
        f"file is {MAX_BYTES + 4} bytes; the limit is 1048576 bytes (1 MiB)"
    )
    assert caught.value.line is None


def test_read_yaml_file_errors(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(InputError, match=r"big\.yaml: file is 1048577 bytes; the limit is"):
        read_yaml(big)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(InputError) as caught:
        read_yaml(latin)
    assert str(caught.value) == f"{latin}:2: not UTF-8 text (byte offset 11)"
    with pytest.raises(InputError) as caught:
        read_yaml(tmp_path / "missing.yaml")
    assert str(caught.value) == f"{tmp_path / 'missing.yaml'}: no such file"


# --- the rule schema --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["policy-rule", "waivers"])
def test_format_schemas_are_valid_2020_12(name: str) -> None:
    schema = json.loads(format_schema(name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:auditor:formats:{name}"
    assert schema["title"]


def test_shipped_policy_pack_loads() -> None:
    """The default pack passes the rule schema; its kinds are stubbed with permissive params."""
    files = sorted(POLICIES_DIR.glob("*.yaml"))
    kinds = {yaml.safe_load(f.read_text(encoding="utf-8"))["check"]["kind"] for f in files}
    stub = {k: CheckKind(k, "stub", {"type": "object"}, _never_called) for k in kinds}
    loaded = load_policies([POLICIES_DIR], stub)
    assert problems(loaded) == []
    assert [r.id for r in loaded.rules] == [f.name[:7] for f in files]


# --- one rule ---------------------------------------------------------------------------


def test_valid_rule(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    path = write(tmp_path, "AUD-101.yaml", RULE)
    assert load_rule(path, registry) == Rule(
        id="AUD-101",
        name="tenant-no-secrets",
        title="Tenant tables hold no secrets",
        severity=Severity.HIGH,
        rationale="GenAI reads tenant data.",
        remediation="Move the column to customers.",
        check=KIND_A,
        params={"pattern": "^x_", "limit": 3},
        scope=Scope(Target.TENANT, ("tenant/*.json",), ("{tenant_id}",)),
        references=("https://example.com/a", "CIS GCP 7.1"),
        frameworks={"soc2": ("CC6.1", "CC6.7"), "iso27001_2022": ("A.8.3",), "cis_gcp": ("7.1",)},
        source=Location(str(path), 1),
        description="Looks at columns.",
    )


def test_minimal_rule_defaults(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    text = (
        "id: AUD-102\nname: n\ntitle: t\nseverity: info\nrationale: r\nremediation: m\n"
        f"references: [x]\nframeworks: {{}}\nscope: {{target: any}}\ncheck: {{kind: {KIND_A}}}\n"
    )
    rule = load_rule(write(tmp_path, "r.yml", text), registry)
    assert (rule.params, rule.scope, rule.frameworks) == ({}, Scope(), {})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"severity": "severty: high"}, [
            (4, "unknown key 'severty' (did you mean 'severity'?)"),
        ]),
        ({"severity": "level: high"}, [
            (1, "missing required key 'severity'"),
            (4, "unknown key 'level' (allowed: check, description, enabled, example, "
                "frameworks, id, name, rationale, references, remediation, scope, severity, "
                "title, use_instead)"),
        ]),
        ({"severity": "severity: critcal"}, [
            (4, "severity: 'critcal' is not one of: critical, high, medium, low, info "
                "(did you mean 'critical'?)"),
        ]),
        ({"id": "id: AUD-1", "name": "name: Tenant_No"}, [
            (1, "id: 'AUD-1' does not match '^AUD-[0-9]{3}$'"),
            (2, "name: 'Tenant_No' does not match '^[a-z0-9]+(-[a-z0-9]+)*$'"),
        ]),
        ({"title": "title:"}, [(3, "title: expected a string, got nothing (null)")]),
        ({"rationale": "rationale: 42"}, [
            (6, "rationale: expected a string, got number 42; quote it to make it a string"),
        ]),
    ],
)
def test_rule_schema_errors(
    tmp_path: Path, registry: dict[str, CheckKind], changes: dict[str, str],
    expected: list[tuple[int, str]],
) -> None:
    path = write(tmp_path, "r.yaml", rule_text(**changes))
    loaded = load_policies([path], registry)
    assert [(e.path, e.line, e.detail) for e in loaded.errors] == [
        (str(path), line, message) for line, message in expected
    ]
    assert loaded.rules == ()
    with pytest.raises(PolicyError) as caught:
        load_rule(path, registry)
    assert (caught.value.line, caught.value.detail) == expected[0]


def test_enabled_must_be_a_boolean(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    path = write(tmp_path, "r.yaml", RULE + "enabled: maybe\n")
    with pytest.raises(PolicyError) as caught:
        load_rule(path, registry)
    assert str(caught.value) == f"{path}:24: enabled: expected true or false, got string 'maybe'"


def test_nested_schema_errors_point_at_their_lines(
    tmp_path: Path, registry: dict[str, CheckKind]
) -> None:
    text = RULE.replace("  cis_gcp: [\"7.1\"]", "  cis_gcp: [7.1]\n  nist: [AC-3]").replace(
        "  target: tenant", "  targt: tenant"
    ).replace("  - CIS GCP 7.1", "  - https://example.com/a")
    path = write(tmp_path, "r.yaml", text)
    assert problems(load_policies([path], registry)) == [
        f"{path}:8: references: ['https://example.com/a', 'https://example.com/a'] "
        "has non-unique elements",
        f"{path}:14: frameworks.cis_gcp[0]: expected a string, got number 7.1; "
        "quote it to make it a string",
        f"{path}:15: unknown key 'nist' in frameworks (allowed: cis_gcp, iso27001_2022, soc2)",
        f"{path}:17: unknown key 'targt' in scope (did you mean 'target'?)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected one rule (a mapping with id, name, ...), got an empty file"),
        ("- id: AUD-001\n", "expected one rule (a mapping with id, name, ...), got a list"),
        ("just text\n", "expected one rule (a mapping with id, name, ...), got string 'just text'"),
    ],
)
def test_rule_file_is_not_a_mapping(
    tmp_path: Path, registry: dict[str, CheckKind], text: str, message: str
) -> None:
    path = write(tmp_path, "r.yaml", text)
    with pytest.raises(PolicyError) as caught:
        load_rule(path, registry)
    assert str(caught.value) == f"{path}:1: {message}"


def test_yaml_error_becomes_policy_error(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    path = write(tmp_path, "r.yaml", RULE + "id: AUD-999\n")
    with pytest.raises(PolicyError) as caught:
        load_rule(path, registry)
    assert str(caught.value) == f"{path}:24: duplicate key 'id' (first at line 1)"


def test_unknown_check_kind(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    path = write(tmp_path, "r.yaml", RULE.replace(f"kind: {KIND_A}", "kind: no-such-kind"))
    with pytest.raises(PolicyError) as caught:
        load_rule(path, registry)
    assert str(caught.value) == (
        f"{path}:20: unknown check kind 'no-such-kind'; known: {KIND_A}, {KIND_B}"
    )
    with pytest.raises(PolicyError, match=r"unknown check kind 'no-such-kind'; known: \(none\)$"):
        load_rule(path, {})


def test_schema_errors_come_before_the_kind_check(
    tmp_path: Path, registry: dict[str, CheckKind]
) -> None:
    text = rule_text(title="titel: x").replace(f"kind: {KIND_A}", "kind: no-such-kind")
    path = write(tmp_path, "r.yaml", text)
    assert problems(load_policies([path], registry)) == [
        f"{path}:3: unknown key 'titel' (did you mean 'title'?)",
    ]


def test_params_validated_against_the_kind(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    text = RULE.replace('    pattern: "^x_"', '    pattern: "(["').replace(
        "    limit: 3", "    limit: 0\n    limt: 2"
    )
    path = write(tmp_path, "r.yaml", text)
    assert problems(load_policies([path], registry)) == [
        f"{path}:22: check.params.pattern: '([' is not a 'regex'",
        f"{path}:23: check.params.limit: 0 is less than the minimum of 1",
        f"{path}:24: unknown key 'limt' in check.params (did you mean 'limit'?)",
    ]
    # The same params are fine for a kind that takes anything.
    other = write(tmp_path, "other.yaml", text.replace(f"kind: {KIND_A}", f"kind: {KIND_B}"))
    assert load_rule(other, registry).params == {"pattern": "([", "limit": 0, "limt": 2}


def test_missing_params_are_validated_as_empty(
    tmp_path: Path, registry: dict[str, CheckKind]
) -> None:
    required = CheckKind("needs-x", "", {"type": "object", "required": ["x"]}, _never_called)
    text = RULE.split("  params:")[0].replace(f"kind: {KIND_A}", "kind: needs-x")
    path = write(tmp_path, "r.yaml", text)
    with pytest.raises(PolicyError) as caught:
        load_rule(path, {"needs-x": required})
    assert str(caught.value) == f"{path}:19: check.params: missing required key 'x'"


# --- doc examples -----------------------------------------------------------------------

EXAMPLES = """\
example:
  note: A plaintext key column.
  input: repo
  path: tenant/x_meta_runs.json
  text: |
    [{"name": "api_key", "type": "STRING"}]
use_instead:
  note: Only a reference to the key.
  input: exports
  path: tables/acme.x_meta_runs.json
  text: |
    {"tableReference": {"projectId": "p", "datasetId": "acme", "tableId": "x_meta_runs"}}
"""


def test_doc_examples_are_loaded(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    rule = load_rule(write(tmp_path, "r.yaml", RULE + EXAMPLES), registry)
    assert rule.example == DocExample(
        note="A plaintext key column.",
        input=ExampleInput.REPO,
        path="tenant/x_meta_runs.json",
        text='[{"name": "api_key", "type": "STRING"}]\n',
    )
    assert rule.use_instead == DocExample(
        note="Only a reference to the key.",
        input=ExampleInput.EXPORTS,
        path="tables/acme.x_meta_runs.json",
        text='{"tableReference": {"projectId": "p", "datasetId": "acme", "tableId": "x_meta_runs"}}'
        "\n",
    )


def test_doc_examples_are_optional(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    rule = load_rule(write(tmp_path, "r.yaml", RULE), registry)
    assert (rule.example, rule.use_instead) == (None, None)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  note: A plaintext key column.\n", "", [(24, "example: missing required key 'note'")]),
        ("  input: repo", "  input: git", [
            (26, "example.input: 'git' is not one of: repo, exports, rows"),
        ]),
        ("  path: tenant/x_meta_runs.json", "  path: ../x_meta_runs.json", [
            (27, "example.path: '../x_meta_runs.json' does not match "
                 "'^[A-Za-z0-9_@{}-][A-Za-z0-9_.@{}-]*(/[A-Za-z0-9_@{}-][A-Za-z0-9_.@{}-]*)*"
                 "\\\\.(json|sql)$'"),
        ]),
        ("  input: exports", "  inputs: exports", [
            (32, "unknown key 'inputs' in use_instead (did you mean 'input'?)"),
        ]),
        ('    [{"name": "api_key", "type": "STRING"}]', '    [{"name": "api_key",}]', [
            (28, "example.text: not valid JSON (Expecting property name enclosed in double "
                 "quotes at line 1 of the text)"),
        ]),
        ('    [{"name": "api_key", "type": "STRING"}]', "    " + "[" * 3000, [
            (28, "example.text: not valid JSON (nested too deeply)"),
        ]),
    ],
)
def test_doc_example_errors(
    tmp_path: Path,
    registry: dict[str, CheckKind],
    old: str,
    new: str,
    expected: list[tuple[int, str]],
) -> None:
    assert old in EXAMPLES
    path = write(tmp_path, "r.yaml", RULE + EXAMPLES.replace(old, new, 1))
    loaded = load_policies([path], registry)
    assert [(e.line, e.detail) for e in loaded.errors] == expected
    assert loaded.rules == ()


def test_a_sql_example_is_not_parsed_as_json(
    tmp_path: Path, registry: dict[str, CheckKind]
) -> None:
    text = EXAMPLES.replace("tenant/x_meta_runs.json", "database/schemas/tenant_dataset.sql")
    text = text.replace('[{"name": "api_key", "type": "STRING"}]', "CREATE TABLE t (a STRING);")
    rule = load_rule(write(tmp_path, "r.yaml", RULE + text), registry)
    assert rule.example is not None
    assert rule.example.text == "CREATE TABLE t (a STRING);\n"


# --- a policy pack ----------------------------------------------------------------------


def test_pack_from_folders_and_files(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    write(pack, "b.yml", rule_text(id="id: AUD-102", name="name: rule-b"))
    write(pack, "a.yaml", rule_text(id="id: AUD-103", name="name: rule-a"))
    write(pack, "off.yaml", rule_text(id="id: AUD-104", name="name: rule-off") + "enabled: false\n")
    write(pack, "notes.txt", "not a rule")
    (pack / "nested").mkdir()
    write(pack / "nested", "c.yaml", "not: loaded")
    extra = write(tmp_path, "extra.yaml", rule_text(id="id: AUD-105", name="name: rule-extra"))
    loaded = load_policies([extra, pack, pack / "a.yaml"], registry)
    assert problems(loaded) == []
    assert [(r.id, r.name, r.source) for r in loaded.rules] == [
        ("AUD-105", "rule-extra", Location(str(extra), 1)),
        ("AUD-103", "rule-a", Location(str(pack / "a.yaml"), 1)),
        ("AUD-102", "rule-b", Location(str(pack / "b.yml"), 1)),
    ]


def test_pack_reports_every_bad_file(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    write(tmp_path, "1-good.yaml", RULE)
    write(tmp_path, "2-typo.yaml", rule_text(id="id: AUD-102", name="name: b", title="titl: x"))
    write(tmp_path, "3-yaml.yaml", "id: [\n")
    write(tmp_path, "4-kind.yaml",
          rule_text(id="id: AUD-103", name="name: c").replace(f"kind: {KIND_A}", "kind: nope"))
    write(tmp_path, "5-dup-id.yaml", rule_text(name="name: d"))
    write(tmp_path, "6-dup-name.yaml", RULE.replace("id: AUD-101", "id: AUD-106"))
    write(tmp_path, "7-good.yaml", rule_text(id="id: AUD-107", name="name: e"))
    missing = tmp_path / "missing"
    loaded = load_policies([tmp_path, missing], registry)
    p = tmp_path
    assert problems(loaded) == [
        f"{missing}: no such file or folder",
        f"{p / '2-typo.yaml'}:3: unknown key 'titl' (did you mean 'title'?)",
        f"{p / '3-yaml.yaml'}:2: invalid YAML: expected the node content, "
        "but found '<stream end>' (while parsing a flow node)",
        f"{p / '4-kind.yaml'}:20: unknown check kind 'nope'; known: {KIND_A}, {KIND_B}",
        f"{p / '5-dup-id.yaml'}:1: duplicate rule id 'AUD-101' (also in {p / '1-good.yaml'}:1)",
        f"{p / '6-dup-name.yaml'}:2: duplicate rule name 'tenant-no-secrets' "
        f"(also in {p / '1-good.yaml'}:2)",
    ]
    assert all(isinstance(e, PolicyError) for e in loaded.errors)
    assert [r.id for r in loaded.rules] == ["AUD-101", "AUD-107"]


def test_disabled_rules_keep_their_id(tmp_path: Path, registry: dict[str, CheckKind]) -> None:
    write(tmp_path, "a.yaml", RULE + "enabled: false\n")
    write(tmp_path, "b.yaml", rule_text(name="name: other"))
    loaded = load_policies([tmp_path], registry)
    assert loaded.rules == ()
    assert problems(loaded) == [
        f"{tmp_path / 'b.yaml'}:1: duplicate rule id 'AUD-101' (also in {tmp_path / 'a.yaml'}:1)"
    ]
    # load_rule alone does not filter: it loads what it is given.
    assert load_rule(tmp_path / "a.yaml", registry).id == "AUD-101"
