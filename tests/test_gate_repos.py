"""The gate on real repository layouts (issue 15): what it finds, what it skips and why.

Each fixture under tests/data/repos/ models the layout of a public repository with files of
our own (provenance, and how they were made, in its README). For every one the test pins
how each discovered file is classified, the failing findings and the exit code: every
BigQuery schema a person would call one is found, the rest is skipped with a reason, no
valid schema is reported invalid, and no file that is simply not a schema makes the audit
incomplete (exit 3).
"""

# ruff: noqa: E501  (the tables pin each file's classification, reasons included, verbatim)

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auditor.cli import main
from auditor.report import json as json_report
from auditor.sources.templates import parse_template
from tests.support.make_repo_fixtures import SPECS, serialize
from tests.support.telemetry_schema import shape, telemetry_fields

DATA = Path(__file__).parent / "data"
REPOS = DATA / "repos"

OTHER = "other template"
TENANT = "tenant template"
CUSTOMERS = "customers template"
BQ_DOC = "SQL doc (bigquery)"
JSON_SCHEMA = 'skipped: declares "$schema": a JSON Schema document (or a file checked by one)'
QUERY = "skipped: no CREATE TABLE with a column list (it holds SELECT)"

EXPECTED: dict[str, dict[str, str]] = {
    "bigquery-utils": {
        "tools/automatic_query_fixer/examples/syntax_error.sql": QUERY,
        "tools/cloud_functions/gcs_event_based_ingest/tests/resources/nation_schema.json": OTHER,
        "tools/cloud_functions/gcs_event_based_ingest/tests/resources/ordering_schema.json": OTHER,
        "tools/query_verification/src/test/resources/query1.sql": QUERY,
        "tools/query_verification/src/test/resources/schema1.json": "skipped: a JSON array holds objects with keys fields, tableReference, not fields with a name and type; it embeds a field list at [0].fields",
        "tools/query_verification/src/test/resources/schema3.json": "skipped: a JSON array holds objects with keys fields, tableReference, not fields with a name and type; it embeds a field list at [0].fields",
        "views/audit/bigquery_script_logs_v2.sql": "skipped: no CREATE TABLE with a column list (it holds CREATE VIEW)",
    },
    "cloudact-mono-repo": {
        "01-fronted-system/scripts/supabase_db/05_secure_api_keys.sql": "skipped: not BigQuery DDL: column types TEXT, TIMESTAMPTZ are not BigQuery's (line 15); looks like PostgreSQL (REFERENCES, TIMESTAMPTZ)",
        "01-fronted-system/scripts/supabase_db/12_saas_subscriptions_table.sql": "skipped: not BigQuery DDL: column types UUID, VARCHAR, TEXT are not BigQuery's (line 12); looks like PostgreSQL (UUID, GEN_RANDOM_UUID, REFERENCES)",
        "02-api-service/configs/genai/seed/schemas/genai_model_pricing.json": OTHER,
        "02-api-service/configs/setup/bootstrap/schemas/org_api_keys.json": CUSTOMERS,
        "02-api-service/configs/setup/bootstrap/schemas/org_integration_credentials.json": CUSTOMERS,
        "02-api-service/configs/setup/bootstrap/schemas/org_meta_pipeline_runs.json": CUSTOMERS,
        "02-api-service/configs/setup/bootstrap/schemas/org_profiles.json": CUSTOMERS,
        "02-api-service/configs/setup/bootstrap/schemas/org_subscriptions.json": CUSTOMERS,
        "02-api-service/configs/setup/organizations/onboarding/schemas/cloud_gcp_billing_raw_daily.json": TENANT,
        "02-api-service/configs/setup/organizations/onboarding/schemas/cost_data_standard_1_3.json": TENANT,
        "02-api-service/configs/setup/organizations/onboarding/schemas/genai_payg_pricing.json": TENANT,
        "02-api-service/configs/setup/organizations/onboarding/schemas/genai_payg_usage_raw.json": TENANT,
        "02-api-service/configs/setup/organizations/onboarding/schemas/schema_versions.json": JSON_SCHEMA,
        "02-api-service/configs/setup/organizations/onboarding/schemas/subscription_plans.json": TENANT,
        "02-api-service/configs/setup/organizations/onboarding/views/x_org_hierarchy_mv.sql": "skipped: no CREATE TABLE with a column list (it holds CREATE MATERIALIZED VIEW)",
        "03-data-pipeline-service/configs/cloud/gcp/cost/schemas/billing_cost.json": 'skipped: a JSON object with keys description, version, updated, inherits, schemas and no "fields" or "schema"; it embeds a field list at schemas.billing_cost.fields',
        "03-data-pipeline-service/configs/system/migrations/fix_subscription_schema_drift.sql": "skipped: no CREATE TABLE with a column list (it holds UPDATE)",
        "03-data-pipeline-service/configs/system/procedures/subscription/sp_subscription_4_run_pipeline.sql": "skipped: no CREATE TABLE with a column list (it holds CREATE PROCEDURE, DECLARE, ASSERT, ...)",
        "03-data-pipeline-service/configs/system/schemas/x_standard_fields.json": 'skipped: a JSON object with keys description, version, updated, x_fields, hierarchy_mapping and no "fields" or "schema"',
    },
    "ethereum-etl-airflow": {
        "dags/resources/stages/enrich/schemas/balances.json": OTHER,
        "dags/resources/stages/enrich/schemas/blocks.json": OTHER,
        "dags/resources/stages/enrich/schemas/contracts.json": OTHER,
        "dags/resources/stages/enrich/schemas/logs.json": OTHER,
        "dags/resources/stages/enrich/schemas/token_transfers.json": OTHER,
        "dags/resources/stages/enrich/schemas/tokens.json": OTHER,
        "dags/resources/stages/enrich/schemas/traces.json": OTHER,
        "dags/resources/stages/enrich/schemas/transactions.json": OTHER,
        "dags/resources/stages/enrich/sqls/merge/merge_blocks.sql": "skipped: templated SQL (Jinja); no CREATE TABLE with a column list (it holds MERGE)",
        "dags/resources/stages/enrich/sqls/tokens.sql": "skipped: templated SQL (Jinja); no CREATE TABLE with a column list (it holds SELECT)",
        "dags/resources/stages/load_metadata/schemas/load_metadata.json": OTHER,
        "dags/resources/stages/parse/sqls/parse_logs_udf.sql": "skipped: no CREATE TABLE with a column list (it holds CREATE FUNCTION)",
        "dags/resources/stages/raw/schemas/blocks.json": TENANT,
        "dags/resources/stages/raw/schemas/contracts.json": TENANT,
        "dags/resources/stages/raw/schemas/logs.json": TENANT,
        "dags/resources/stages/raw/schemas/receipts.json": TENANT,
        "dags/resources/stages/raw/schemas/token_transfers.json": TENANT,
        "dags/resources/stages/raw/schemas/tokens.json": TENANT,
        "dags/resources/stages/raw/schemas/traces.json": TENANT,
        "dags/resources/stages/raw/schemas/transactions.json": TENANT,
        "dags/resources/stages/raw/schemas_redshift/schema.sql": "skipped: not BigQuery DDL: column types VARCHAR, BOOLEAN are not BigQuery's (line 7); looks like Redshift (DISTKEY, SORTKEY)",
        "dags/resources/stages/seed/schemas/token_amendments.json": OTHER,
        "test_cases/schema/default_schema.json": "skipped: excluded by 'test_cases/**'",
    },
    "firebase-extensions": {
        "firestore-bigquery-export/scripts/gen-schema-view/schemas/user_array.json": "skipped: field types 'array' are not BigQuery types: a schema of another system",
        "firestore-bigquery-export/scripts/gen-schema-view/schemas/user_full.json": "skipped: field types 'array', 'geopoint', 'map' are not BigQuery types: a schema of another system",
        "firestore-bigquery-export/scripts/gen-schema-view/src/__tests__/fixtures/schemas/emptySchema.json": "skipped: its 'fields' list is empty: no columns to check",
        "firestore-bigquery-export/scripts/gen-schema-view/src/__tests__/fixtures/schemas/fullSchema.json": "skipped: field types 'array', 'geopoint', 'map' are not BigQuery types: a schema of another system",
        "firestore-bigquery-export/scripts/gen-schema-view/src/__tests__/fixtures/schemas/jsonSchema.json": OTHER,
    },
    "gcp-variant-transforms": {
        "gcp_variant_transforms/data/schema/sample_info.json": OTHER,
        "gcp_variant_transforms/testing/data/schema/flatten_merge_option_move_to_calls.json": OTHER,
        "gcp_variant_transforms/testing/integration/bq_to_vcf_tests/option_allow_incompatible_schema.json": "skipped: a JSON array holds objects with keys test_name, input_table, output_file_name, allow_incompatible_schema, bq_uses_1_based_coordinate, ..., not fields with a name and type",
        "gcp_variant_transforms/testing/integration/vcf_to_bq_tests/presubmit_tests/small_tests/option_update_schema_on_append.json": "skipped: a JSON array holds objects with keys test_name, table_name, input_pattern, sharding_config_path, runner, ..., not fields with a name and type",
    },
    "httparchive-bigquery": {
        "schema/httparchive_schema.sql": "skipped: not BigQuery DDL: column types VARCHAR, TEXT, MEDIUMINT are not BigQuery's (line 44); does not parse as BigQuery (line 24); looks like MySQL (UNSIGNED, ENGINE=, CHARSET)",
        "schema/pages.json": OTHER,
        "schema/requests.json": OTHER,
        "sql/histograms/bytesCss.sql": QUERY,
        "sql/timeseries/a11yButtonName.sql": QUERY,
        "urls/schema.json": OTHER,
    },
    "innocraft-bigquery-schema": {
        "funnel.json": OTHER,
        "goal.json": OTHER,
        "log_action.json": OTHER,
        "log_hsr_site.json": OTHER,
        "log_visit.json": OTHER,
        "site.json": OTHER,
        "site_form.json": OTHER,
    },
    "jaffle-shop-classic": {
        "models/customers.sql": "skipped: templated SQL (Jinja); no CREATE TABLE with a column list (it holds WITH)",
        "models/orders.sql": "skipped: templated SQL (Jinja); no CREATE TABLE with a column list (it holds WITH)",
        "models/staging/stg_customers.sql": "skipped: templated SQL (Jinja); no CREATE TABLE with a column list (it holds WITH)",
        "models/staging/stg_orders.sql": "skipped: templated SQL (Jinja); no CREATE TABLE with a column list (it holds WITH)",
        "models/staging/stg_payments.sql": "skipped: templated SQL (Jinja); no CREATE TABLE with a column list (it holds WITH)",
    },
    "marketing-analytics-jumpstart": {
        "sql/schema/table/aiplatform_googleapis_com_pipeline_job_events.json": OTHER,
        "sql/schema/table/churn_propensity_label.json": OTHER,
        "sql/schema/table/dataform_googleapis_com_workflow_invocation_completion.json": OTHER,
        "sql/schema/table/purchase_propensity_label.json": OTHER,
        "sql/schema/table/resource_link.json": OTHER,
        "sql/schema/table/user_dimensions.json": OTHER,
        "sql/schema/table/user_lookback_metrics.json": OTHER,
        "sql/schema/table/vbb_weights.json": OTHER,
    },
    "mozilla-bigquery-etl": {
        "bigquery_etl/alchemer/response.schema.json": OTHER,
        "bigquery_etl/glam/templates/clients_histogram_aggregates_v1.init.sql": "skipped: templated SQL (Jinja); no CREATE TABLE with a column list (it holds CREATE TABLE)",
        "bigquery_etl/stripe/tax.transactions.itemized.1.schema.json": OTHER,
        "sql/glam-fenix-dev/glam_etl/org_mozilla_fenix_glam_nightly__clients_scalar_aggregates_v1/init.sql": BQ_DOC,
        "sql/moz-fx-data-shared-prod/telemetry_derived/clients_last_seen_v1/query.sql": "skipped: no CREATE TABLE with a column list (it holds WITH)",
        "sql/moz-fx-glam-prod/glam_etl/firefox_desktop_glam_release__clients_histogram_aggregates_snapshot_v1/init.sql": "skipped: no CREATE TABLE with a column list (it holds CREATE TABLE)",
        "sql_generators/active_users_aggregates_v4/templates/unittests/active_users.schema.json": OTHER,
        "tests/sql/moz-fx-data-shared-prod/telemetry_derived/clients_last_seen_v1/moz-fx-data-shared-prod.telemetry_derived.clients_first_seen_v1.schema.json": OTHER,
    },
    "mozilla-pipeline-schemas": {
        "schemas/firefox-accounts/amplitude-event/amplitude-event.1.bq": OTHER,
        "schemas/firefox-accounts/amplitude-event/amplitude-event.1.schema.json": JSON_SCHEMA,
        "schemas/metadata/raw/raw.1.bq": OTHER,
        "schemas/org-mozilla-fenix/metrics/metrics.1.bq": OTHER,
        "schemas/org-mozilla-fenix/metrics/metrics.1.schema.json": JSON_SCHEMA,
    },
    "nodejs-bigquery": {
        "util/discovery_type_gen/test/fixtures/complex/schema.json": 'skipped: a JSON object with keys name, title, schemas and no "fields" or "schema"',
        "util/discovery_type_gen/test/fixtures/nested/schema.json": 'skipped: a JSON object with keys name, resources and no "fields" or "schema"',
    },
    "terraform-google-bigquery": {
        "examples/basic_bq/sample_bq_schema.json": OTHER,
        "examples/multiple_tables/sample_bq_schema.json": OTHER,
        "modules/data_warehouse/src/schema/distribution_centers_schema.json": OTHER,
        "modules/data_warehouse/src/schema/events_schema.json": OTHER,
        "modules/data_warehouse/src/schema/inventory_items_schema.json": OTHER,
        "modules/data_warehouse/src/schema/order_items_schema.json": OTHER,
        "modules/data_warehouse/src/schema/orders_schema.json": OTHER,
        "modules/data_warehouse/src/schema/products_schema.json": OTHER,
        "modules/data_warehouse/src/schema/users_schema.json": OTHER,
        "modules/data_warehouse/src/sql/sp_lookerstudio_report.sql": "skipped: no CREATE TABLE with a column list (it holds CREATE VIEW)",
        "modules/data_warehouse/src/sql/sp_provision_lookup_tables.sql": BQ_DOC,
        "modules/data_warehouse/src/sql/sp_sample_queries.sql": "skipped: no CREATE TABLE with a column list (it holds SELECT, WITH, EXECUTE)",
        "test/fixtures/full/sample_bq_schema.json": OTHER,
    },
}


def gate(*args: str | Path) -> tuple[Result, dict[str, Any]]:
    """`auditor gate ARGS -f json -o FILE`: the result and the (schema-validated) report."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "gate.json"
        result = CliRunner().invoke(main, ["gate", *map(str, args), "-f", "json", "-o", str(out)])
        assert "Traceback" not in result.output, result.output
        assert out.exists(), result.output
        report = json_report.load(out.read_text(encoding="utf-8"), "gate.json")
    return result, report


def classified(report: dict[str, Any]) -> dict[str, str]:
    labels = {
        "template": "{scope} template",
        "sql_doc": "SQL doc ({dialect})",
        "skipped": "skipped: {reason}",
    }
    return {f["path"]: labels[f["kind"]].format(**f) for f in report["run"]["discovery"]["files"]}


def failing(report: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    return {
        (f["rule_id"], f["resource"], f.get("column"))
        for f in report["findings"]
        if f["status"] == "FAIL"
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_discovered_file_is_classified_and_nothing_valid_fails(name: str) -> None:
    result, report = gate(REPOS / name, "--allow-empty")
    assert classified(report) == EXPECTED[name]
    assert failing(report) == set()
    assert report["run"]["complete"] is True
    assert result.exit_code == 0, result.output


def test_the_fixtures_are_the_ones_the_readme_describes() -> None:
    readme = (REPOS / "README.md").read_text(encoding="utf-8")
    folders = sorted(p.name for p in REPOS.iterdir() if p.is_dir())
    assert folders == sorted(EXPECTED)
    for name in folders:
        assert f"## {name}\n" in readme, name
        for path in sorted(p for p in (REPOS / name).rglob("*") if p.is_file()):
            rel = path.relative_to(REPOS / name).as_posix()
            if rel not in ("auditor.toml", "pyproject.toml"):
                assert f"`{rel}`" in readme, rel


def test_the_schema_fixtures_hold_facts_only_in_our_layout() -> None:
    # tests/data/repos/README.md: names, types, modes and nesting, written by
    # tests/support/make_repo_fixtures.py; no description or other upstream text.
    for spec in SPECS:
        text = (REPOS / spec.fixture / spec.path).read_text(encoding="utf-8")
        doc = json.loads(text)
        assert serialize(doc) == text, spec.path
        fields = doc if isinstance(doc, list) else doc["fields"]
        stack = list(fields)
        while stack:
            field = stack.pop()
            assert set(field) <= {"name", "type", "mode", "fields"}, (spec.path, field)
            stack.extend(field.get("fields", []))


# ------------------------------------------------------------------ the SaaS layout of issue 15

SAAS = "cloudact-mono-repo"
ONBOARDING = "02-api-service/configs/setup/organizations/onboarding/schemas"


def unconfigured(tmp_path: Path, name: str) -> Path:
    """A copy of a fixture without the gate settings it carries."""
    root = tmp_path / name
    shutil.copytree(REPOS / name, root)
    for config in ("pyproject.toml", "auditor.toml"):
        (root / config).unlink(missing_ok=True)
    return root


def test_tenant_templates_nobody_configured_are_exit_2_not_a_pass(tmp_path: Path) -> None:
    root = unconfigured(tmp_path, SAAS)
    result, report = gate(root)
    assert result.exit_code == 2
    (warning,) = report["run"]["discovery"]["warnings"]
    assert warning.startswith("nothing to check: configure tenant paths. AUD-001, AUD-002, AUD-009")
    assert "11 templates were found and none matches the tenant paths" in warning
    assert f"error: {warning}" in result.output
    assert report["run"]["discovery"]["config"] is None
    # The report is written all the same, and says what was looked at.
    assert classified(report)[f"{ONBOARDING}/cost_data_standard_1_3.json"] == OTHER
    # --allow-empty: a repo that has no tenant templates on purpose passes, loudly.
    result, report = gate(root, "--allow-empty")
    assert result.exit_code == 0
    assert f"warning: {warning}" in result.output
    # Naming the tenant paths on the command line is the same as configuring them.
    result, report = gate(root, "--tenant-glob", f"{ONBOARDING}/*.json")
    assert result.exit_code == 0
    assert report["run"]["discovery"]["warnings"] == []
    tenant = {p for p, label in classified(report).items() if label == TENANT}
    assert len(tenant) == 5


def test_the_saas_config_in_pyproject_scopes_the_rules(tmp_path: Path) -> None:
    result, report = gate(REPOS / SAAS)
    assert result.exit_code == 0
    assert report["run"]["discovery"]["config"] == str(REPOS / SAAS / "pyproject.toml")
    judged = {
        (f["rule_id"], f["resource"].rsplit("/", 1)[-1])
        for f in report["findings"]
        if f["rule_id"] in ("AUD-001", "AUD-002", "AUD-005")
    }
    tenant = {
        "cloud_gcp_billing_raw_daily.json",
        "cost_data_standard_1_3.json",
        "genai_payg_pricing.json",
        "genai_payg_usage_raw.json",
        "subscription_plans.json",
    }
    customers = {
        "org_api_keys.json",
        "org_integration_credentials.json",
        "org_meta_pipeline_runs.json",
        "org_profiles.json",
        "org_subscriptions.json",
    }
    assert judged == (
        {("AUD-001", n) for n in tenant}
        | {("AUD-002", n) for n in tenant}
        | {("AUD-005", n) for n in customers}
    )
    # A credential column added to a tenant template fails, at its line, and blocks.
    root = tmp_path / SAAS
    shutil.copytree(REPOS / SAAS, root)
    target = root / ONBOARDING / "genai_payg_pricing.json"
    fields = json.loads(target.read_text(encoding="utf-8"))
    fields.append({"name": "provider_api_key", "type": "STRING", "mode": "NULLABLE"})
    target.write_text(json.dumps(fields, indent=2), encoding="utf-8")
    result, report = gate(root)
    assert failing(report) == {
        ("AUD-001", f"{ONBOARDING}/genai_payg_pricing.json", "provider_api_key")
    }
    assert result.exit_code == 1


def test_a_password_in_a_schema_folder_is_found(tmp_path: Path) -> None:
    # Issue 15: "a repo with schema/users.json holding a password column passes without a
    # word". Found (schema/, singular), and with tenant paths named it fails at its line.
    users = tmp_path / "schema" / "users.json"
    users.parent.mkdir()
    columns = ["id", "email", "display_name", "created_at", "password"]
    users.write_text(
        "[\n" + ",\n".join(f'  {{"name": "{c}", "type": "STRING"}}' for c in columns) + "\n]\n",
        encoding="utf-8",
    )
    result, report = gate(tmp_path)
    assert (result.exit_code, classified(report)) == (2, {"schema/users.json": OTHER})
    result, report = gate(tmp_path, "--tenant-glob", "schema/*.json")
    assert failing(report) == {("AUD-001", "schema/users.json", "password")}
    (finding,) = [f for f in report["findings"] if f["status"] == "FAIL"]
    assert finding["location"] == {"path": "schema/users.json", "line": 6}
    assert result.exit_code == 1


def test_blockchain_token_tables_are_not_credential_tables() -> None:
    _, report = gate(REPOS / "ethereum-etl-airflow")
    raw = "dags/resources/stages/raw/schemas"
    verdicts = {
        f["resource"].rsplit("/", 1)[-1]: (f["status"], f["evidence"]["credential_columns"])
        for f in report["findings"]
        if f["rule_id"] == "AUD-002"
    }
    assert verdicts["tokens.json"] == ("PASS", [])
    assert verdicts["token_transfers.json"] == ("PASS", [])
    assert set(verdicts) == {p.name for p in (REPOS / "ethereum-etl-airflow" / raw).iterdir()}


def test_other_dialect_docs_are_read_in_their_dialect_when_named() -> None:
    supabase = "01-fronted-system/scripts/supabase_db"
    result, report = gate(
        REPOS / SAAS, "--sql-glob", f"{supabase}/*.sql", "--sql-dialect", "postgres"
    )
    labels = classified(report)
    assert labels[f"{supabase}/05_secure_api_keys.sql"] == "SQL doc (postgres)"
    assert labels[f"{supabase}/12_saas_subscriptions_table.sql"] == "SQL doc (postgres)"
    # Only the named files are SQL docs: the BigQuery views and procedures are not looked at.
    assert not any(p.endswith(".sql") for p in labels if not p.startswith(supabase))
    assert (result.exit_code, failing(report), report["run"]["complete"]) == (0, set(), True)
    result = CliRunner().invoke(main, ["gate", str(REPOS / SAAS), "--sql-dialect", "postgress"])
    assert result.exit_code == 2
    assert "unknown SQL dialect 'postgress'; known: athena, bigquery," in result.output


# ------------------------------------------------------------ BigQuery's column limit, for real


def test_a_telemetry_table_as_large_as_mozillas_is_within_the_column_limit(
    tmp_path: Path,
) -> None:
    """9,220 leaf fields and 12,004 fields with RECORDs, 6 levels deep, as the Fenix `metrics`
    table Mozilla deploys (tests/support/telemetry_schema.py): BigQuery counts leaves."""
    fields = telemetry_fields()
    assert shape(fields) == (9_220, 12_004, 6)
    text = json.dumps(fields, indent=1)
    load = parse_template(text, "metrics.1.bq")
    assert load.problems == ()
    target = tmp_path / "schemas" / "org-mozilla-fenix" / "metrics" / "metrics.1.bq"
    target.parent.mkdir(parents=True)
    target.write_text(text, encoding="utf-8")
    result, report = gate(tmp_path, "--allow-empty")
    assert classified(report) == {"schemas/org-mozilla-fenix/metrics/metrics.1.bq": OTHER}
    assert (result.exit_code, failing(report)) == (0, set())


# ------------------------------------------------------------------------------ --list-inputs


def test_list_inputs_shows_each_file_and_its_classification() -> None:
    result = CliRunner().invoke(
        main, ["gate", str(REPOS / "httparchive-bigquery"), "--list-inputs"]
    )
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "config: (none: defaults)",
        "schema/httparchive_schema.sql      skipped: not BigQuery DDL: column types VARCHAR, TEXT, MEDIUMINT are not BigQuery's (line 44); does not parse as BigQuery (line 24); looks like MySQL (UNSIGNED, ENGINE=, CHARSET)",
        "schema/pages.json                  other template",
        "schema/requests.json               other template",
        f"sql/histograms/bytesCss.sql        {QUERY}",
        f"sql/timeseries/a11yButtonName.sql  {QUERY}",
        "urls/schema.json                   other template",
        "6 files: 3 other templates, 3 skipped",
        "warning: nothing to check: configure tenant paths. AUD-001, AUD-002, AUD-009 judge "
        "tenant templates, but 3 templates were found and none matches the tenant paths "
        "(*/tenant/*.json, *templates/customer/onboarding/schemas/*.json, tenant/*.json), and "
        "no SQL-doc table is in a tenant dataset. Set `tenant = [...]` under [gate] in "
        "auditor.toml (or [tool.auditor.gate] in pyproject.toml), or pass --allow-empty if "
        "this repository has no tenant templates",
    ]


def test_a_saved_report_keeps_what_was_looked_at(tmp_path: Path) -> None:
    from auditor.report.console import render
    from auditor.report.json import render as render_json
    from auditor.report.reader import report_from_json

    root = unconfigured(tmp_path, "ethereum-etl-airflow")
    out = tmp_path / "gate.json"
    CliRunner().invoke(main, ["gate", str(root), "-f", "json", "-o", str(out)])
    text = out.read_text(encoding="utf-8")
    report = report_from_json(text, "gate.json")
    assert render_json(report) == text  # the discovery section survives a round trip
    assert report.run.discovery is not None
    assert report.run.discovery.summary == "23 files: 18 other templates, 5 skipped"
    console = render(report)
    assert "inputs:  23 files: 18 other templates, 5 skipped" in console
    assert "WARNING: nothing to check: configure tenant paths." in console
