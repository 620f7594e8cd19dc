"""The typed actions of a remediation plan: what each changes, how, and what it needs.

Every action is a frozen dataclass registered in ACTION_TYPES under its kind. Each declares
- the exact API change (`api()`: method, HTTP request, body) a reviewer reads in the plan;
- the IAM permissions the applier needs for it (`PERMISSIONS`);
- whether the applier can undo it (`reversible`);
- `DESTRUCTIVE = False`: no action type deletes a table, a column or rows, and a test walks
  this registry (and every generated plan) to keep it so;
- its pure effect on the model (`effect`) and when it is already done (`satisfied`), which
  the applier uses to be idempotent and tests use to predict the estate after an apply.

ManualSteps are not actions: nothing executes them. They say what a person must do and why
(credential columns and values are never dropped or rewritten by remediation).

Nothing here does I/O. The package, by job: base.py (what every action is, manual steps),
dataset.py and table.py (the kinds, by the resource they change), apiforms.py (model <->
API JSON), digests.py (the content preconditions used where an etag is not available).
"""

from __future__ import annotations

from auditor.remediate.actions.apiforms import (
    add_api_field,
    entry_from_api,
    entry_to_api,
    field_from_api,
    field_to_api,
)
from auditor.remediate.actions.base import (
    API_ROOT,
    PHASE,
    Action,
    ActionKind,
    ApiChange,
    DatasetAction,
    ManualStep,
    Precondition,
    TableAction,
    entry_text,
)
from auditor.remediate.actions.dataset import (
    CreateDataset,
    RemoveAccessEntries,
    SetDefaultEncryption,
    SetLabels,
)
from auditor.remediate.actions.digests import dataset_digest, entry_key, iam_digest, table_digest
from auditor.remediate.actions.table import (
    AddColumns,
    CreateTable,
    IamMemberGrant,
    NewColumn,
    RemoveTableIamMember,
    add_field,
    remove_members,
)

ACTION_TYPES: dict[ActionKind, type[Action]] = {
    cls.KIND: cls
    for cls in (
        CreateDataset,
        SetLabels,
        SetDefaultEncryption,
        RemoveAccessEntries,
        CreateTable,
        AddColumns,
        RemoveTableIamMember,
    )
}

# The only API methods an action may call: creations and patches, never a delete or a query.
ALLOWED_METHODS = frozenset(
    {
        "bigquery.datasets.insert",
        "bigquery.datasets.patch",
        "bigquery.tables.insert",
        "bigquery.tables.patch",
        "bigquery.tables.setIamPolicy",
    }
)

__all__ = [
    "ACTION_TYPES",
    "ALLOWED_METHODS",
    "API_ROOT",
    "PHASE",
    "Action",
    "ActionKind",
    "AddColumns",
    "ApiChange",
    "CreateDataset",
    "CreateTable",
    "DatasetAction",
    "IamMemberGrant",
    "ManualStep",
    "NewColumn",
    "Precondition",
    "RemoveAccessEntries",
    "RemoveTableIamMember",
    "SetDefaultEncryption",
    "SetLabels",
    "TableAction",
    "add_api_field",
    "add_field",
    "dataset_digest",
    "entry_from_api",
    "entry_key",
    "entry_text",
    "entry_to_api",
    "field_from_api",
    "field_to_api",
    "iam_digest",
    "remove_members",
    "table_digest",
]
