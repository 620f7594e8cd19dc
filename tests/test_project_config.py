"""The project config of the gate: `[gate]` in auditor.toml or `[tool.auditor]` in
pyproject.toml, one format with nightly's, checked by one JSON Schema with file:line errors,
and overridden by the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auditor.cli import main
from auditor.config import (
    SCHEMA,
    ConfigError,
    GateConfig,
    find_project_config,
    load_config,
    parse_config,
)
from auditor.configschema import config_schema
from auditor.report import json as json_report
from auditor.resources import PROJECT_DIR

EXAMPLE = PROJECT_DIR / "examples" / "platform-repo"
ONBOARDING = "templates/customer/onboarding/schemas"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_schema_describes_exactly_the_tables_and_keys_the_loader_reads() -> None:
    schema = config_schema()
    assert {s: list(schema["properties"][s]["properties"]) for s in schema["properties"]} == {
        s: list(keys) for s, keys in SCHEMA.items()
    }


def test_a_gate_table(tmp_path: Path) -> None:
    write(tmp_path / "reports" / "base.json", "{}")
    config = parse_config(
        "[gate]\n"
        'templates = ["defs/**/*.json"]\n'
        'sql_docs = ["db/*.sql"]\n'
        'sql_dialect = "postgres"\n'
        'tenant = ["defs/tenant/*.json"]\n'
        'customers = ["defs/customers/*.json"]\n'
        'other = ["defs/staging/*.json"]\n'
        'exclude = ["tests/**"]\n'
        "allow_empty = true\n"
        'baseline = "reports/base.json"\n'
        'baseline_ref = "origin/main"\n'
        "[thresholds]\n"
        'fail_on = "critical"\n',
        "auditor.toml",
        tmp_path,
    )
    assert config.gate == GateConfig(
        templates=("defs/**/*.json",),
        sql_docs=("db/*.sql",),
        sql_dialect="postgres",
        tenant=("defs/tenant/*.json",),
        customers=("defs/customers/*.json",),
        other=("defs/staging/*.json",),
        exclude=("tests/**",),
        allow_empty=True,
        baseline=tmp_path / "reports" / "base.json",
        baseline_ref="origin/main",
    )
    # The nightly job reads the same file and ignores the gate's table.
    assert config.given() == {"fail_on": "critical"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            '[tool.auditor.gate]\ntenants = ["a/*.json"]\n',
            2,
            "unknown key 'tenants' in [tool.auditor.gate] (did you mean 'tenant'?); known: "
            "templates, sql_docs, sql_dialect, tenant, customers, other, exclude, "
            "allow_empty, baseline, baseline_ref",
        ),
        (
            "[tool.auditor]\ngate.tenant = 3\n",
            2,
            "[tool.auditor.gate] tenant: expected a non-empty list of strings, not an integer",
        ),
        (
            '[project]\nname = "x"\n\n[tool.auditor.gates]\ntenant = ["a"]\n',
            4,
            "unknown section [tool.auditor.gates] (did you mean 'gate'?); known: "
            "[tool.auditor.project], [tool.auditor.scope], [tool.auditor.outputs], "
            "[tool.auditor.thresholds], [tool.auditor.policies], [tool.auditor.gate]",
        ),
        (
            '[tool.auditor.gate]\ntenant = ["a"]\nsql_dialect = "postgress"\n',
            3,
            "[tool.auditor.gate] sql_dialect: unknown SQL dialect 'postgress'; known: athena,",
        ),
        (
            '[tool.auditor.thresholds]\nfail_on = "severe"\n',
            2,
            "[tool.auditor.thresholds] fail_on: expected one of critical, high, medium, low, "
            "info, none, not 'severe'",
        ),
        (
            "[tool.auditor.gate]\nallow_empty = []\n",
            2,
            "[tool.auditor.gate] allow_empty: expected true or false, not a list",
        ),
        ('[tool.auditor.gate]\nbaseline = "nope.json"\n', 2, "[tool.auditor.gate] baseline: /"),
        ("[tool]\nauditor = 1\n", 2, "tool.auditor must be a [tool.auditor] table"),
    ],
)
def test_pyproject_errors_name_the_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path / "pyproject.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert caught.value.detail.startswith(message), caught.value.detail


def test_which_file_configures_a_repo(tmp_path: Path) -> None:
    assert find_project_config(tmp_path) is None
    write(tmp_path / "pyproject.toml", '[project]\nname = "platform"\n')
    assert find_project_config(tmp_path) is None  # no [tool.auditor]: not configured
    write(
        tmp_path / "pyproject.toml", '[project]\nname = "p"\n[tool.auditor.gate]\ntenant = ["t"]\n'
    )
    assert find_project_config(tmp_path) == tmp_path / "pyproject.toml"
    assert load_config(tmp_path / "pyproject.toml").gate.tenant == ("t",)
    write(tmp_path / "auditor.toml", '[gate]\ntenant = ["u"]\n')
    with pytest.raises(ConfigError, match="keep the settings in one of them"):
        find_project_config(tmp_path)
    (tmp_path / "pyproject.toml").unlink()
    assert find_project_config(tmp_path) == tmp_path / "auditor.toml"


# --------------------------------------------------------------------------- through the CLI


def gate(*args: str | Path) -> tuple[Result, dict[str, Any] | None]:
    out = Path(str(args[0])).parent / "gate-out.json"
    result = CliRunner().invoke(main, ["gate", *map(str, args), "-f", "json", "-o", str(out)])
    assert "Traceback" not in result.output, result.output
    report = json_report.load(out.read_text(), "gate.json") if out.exists() else None
    out.unlink(missing_ok=True)
    return result, report


def platform_copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE, root)
    return root


def test_the_config_sets_what_the_command_line_leaves_alone(tmp_path: Path) -> None:
    root = platform_copy(tmp_path)
    # The example's planted findings are critical, high and medium: fail_on none never blocks.
    write(
        root / "auditor.toml", '[thresholds]\nfail_on = "none"\n[gate]\nexclude = ["database/**"]\n'
    )
    result, report = gate(root)
    assert report is not None
    assert result.exit_code == 0
    assert report["run"]["discovery"]["config"] == str(root / "auditor.toml")
    skipped = {
        f["path"]: f["reason"]
        for f in report["run"]["discovery"]["files"]
        if f["kind"] == "skipped"
    }
    assert skipped == {
        "database/schemas/customers_auth_dataset.sql": "excluded by 'database/**'",
        "database/schemas/customers_dataset.sql": "excluded by 'database/**'",
        "database/schemas/tenant_dataset.sql": "excluded by 'database/**'",
    }
    # An option given on the command line wins.
    result, _ = gate(root, "--fail-on", "critical")
    assert result.exit_code == 1
    # --config names another file; a broken one is exit 2 naming file and line.
    bad = write(tmp_path / "elsewhere.toml", '[gate]\ntemplate = ["x"]\n')
    result, report = gate(root, "--config", bad)
    assert (result.exit_code, report) == (2, None)
    assert (
        f"error: {bad}:2: unknown key 'template' in [gate] (did you mean 'templates'?)"
        in result.output
    )


def test_config_paths_scope_the_rules_and_a_conflict_is_exit_2(tmp_path: Path) -> None:
    root = platform_copy(tmp_path)
    moved = root / "platform" / "tenant-tables"
    shutil.move(root / ONBOARDING, moved)
    write(
        root / "pyproject.toml", '[tool.auditor.gate]\ntenant = ["platform/tenant-tables/*.json"]\n'
    )
    result, report = gate(root)
    assert report is not None
    failing = {(f["rule_id"], f["resource"]) for f in report["findings"] if f["status"] == "FAIL"}
    # The credential templates are judged where the config says tenant templates are.
    assert ("AUD-002", "platform/tenant-tables/x_meta_api_keys.json") in failing
    assert ("AUD-002", "platform/tenant-tables/x_meta_cloud_credentials.json") in failing
    assert result.exit_code == 1
    write(
        root / "pyproject.toml",
        '[tool.auditor.gate]\ntenant = ["platform/**"]\n'
        'customers = ["platform/tenant-tables/x_meta_api_keys.json"]\n',
    )
    result, report = gate(root)
    assert (result.exit_code, report) == (2, None)
    assert (
        "platform/tenant-tables/x_meta_api_keys.json: matches the paths of more than one "
        "scope: tenant ('platform/**'); customers" in result.output
    )


def test_the_baseline_in_the_config_does_not_block(tmp_path: Path) -> None:
    root = platform_copy(tmp_path)
    base = tmp_path / "base.json"
    CliRunner().invoke(main, ["gate", str(root), "-f", "json", "-o", str(base)])
    assert json.loads(base.read_text())["summary"]["by_status"]["FAIL"] > 0
    write(root / "auditor.toml", f'[gate]\nbaseline = "{base}"\n')
    result, report = gate(root)
    assert report is not None
    assert all(f.get("in_baseline") for f in report["findings"] if f["status"] == "FAIL")
    assert result.exit_code == 0
