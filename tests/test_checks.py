"""Each check kind on hand-built inventories: exact failing and passing resources."""

from __future__ import annotations

from datetime import UTC, datetime

from auditor.model import (
    CheckContext,
    Field,
    InputFile,
    Inventory,
    Location,
    Origin,
    Problem,
    Severity,
    Status,
    TableSchema,
)
from auditor.policy.checks import REGISTRY, load_all
from auditor.policy.engine import evaluate
from auditor.policy.rule import Rule, Scope, Target

# Checks get the run's context; these tests decide no time-bound condition.
CONTEXT = CheckContext(evaluation_time=datetime(2026, 1, 1, tzinfo=UTC))

TENANT = Scope(Target.TENANT, template_paths=("tenant/*.json",), datasets=("{tenant_id}",))
ANY = Scope()
CUSTOMERS = Scope(Target.CUSTOMERS, template_paths=("customers/*.json",), datasets=("customers",))


def rule(kind: str, scope: Scope = ANY, params: dict[str, object] | None = None) -> Rule:
    return Rule(
        id="AUD-900",
        name=f"test-{kind}",
        title="t",
        severity=Severity.HIGH,
        rationale="r",
        remediation="fix it",
        check=kind,
        params=params or {},
        scope=scope,
    )


def template(path: str, *fields: Field) -> TableSchema:
    name = path.rsplit("/", 1)[-1].removesuffix(".json")
    return TableSchema(name, fields, Origin.TEMPLATE, Location(path, 1))


def sql_table(dataset: str, name: str, *fields: Field, path: str = "docs/t.sql") -> TableSchema:
    return TableSchema(name, fields, Origin.SQL_DOC, Location(path, 10), dataset=dataset)


def run(kind: str, inventory: Inventory, scope: Scope = ANY) -> set[tuple[str, str, str | None]]:
    load_all()
    findings = evaluate(inventory, [rule(kind, scope)], REGISTRY, CONTEXT)
    return {(f.status.value, f.resource, f.column) for f in findings}


def test_credential_columns_nested_and_decoys() -> None:
    runs = template(
        "tenant/x_meta_pipeline_runs.json",
        Field("run_id", "STRING", line=3),
        Field("token_count", "INTEGER", line=4),
        Field(
            "run_config",
            "RECORD",
            fields=(
                Field(
                    "source", "RECORD", fields=(Field("access_token", "STRING", line=9),), line=8
                ),
            ),
            line=7,
        ),
    )
    clean = template(
        "tenant/x_meta_dq_results.json", Field("passed", "BOOLEAN"), Field("pass_rate", "FLOAT")
    )
    outside = template("customers/customer_api_keys.json", Field("encrypted_api_key", "BYTES"))
    doc = sql_table("{tenant_id}", "x_meta_step_logs", Field("api_key", "STRING", line=12))
    inventory = Inventory(root=".", templates=(runs, clean, outside), sql_tables=(doc,))
    assert run("no-credential-columns", inventory, TENANT) == {
        ("FAIL", "tenant/x_meta_pipeline_runs.json", "run_config.source.access_token"),
        ("PASS", "tenant/x_meta_dq_results.json", None),
        ("FAIL", "docs/t.sql#x_meta_step_logs", "api_key"),
    }


def test_credential_columns_hashes_records_and_table_names() -> None:
    load_all()
    keys = template(
        "tenant/oauth_codes.json",
        Field("code", "STRING", line=3),  # the table's name qualifies a bare `code`
        Field("password_hash", "STRING", line=4, description="bcrypt password hash"),
        Field("api_key_hash", "STRING", line=5),
        Field("secrets", "RECORD", fields=(Field("kind", "STRING", line=7),), line=6),
        Field("headers", "RECORD", mode="REPEATED", line=8, fields=(
            Field("value", "STRING", line=9, description="Raw value, including Authorization"),
        )),
    )  # fmt: skip
    inventory = Inventory(root=".", templates=(keys,))
    allow = {"allow_hashes": ["*_key_hash"]}
    for params, expected in (
        ({}, {"code", "password_hash", "api_key_hash", "headers.value"}),
        (allow, {"code", "password_hash", "headers.value"}),
    ):
        findings = evaluate(
            inventory, [rule("no-credential-columns", TENANT, params)], REGISTRY, CONTEXT
        )
        assert {f.column for f in findings if f.status.value == "FAIL"} == expected
    findings = evaluate(inventory, [rule("no-credential-columns", TENANT)], REGISTRY, CONTEXT)
    by_column = {f.column: f for f in findings}
    assert by_column["password_hash"].evidence["signal"] == "name"
    assert by_column["headers.value"].evidence["signal"] == "description"
    assert "qualified by table name 'oauth_codes'" in by_column["code"].message
    assert "a hash of a secret is credential material" in by_column["password_hash"].message


def test_credential_column_finding_points_at_the_field_line() -> None:
    load_all()
    tpl = template("tenant/t.json", Field("api_key", "STRING", line=42))
    findings = evaluate(
        Inventory(root=".", templates=(tpl,)),
        [rule("no-credential-columns", TENANT)],
        REGISTRY,
        CONTEXT,
    )
    assert [(f.location, f.severity, f.remediation) for f in findings] == [
        (Location("tenant/t.json", 42), Severity.HIGH, "fix it")
    ]


def test_credential_templates_by_content_the_name_only_supports() -> None:
    # AUD-002 judges a template by its columns (issue 15): a credential-store name alone no
    # longer fails (blockchain `tokens` tables), and credential columns fail with the name as
    # support, or without it when they are a third or more of the top-level columns.
    inventory = Inventory(
        root=".",
        templates=(
            template(
                "tenant/x_meta_api_keys.json",
                Field("api_key_id", "STRING"),
                Field("encrypted_api_key", "BYTES", line=7),
                Field("key_prefix", "STRING"),
            ),
            template("tenant/x_meta_cloud_credentials.json", Field("id", "STRING")),
            template(
                "tenant/tokens.json",
                Field("address", "STRING"),
                Field("symbol", "STRING"),
                Field("total_supply", "STRING"),
            ),
            template(
                "tenant/oauth_grants.json",
                Field("grant_id", "STRING"),
                Field("user_id", "STRING"),
                Field("access_token", "STRING"),
                Field("refresh_token", "STRING"),
                Field("expires_at", "TIMESTAMP"),
            ),
            template(
                "tenant/x_meta_pipeline_queue.json",
                *(Field(f"c{i}", "STRING") for i in range(9)),
                Field("webhook_secret", "STRING"),
            ),
            template(
                "tenant/x_meta_pipeline_runs.json",
                Field("run_id", "STRING"),
                Field(
                    "run_config",
                    "RECORD",
                    fields=(Field("source", "RECORD", fields=(Field("access_token", "STRING"),)),),
                ),
            ),
            template("customers/customer_api_keys.json", Field("encrypted_api_key", "BYTES")),
        ),
    )
    assert run("no-credential-tables", inventory, TENANT) == {
        ("FAIL", "tenant/x_meta_api_keys.json", None),
        ("PASS", "tenant/x_meta_cloud_credentials.json", None),
        ("PASS", "tenant/tokens.json", None),
        ("FAIL", "tenant/oauth_grants.json", None),
        ("PASS", "tenant/x_meta_pipeline_queue.json", None),
        ("PASS", "tenant/x_meta_pipeline_runs.json", None),
    }
    load_all()
    findings = {
        f.resource: f
        for f in evaluate(inventory, [rule("no-credential-tables", TENANT)], REGISTRY, CONTEXT)
    }
    keys = findings["tenant/x_meta_api_keys.json"]
    assert keys.location == Location("tenant/x_meta_api_keys.json", 7)
    assert keys.evidence == {
        "table": "x_meta_api_keys",
        "credential_columns": ["encrypted_api_key"],
        "matched": "api_keys",
    }
    assert "2 of its 5 top-level columns" in findings["tenant/oauth_grants.json"].message
    assert findings["tenant/x_meta_cloud_credentials.json"].message.endswith(
        "its name looks like one, but none of its columns holds credential material"
    )


def test_secrets_encrypted_bytes() -> None:
    keys = template(
        "customers/customer_api_keys.json",
        Field("encrypted_api_key", "BYTES"),
        Field("api_key_hash", "STRING"),
    )
    creds = sql_table(
        "customers",
        "customer_cloud_credentials",
        Field("encrypted_credentials", "BYTES"),
        Field(
            "service_account_json",
            "STRING",
            description="Service account key JSON, kept during the migration",
            line=30,
        ),
    )
    tenant = template("tenant/x.json", Field("password", "STRING"))
    store = template(
        "customers/SecretStore.json", Field("name", "STRING"), Field("value", "STRING")
    )
    inventory = Inventory(root=".", templates=(keys, tenant, store), sql_tables=(creds,))
    assert run("secrets-encrypted-bytes", inventory, CUSTOMERS) == {
        ("PASS", "customers/customer_api_keys.json", None),
        ("FAIL", "docs/t.sql#customer_cloud_credentials", "service_account_json"),
        ("FAIL", "customers/SecretStore.json", "value"),
    }


def test_sql_doc_drift_reports_missing_extra_and_mismatched_columns() -> None:
    tpl = template(
        "templates/x_meta_step_logs.json",
        Field("step_id", "STRING", mode="REQUIRED", line=3),
        Field("duration_ms", "INTEGER", line=8),
        Field("bytes_processed", "INTEGER", line=12),
        Field("metrics", "RECORD", fields=(Field("rows", "INTEGER", line=15),), line=14),
    )
    doc = sql_table(
        "{tenant_id}",
        "x_meta_step_logs",
        Field("step_id", "STRING", mode="REQUIRED", line=21),
        Field("duration_ms", "FLOAT64", line=22),
        Field("worker_hostname", "STRING", line=23),
        Field("metrics", "STRUCT", fields=(Field("rows", "INT64", line=24),), line=24),
    )
    same = sql_table("{tenant_id}", "x_meta_runs", Field("run_id", "STRING"))
    same_tpl = template("templates/x_meta_runs.json", Field("run_id", "STRING"))
    orphan = sql_table("{tenant_id}", "x_meta_orphan", Field("a", "STRING"))
    customers = sql_table("customers", "customer_profiles", Field("a", "STRING"))
    inventory = Inventory(
        root=".", templates=(tpl, same_tpl), sql_tables=(doc, same, orphan, customers)
    )
    scope = Scope(Target.TENANT, datasets=("{tenant_id}",))
    assert run("sql-doc-drift", inventory, scope) == {
        ("FAIL", "docs/t.sql#x_meta_step_logs", "duration_ms"),
        ("FAIL", "docs/t.sql#x_meta_step_logs", "bytes_processed"),
        ("FAIL", "docs/t.sql#x_meta_step_logs", "worker_hostname"),
        ("PASS", "docs/t.sql#x_meta_runs", None),
        ("FAIL", "docs/t.sql#x_meta_orphan", None),
    }


def test_sql_doc_drift_message_names_both_types_and_template_line() -> None:
    load_all()
    tpl = template("templates/t.json", Field("duration_ms", "INTEGER", line=8))
    doc = sql_table("{tenant_id}", "t", Field("duration_ms", "FLOAT64", line=22))
    (finding,) = evaluate(
        Inventory(root=".", templates=(tpl,), sql_tables=(doc,)),
        [rule("sql-doc-drift")],
        REGISTRY,
        CONTEXT,
    )
    assert finding.message == (
        "column 'duration_ms' is FLOAT64 NULLABLE in the SQL doc but INT64 NULLABLE in "
        "template templates/t.json:8"
    )
    assert finding.location == Location("docs/t.sql", 22)


def test_schema_valid_fails_files_with_problems_and_passes_the_rest() -> None:
    inventory = Inventory(
        root=".",
        problems=(Problem("a.json", "unknown type 'STRNG'", line=4, column="x.y"),),
        inputs=(InputFile("a.json", "00"), InputFile("b.json", "11")),
    )
    assert run("schema-valid", inventory) == {
        ("FAIL", "a.json", "x.y"),
        ("PASS", "b.json", None),
    }


def test_a_crashing_check_is_an_error_finding_not_a_crash() -> None:
    load_all()

    def boom(inventory: Inventory, rule: Rule, context: CheckContext) -> list[object]:
        raise RuntimeError("kaboom")

    from auditor.policy.checks import CheckKind

    registry = {"boom": CheckKind("boom", "d", {}, boom)}  # type: ignore[arg-type]
    (finding,) = evaluate(Inventory(root="."), [rule("boom")], registry, CONTEXT)
    assert (finding.status, finding.rule_id, finding.message) == (
        Status.ERROR,
        "AUD-900",
        "check 'boom' failed: RuntimeError: kaboom",
    )


def test_every_check_kind_declares_a_parameter_schema_and_description() -> None:
    from jsonschema import Draft202012Validator

    for name, kind in load_all().items():
        assert kind.description, name
        Draft202012Validator.check_schema(dict(kind.params_schema))
        assert kind.params_schema.get("additionalProperties") is False, name
