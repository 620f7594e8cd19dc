"""Write the schema files of the gate's repository fixtures (tests/data/repos/) from facts.

    python tests/support/make_repo_fixtures.py MIRRORS [--check]

For every BigQuery field list below, the upstream file is read at the recorded commit from a
git copy under MIRRORS (`owner+name/repo` or `owner+name`, as for
benchmarks/corpora/collect_schemas.py) and only the facts of its layout are kept: each
field's name, type, mode and nesting, in upstream order, trimmed where the spec says so.
Descriptions and every other field key are dropped; where the file's wrapper object has a
description of its own, ours replaces it. The result is written in our serialization (one
line per field, keys name/type/mode/fields, sub-fields indented below their RECORD). The
other fixture files (SQL, JSON Schema documents, configs, pipeline definitions) are written
by hand and are not touched here.
--check compares instead of writing and exits 1 on a difference.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPOS = Path(__file__).resolve().parents[1] / "data" / "repos"
FIELD_KEYS = ("name", "type", "mode", "fields")


@dataclass(frozen=True)
class Upstream:
    repository: str
    commit: str


UPSTREAM = {
    "bigquery-utils": Upstream(
        "GoogleCloudPlatform/bigquery-utils", "8c6ade77f905f249e9791443a90a32a1222885f8"
    ),
    "cloudact-mono-repo": Upstream(
        "cloud-act-ai/cloudact-mono-repo", "30316f0da3142a0fe66b82a3794fcf601738a6ac"
    ),
    "ethereum-etl-airflow": Upstream(
        "blockchain-etl/ethereum-etl-airflow", "27d0fb037cbe8b9ba62880f99c155823ab2e4a35"
    ),
    "firebase-extensions": Upstream(
        "firebase/extensions", "58896fffd88d4ed25b016991c74c23a8805462d9"
    ),
    "gcp-variant-transforms": Upstream(
        "googlegenomics/gcp-variant-transforms", "47844f7f1d2d40948674d127037eb666ae552beb"
    ),
    "httparchive-bigquery": Upstream(
        "HTTPArchive/bigquery", "c71ede116750166a9f98ed2780245ab6ea3de17e"
    ),
    "innocraft-bigquery-schema": Upstream(
        "innocraft/bigquery-schema", "5aee6559ed6d3ac47f78912760762807321843d7"
    ),
    "marketing-analytics-jumpstart": Upstream(
        "GoogleCloudPlatform/marketing-analytics-jumpstart",
        "465ef4f90193b57d5b1b6923dff192baae992b29",
    ),
    "mozilla-bigquery-etl": Upstream(
        "mozilla/bigquery-etl", "1c16343c97055fce8ada06621c8616d7e29e5657"
    ),
    "mozilla-pipeline-schemas": Upstream(
        "mozilla-services/mozilla-pipeline-schemas", "19c97f5cd31cffddb9074782ac69c31fb5170ff4"
    ),
    "terraform-google-bigquery": Upstream(
        "terraform-google-modules/terraform-google-bigquery",
        "66af7ff9341aec6ecceb493b691ddc8271960352",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Spec:
    """One schema fixture: where it is, how much of the upstream field list it keeps
    (`top` fields at the top level, `nested` in each RECORD; None keeps all), our own
    text for a wrapper object's description, and the commit when it is not the fixture's."""

    fixture: str
    path: str
    top: int | None = None
    nested: int | None = None
    description: str | None = None
    commit: str | None = None


ONBOARDING = "02-api-service/configs/setup/organizations/onboarding/schemas"
BOOTSTRAP = "02-api-service/configs/setup/bootstrap/schemas"
GEN_SCHEMA_VIEW = "firestore-bigquery-export/scripts/gen-schema-view"
ETH = "dags/resources/stages"

SPECS = (
    *(
        Spec("bigquery-utils", f"tools/cloud_functions/gcs_event_based_ingest/tests/resources/{n}")
        for n in ("nation_schema.json", "ordering_schema.json")
    ),
    *(
        Spec("cloudact-mono-repo", f"{ONBOARDING}/{n}.json", top=12)
        for n in (
            "cost_data_standard_1_3", "cloud_gcp_billing_raw_daily", "genai_payg_usage_raw",
            "genai_payg_pricing", "subscription_plans",
        )
    ),
    *(
        Spec("cloudact-mono-repo", f"{BOOTSTRAP}/{n}.json", top=24)
        for n in (
            "org_api_keys", "org_integration_credentials", "org_profiles",
            "org_meta_pipeline_runs", "org_subscriptions",
        )
    ),
    Spec(
        "cloudact-mono-repo",
        "02-api-service/configs/genai/seed/schemas/genai_model_pricing.json",
        top=10,
        description="Model pricing, one row per provider and model (fixture text).",
    ),
    *(
        Spec("ethereum-etl-airflow", f"{ETH}/raw/schemas/{n}.json")
        for n in (
            "blocks", "contracts", "logs", "receipts", "token_transfers", "tokens", "traces",
            "transactions",
        )
    ),
    *(
        Spec("ethereum-etl-airflow", f"{ETH}/enrich/schemas/{n}.json")
        for n in (
            "balances", "blocks", "contracts", "logs", "token_transfers", "tokens", "traces",
            "transactions",
        )
    ),
    Spec("ethereum-etl-airflow", f"{ETH}/load_metadata/schemas/load_metadata.json"),
    Spec("ethereum-etl-airflow", f"{ETH}/seed/schemas/token_amendments.json"),
    # Read at the commits first chosen (from the file index, one per file); user_array.json
    # is the same at the fixture's commit, which the mirror has.
    Spec("firebase-extensions", f"{GEN_SCHEMA_VIEW}/schemas/user_full.json",
         commit="1ab54231e294cdf8fa69cac2057fe25987674739"),
    Spec("firebase-extensions", f"{GEN_SCHEMA_VIEW}/schemas/user_array.json"),
    *(
        Spec("firebase-extensions", f"{GEN_SCHEMA_VIEW}/src/__tests__/fixtures/schemas/{n}",
             commit=commit)
        for n, commit in (
            ("emptySchema.json", "9ddc3f5550105e778b806c7d691140a3bd4002d9"),
            ("fullSchema.json", "925a31027484a1de670670cdffd1610b77b03999"),
            ("jsonSchema.json", "9d8fd8febc23c8f79cf50cfd33e3edf55f498372"),
        )
    ),
    Spec("gcp-variant-transforms", "gcp_variant_transforms/data/schema/sample_info.json"),
    Spec(
        "gcp-variant-transforms",
        "gcp_variant_transforms/testing/data/schema/flatten_merge_option_move_to_calls.json",
    ),
    *(
        Spec("httparchive-bigquery", p)
        for p in ("schema/pages.json", "schema/requests.json", "urls/schema.json")
    ),
    *(
        Spec("innocraft-bigquery-schema", f"{n}.json")
        for n in ("funnel", "goal", "log_action", "log_hsr_site", "log_visit", "site", "site_form")
    ),
    *(
        Spec("marketing-analytics-jumpstart", f"sql/schema/table/{n}.json")
        for n in (
            "resource_link", "vbb_weights", "user_dimensions", "churn_propensity_label",
            "purchase_propensity_label", "user_lookback_metrics",
            "aiplatform_googleapis_com_pipeline_job_events",
            "dataform_googleapis_com_workflow_invocation_completion",
        )
    ),
    *(
        Spec("mozilla-bigquery-etl", p)
        for p in (
            "bigquery_etl/stripe/tax.transactions.itemized.1.schema.json",
            "bigquery_etl/alchemer/response.schema.json",
            "sql_generators/active_users_aggregates_v4/templates/unittests/active_users.schema.json",
            "tests/sql/moz-fx-data-shared-prod/telemetry_derived/clients_last_seen_v1/"
            "moz-fx-data-shared-prod.telemetry_derived.clients_first_seen_v1.schema.json",
        )
    ),
    Spec("mozilla-pipeline-schemas", "schemas/org-mozilla-fenix/metrics/metrics.1.bq", 12, 4),
    *(
        Spec("mozilla-pipeline-schemas", f"schemas/{p}")
        for p in ("metadata/raw/raw.1.bq", "firefox-accounts/amplitude-event/amplitude-event.1.bq")
    ),
    *(
        Spec("terraform-google-bigquery", p)
        for p in (
            "examples/basic_bq/sample_bq_schema.json",
            "examples/multiple_tables/sample_bq_schema.json",
            "test/fixtures/full/sample_bq_schema.json",
        )
    ),
    *(
        Spec("terraform-google-bigquery", f"modules/data_warehouse/src/schema/{n}_schema.json")
        for n in (
            "distribution_centers", "events", "inventory_items", "order_items", "orders",
            "products", "users",
        )
    ),
)  # fmt: skip


def facts(fields: list[Any], top: int | None, nested: int | None) -> list[dict[str, Any]]:
    """Name, type, mode and nesting of a field list, in order, `top` of them at most."""
    out = []
    for field in fields[:top]:
        kept = {k: field[k] for k in FIELD_KEYS[:3] if k in field}
        if isinstance(field.get("fields"), list):
            kept["fields"] = facts(field["fields"], nested, nested)
        out.append(kept)
    return out


def rewrite(upstream: Any, spec: Spec) -> Any:
    """Our file for an upstream document: a field list, or a wrapper object around one."""
    if isinstance(upstream, list):
        return facts(upstream, spec.top, spec.nested)
    ours: dict[str, Any] = {}
    for key, value in upstream.items():
        if key == "fields":
            ours[key] = facts(value, spec.top, spec.nested)
        elif key == "description":
            if spec.description is None:
                raise SystemExit(f"{spec.fixture}/{spec.path}: write a description of our own")
            ours[key] = spec.description
        else:
            ours[key] = value  # table name, dataset kind, clustering columns: facts
    return ours


def serialize(doc: Any) -> str:
    """Our layout: one line per field, a RECORD's sub-fields indented below it; a wrapper
    object's other keys one per line."""
    if isinstance(doc, list):
        return _field_list(doc, "") + "\n"
    lines = []
    for key, value in doc.items():
        shown = _field_list(value, "  ") if key == "fields" else _dump(value)
        lines.append(f"  {_dump(key)}: {shown}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _field_list(fields: list[dict[str, Any]], indent: str) -> str:
    if not fields:
        return "[]"
    items = []
    for field in fields:
        head = ", ".join(f"{_dump(k)}: {_dump(field[k])}" for k in FIELD_KEYS[:3] if k in field)
        if "fields" in field:
            head += f', "fields": {_field_list(field["fields"], indent + "  ")}'
        items.append(f"{indent}  {{{head}}}")
    return "[\n" + ",\n".join(items) + f"\n{indent}]"


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def git_dir(mirrors: Path, repository: str) -> Path:
    base = mirrors / repository.replace("/", "+", 1)
    for candidate in (base / "repo" / ".git", base / "repo", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    raise SystemExit(f"no git copy of {repository} under {mirrors}")


def upstream_text(mirrors: Path, spec: Spec) -> str:
    source = UPSTREAM[spec.fixture]
    repo = git_dir(mirrors, source.repository)
    return subprocess.run(
        ["git", "--git-dir", str(repo), "show", f"{spec.commit or source.commit}:{spec.path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    mirrors, check = Path(argv[0]), "--check" in argv[1:]
    differ = 0
    for spec in SPECS:
        text = serialize(rewrite(json.loads(upstream_text(mirrors, spec)), spec))
        target = REPOS / spec.fixture / spec.path
        if check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                print(f"differs: {spec.fixture}/{spec.path}")
                differ += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"{len(SPECS)} schema files {'checked' if check else 'written'}, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
