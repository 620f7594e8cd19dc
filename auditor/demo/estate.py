"""The demo estate as data: the baseline datasets (labels, ACLs, keys, tables), plants applied.

`build_estate(options)` reads the platform's table templates (schemas/tenant, schemas/customers)
and returns plain frozen data; it never talks to BigQuery. `auditor.demo.seed` creates it and
`auditor.demo.rows` fills it. The names and spec types live in `auditor.demo.specs`, the planted
violations in `auditor.demo.plants`.

The estate, for project P (default gac-prod-471220):

- `customers`: labels {dataset_role: customers}, default key .../cryptoKeys/customers, ACL
  OWNER group:platform-admins and READER the onboarding service account only (none of the
  projectOwners/Readers/Writers special groups), the 5 tables of schemas/customers. Its
  encrypted_* columns carry a policy tag and customer_subscriptions grants the billing service
  account roles/bigquery.dataViewer through table IAM (faithful engine only: `faithful=False`
  strips table IAM, policy tags and dataset-kind access entries from the whole estate).
- one dataset per tenant (`tenant_ids(n)`): labels {dataset_role: tenant, tenant_id: ID},
  default key .../cryptoKeys/tenants, ACL OWNER group:platform-admins and READER the platform's
  GenAI agent (allowed by policy), the 5 tables of schemas/tenant.
- `scratch_analytics`: no dataset_role label (unclassified), otherwise compliant (default key,
  named groups only), one small table.

Every dataset carries the label `seeded_by: auditor-demo`; `reset` deletes only those.
Tables carry the dataset's key explicitly, as BigQuery does when it applies a dataset's default
key at creation (neither local engine does that on its own).
Then the plants (`auditor.demo.plants`) change that baseline; each names the violation it
introduces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from auditor.demo.plants import (
    AddAccess,
    AddView,
    Change,
    PlantedViolation,
    active_plants,
    apply_change,
    required_table,
)
from auditor.demo.specs import (
    CUSTOMERS_DATASET,
    CUSTOMERS_TABLES,
    DATA_ANALYSTS,
    DEFAULT_OPTIONS,
    GENAI_AGENT,
    PLATFORM_ADMINS,
    SCRATCH_DATASET,
    SCRATCH_FIELDS,
    SCRATCH_TABLE,
    SEEDED_BY_LABEL,
    SEEDED_BY_VALUE,
    TENANT_TABLES,
    DatasetKind,
    DatasetSpec,
    Grant,
    SeedOptions,
    TableGrant,
    TableSpec,
    billing_account,
    kms_key,
    onboarding_account,
    secrets_policy_tag,
    tenant_ids,
)
from auditor.errors import InputError
from auditor.model import GranteeKind
from auditor.resources import SCHEMAS_DIR

# ---------------------------------------------------------------------------- templates


def load_template(relative: str, root: Path = SCHEMAS_DIR) -> tuple[Mapping[str, Any], ...]:
    """The field list of a template (an array, {"fields": [...]} or {"schema": {"fields"}})."""
    path = root / relative
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(str(path), f"cannot read template: {exc}") from exc
    fields = doc
    if isinstance(doc, dict):
        fields = doc.get("fields", doc.get("schema", {}).get("fields"))
    if not isinstance(fields, list) or not all(_is_field(f) for f in _walk(fields)):
        raise InputError(str(path), "not a BigQuery field list (each field needs name and type)")
    return tuple(fields)


def _is_field(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("name"), str)
        and isinstance(value.get("type"), str)
        and isinstance(value.get("fields", []), list)
    )


def _walk(fields: Sequence[Any]) -> Iterator[Any]:
    for f in fields:
        yield f
        if isinstance(f, dict) and isinstance(f.get("fields"), list):
            yield from _walk(f["fields"])


# ---------------------------------------------------------------------------- building


def _customers(project: str, root: Path) -> DatasetSpec:
    key = kms_key(project, "customers")
    billing = TableGrant("roles/bigquery.dataViewer", f"serviceAccount:{billing_account(project)}")
    tables = []
    for name in CUSTOMERS_TABLES:
        fields = tuple(
            _tag_encrypted(f, secrets_policy_tag(project))
            for f in load_template(f"customers/{name}.json", root)
        )
        iam = (billing,) if name == "customer_subscriptions" else ()
        tables.append(TableSpec(name, fields, f"customers/{name}.json", key, iam))
    return DatasetSpec(
        dataset_id=CUSTOMERS_DATASET,
        kind=DatasetKind.CUSTOMERS,
        labels={"dataset_role": "customers", SEEDED_BY_LABEL: SEEDED_BY_VALUE},
        description=(
            "Customer registry, KMS-encrypted API keys and cloud credentials, subscriptions "
            "and usage quotas. Highly protected: no GenAI access."
        ),
        kms_key=key,
        access=(
            Grant(GranteeKind.GROUP, PLATFORM_ADMINS, "OWNER"),
            Grant(GranteeKind.USER, onboarding_account(project), "READER"),
        ),
        tables=tuple(tables),
    )


def _tag_encrypted(f: Mapping[str, Any], tag: str) -> Mapping[str, Any]:
    if str(f["name"]).startswith("encrypted_"):
        return {**f, "policyTags": {"names": [tag]}}
    return f


def _tenant(
    tenant_id: str, project: str, templates: Mapping[str, tuple[Mapping[str, Any], ...]]
) -> DatasetSpec:
    key = kms_key(project, "tenants")
    return DatasetSpec(
        dataset_id=tenant_id,
        kind=DatasetKind.TENANT,
        labels={"dataset_role": "tenant", "tenant_id": tenant_id, SEEDED_BY_LABEL: SEEDED_BY_VALUE},
        description=(
            f"Operational pipeline logs of tenant {tenant_id}. Safe for GenAI: no credentials."
        ),
        kms_key=key,
        access=(
            Grant(GranteeKind.GROUP, PLATFORM_ADMINS, "OWNER"),
            Grant(GranteeKind.USER, GENAI_AGENT, "READER"),
        ),
        tables=tuple(
            TableSpec(name, templates[name], f"tenant/{name}.json", key) for name in TENANT_TABLES
        ),
    )


def _scratch(project: str) -> DatasetSpec:
    key = kms_key(project, "analytics")
    return DatasetSpec(
        dataset_id=SCRATCH_DATASET,
        kind=DatasetKind.SCRATCH,
        labels={"team": "analytics", SEEDED_BY_LABEL: SEEDED_BY_VALUE},
        description="Ad-hoc analysis tables.",
        kms_key=key,
        access=(
            Grant(GranteeKind.GROUP, PLATFORM_ADMINS, "OWNER"),
            Grant(GranteeKind.GROUP, DATA_ANALYSTS, "WRITER"),
        ),
        tables=(TableSpec(SCRATCH_TABLE, SCRATCH_FIELDS, None, key),),
    )


@dataclass(frozen=True)
class Estate:
    project: str
    datasets: tuple[DatasetSpec, ...]
    planted: tuple[PlantedViolation, ...] = field(default=())

    def dataset(self, dataset_id: str) -> DatasetSpec:
        for spec in self.datasets:
            if spec.dataset_id == dataset_id:
                return spec
        raise KeyError(dataset_id)


def build_estate(options: SeedOptions = DEFAULT_OPTIONS, root: Path = SCHEMAS_DIR) -> Estate:
    """The estate `options` describe, plants applied. Reads the templates under `root`."""
    templates = {name: load_template(f"tenant/{name}.json", root) for name in TENANT_TABLES}
    specs = [_customers(options.project, root)]
    specs += [_tenant(t, options.project, templates) for t in tenant_ids(options.tenants)]
    specs.append(_scratch(options.project))
    plants = active_plants(options)
    by_id = {s.dataset_id: s for s in specs}
    for plant in plants:
        target = by_id[plant.violation.dataset]
        change = _in_project(plant.change, options.project)
        by_id[target.dataset_id] = apply_change(target, plant.violation.table, change)
        if isinstance(change, AddView) and change.authorize_on is not None:
            ref = f"projects/{options.project}/datasets/{target.dataset_id}"
            view = Grant(GranteeKind.VIEW, f"{ref}/tables/{required_table(plant.violation.table)}")
            by_id[change.authorize_on] = apply_change(
                by_id[change.authorize_on], None, AddAccess(view)
            )
    datasets = tuple(by_id[s.dataset_id] for s in specs)
    if not options.faithful:
        datasets = tuple(_for_fast_engine(s) for s in datasets)
    return Estate(options.project, datasets, tuple(p.violation for p in plants))


def _in_project(change: Change, project: str) -> Change:
    """`change` with `{project}` in a view query replaced by the estate's project."""
    if isinstance(change, AddView):
        return replace(change, query=change.query.replace("{project}", project))
    return change


def _for_fast_engine(spec: DatasetSpec) -> DatasetSpec:
    """`spec` without what the fast engine cannot store: table IAM, policy tags,
    dataset-kind access entries."""
    return replace(
        spec,
        access=tuple(g for g in spec.access if g.kind is not GranteeKind.DATASET),
        tables=tuple(
            replace(t, iam=(), fields=tuple(_untagged(f) for f in t.fields)) for t in spec.tables
        ),
    )


def _untagged(f: Mapping[str, Any]) -> Mapping[str, Any]:
    out = {k: v for k, v in f.items() if k != "policyTags"}
    if "fields" in f:
        out["fields"] = [_untagged(sub) for sub in f["fields"]]
    return out
