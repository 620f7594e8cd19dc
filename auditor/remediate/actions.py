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

Nothing here does I/O. State digests (`dataset_digest`, `table_digest`, `iam_digest`) are
the content preconditions used where an etag is not available (see apply.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, ClassVar

from auditor.detect.values import redact_secrets
from auditor.model import (
    AccessEntry,
    Condition,
    Dataset,
    Field,
    GranteeKind,
    IamBinding,
    Table,
    dataset_resource,
    table_resource_name,
    walk_fields,
)
from auditor.sources.scrub import scrub_labels

API_ROOT = "https://bigquery.googleapis.com/bigquery/v2"


class ActionKind(StrEnum):
    CREATE_DATASET = "CreateDataset"
    SET_LABELS = "SetLabels"
    SET_DEFAULT_ENCRYPTION = "SetDefaultEncryption"
    REMOVE_ACCESS_ENTRIES = "RemoveAccessEntries"
    CREATE_TABLE = "CreateTable"
    ADD_COLUMNS = "AddColumns"
    REMOVE_TABLE_IAM_MEMBER = "RemoveTableIamMember"


# Execution order of the kinds: a dataset exists before its tables, its default key is set
# before tables are created under it. Rollback runs the journal backwards.
PHASE = {kind: n for n, kind in enumerate(ActionKind)}


# ----------------------------------------------------------------------------- state digests


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def entry_key(entry: AccessEntry) -> dict[str, Any]:
    """An access entry as plain data (normalised role), for digests and comparisons."""
    out: dict[str, Any] = {"kind": entry.kind.value, "entity": entry.entity, "role": entry.role}
    if entry.target_types:
        out["target_types"] = list(entry.target_types)
    if entry.condition is not None:
        out["condition"] = entry.condition.expression
    return out


def dataset_digest(ds: Dataset) -> str:
    """What the plan saw of a dataset: ACL (order-insensitive), labels, key, location,
    description. The etag, when the engine gives one, is the stronger precondition."""
    return _digest(
        {
            "access": sorted((entry_key(e) for e in ds.access), key=_sort_key),
            # As the audit saw them (auditor.sources.scrub): a plan made from a collected
            # inventory matches the applier's fresh read of the same dataset.
            "labels": scrub_labels(ds.labels),
            "default_kms_key": ds.default_kms_key,
            "location": (ds.location or "").upper(),
            "description": redact_secrets(ds.description) if ds.description else ds.description,
        }
    )


def _fields_key(fields: tuple[Field, ...]) -> list[list[str]]:
    # Names, standard types and modes: what every source (API, INFORMATION_SCHEMA, snapshot)
    # reports identically. Descriptions and policy tags are left out on purpose.
    return [[p.lower(), f.canonical_type, f.mode.upper()] for p, f in walk_fields(fields)]


def table_digest(table: Table) -> str:
    return _digest(
        {"type": table.type, "fields": _fields_key(table.fields), "kms_key": table.kms_key}
    )


def iam_digest(bindings: Iterable[IamBinding]) -> str:
    return _digest(
        sorted(
            (
                [b.role, b.condition.expression if b.condition else "", sorted(b.members)]
                for b in bindings
            ),
            key=_sort_key,
        )
    )


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# ----------------------------------------------------------------------------- API forms

_LEGACY_ROLE = {
    "roles/bigquery.dataOwner": "OWNER",
    "roles/bigquery.dataEditor": "WRITER",
    "roles/bigquery.dataViewer": "READER",
}
_REF_KINDS = (GranteeKind.VIEW, GranteeKind.ROUTINE, GranteeKind.DATASET)


def entry_to_api(entry: AccessEntry) -> dict[str, Any]:
    """A model access entry in the datasets API's form (basic roles in their legacy names)."""
    out: dict[str, Any] = {}
    if entry.kind in _REF_KINDS:
        parts = entry.entity.split("/")
        ref: dict[str, Any] = {"projectId": parts[1], "datasetId": parts[3]}
        if entry.kind is GranteeKind.DATASET:
            out["dataset"] = {"dataset": ref, "targetTypes": list(entry.target_types)}
        else:
            ref["tableId" if entry.kind is GranteeKind.VIEW else "routineId"] = parts[5]
            out[entry.kind.value] = ref
    else:
        out[entry.kind.value] = entry.entity
    if entry.role is not None:
        out["role"] = _LEGACY_ROLE.get(entry.role, entry.role)
    if entry.condition is not None:
        condition = {"expression": entry.condition.expression}
        if entry.condition.title:
            condition["title"] = entry.condition.title
        if entry.condition.description:
            condition["description"] = entry.condition.description
        out["condition"] = condition
    return out


def field_to_api(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "type": f.type, "mode": f.mode.upper()}
    if f.description:
        out["description"] = f.description
    if f.policy_tags:
        out["policyTags"] = {"names": list(f.policy_tags)}
    if f.fields:
        out["fields"] = [field_to_api(sub) for sub in f.fields]
    return out


def field_from_api(raw: Mapping[str, Any]) -> Field:
    tags = raw.get("policyTags", {}).get("names", [])
    return Field(
        name=str(raw["name"]),
        type=str(raw["type"]),
        mode=str(raw.get("mode") or "NULLABLE").upper(),
        description=raw.get("description"),
        fields=tuple(field_from_api(sub) for sub in raw.get("fields", ())),
        policy_tags=tuple(tags),
    )


def entry_from_api(raw: Mapping[str, Any]) -> AccessEntry:
    # The source's parser: the same normalisation the inventory went through.
    from auditor.sources.bigquery import access_entry_from_api

    return access_entry_from_api(raw)


# ----------------------------------------------------------------------------- the actions


@dataclass(frozen=True)
class Precondition:
    """What the plan saw of one resource. The applier refuses to change it when the live
    resource differs: by etag when both sides have one, else by content digest."""

    resource: str
    exists: bool
    etag: str | None = None
    sha256: str | None = None
    iam_sha256: str | None = None  # tables, for IAM actions: the IAM policy the plan saw

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"resource": self.resource, "exists": self.exists}
        for key in ("etag", "sha256", "iam_sha256"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Precondition:
        return cls(
            resource=raw["resource"],
            exists=raw["exists"],
            etag=raw.get("etag"),
            sha256=raw.get("sha256"),
            iam_sha256=raw.get("iam_sha256"),
        )


@dataclass(frozen=True)
class ApiChange:
    """The request the applier sends. `body` is as computed from the planned state; where
    the applier recomputes it from the live state (a list it edits), `note` says how."""

    method: str  # discovery name, e.g. bigquery.datasets.patch
    http: str  # e.g. PATCH https://bigquery.googleapis.com/bigquery/v2/projects/P/datasets/D
    body: Mapping[str, Any]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"method": self.method, "http": self.http, "body": self.body}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, kw_only=True)
class Action:
    """Base of every action. `fixes` are the fingerprints of the findings it resolves."""

    KIND: ClassVar[ActionKind]
    PERMISSIONS: ClassVar[tuple[str, ...]]
    DESTRUCTIVE: ClassVar[bool] = False
    IF_MATCH: ClassVar[bool] = True  # the write carries the live etag (optimistic locking)
    # The request body follows from the params alone (not from the live state it edits).
    BODY_FROM_PARAMS: ClassVar[bool] = True

    project: str
    dataset_id: str
    id: str = ""
    fixes: tuple[str, ...] = ()
    preconditions: tuple[Precondition, ...] = ()

    # -- identity

    @property
    def kind(self) -> ActionKind:
        return self.KIND

    @property
    def dataset_resource(self) -> str:
        return dataset_resource(self.project, self.dataset_id)

    @property
    def table_id(self) -> str | None:
        return None

    @property
    def resource(self) -> str:
        """The resource the action changes."""
        return self.dataset_resource

    @property
    def reversible(self) -> bool:
        return True

    def describe(self) -> str:
        raise NotImplementedError

    def api(self, dataset: Dataset | None, table: Table | None) -> ApiChange:
        """The request, as computed against the planned state."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """The kind-specific fields, as written in the plan file."""
        raise NotImplementedError

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **common: Any) -> Action:
        raise NotImplementedError

    def to_dict(self, preview: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The action as written in the plan file; `preview` is its request as computed
        against the state the plan saw (default: against no state)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "description": self.describe(),
            "resource": self.resource,
            "project": self.project,
            "dataset": self.dataset_id,
            "params": self.params(),
            "api": dict(preview) if preview is not None else self.api(None, None).to_dict(),
            "permissions": list(self.PERMISSIONS),
            "reversible": self.reversible,
            "destructive": self.DESTRUCTIVE,
            "preconditions": [p.to_dict() for p in self.preconditions],
            "fixes": list(self.fixes),
        }

    def _path(self) -> str:
        return f"projects/{self.project}/datasets/{self.dataset_id}"


class DatasetAction(Action):
    """An action on a dataset's own metadata (never its tables)."""

    def effect(self, current: Dataset | None) -> Dataset | None:
        raise NotImplementedError

    def satisfied(self, current: Dataset | None) -> bool:
        return current is not None and self.effect(current) == current


class TableAction(Action):
    @property
    def resource(self) -> str:
        assert self.table_id is not None
        return table_resource_name(self.project, self.dataset_id, self.table_id)

    def effect(self, current: Table | None) -> Table | None:
        raise NotImplementedError

    def satisfied(self, current: Table | None) -> bool:
        return current is not None and self.effect(current) == current

    def _path(self) -> str:
        return f"{super()._path()}/tables/{self.table_id}"


def _ds_patch(action: Action, body: Mapping[str, Any], note: str = "") -> ApiChange:
    return ApiChange("bigquery.datasets.patch", f"PATCH {API_ROOT}/{action._path()}", body, note)


@dataclass(frozen=True, kw_only=True)
class CreateDataset(DatasetAction):
    """A new dataset with its labels, location, default key and a minimal explicit ACL
    (BigQuery adds the projectOwners/Writers/Readers special groups only to an empty one)."""

    KIND = ActionKind.CREATE_DATASET
    PERMISSIONS = ("bigquery.datasets.create",)
    IF_MATCH = False

    location: str
    labels: Mapping[str, str]
    kms_key: str | None
    access: tuple[AccessEntry, ...]
    description: str | None = None

    def describe(self) -> str:
        key = f", default key {self.kms_key}" if self.kms_key else ""
        return (
            f"create dataset {self.dataset_id} in {self.location} with labels "
            f"{_labels(self.labels)}{key} and {len(self.access)} access entr"
            f"{'y' if len(self.access) == 1 else 'ies'}"
        )

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "datasetReference": {"projectId": self.project, "datasetId": self.dataset_id},
            "location": self.location,
            "labels": dict(self.labels),
            "access": [entry_to_api(e) for e in self.access],
        }
        if self.kms_key:
            out["defaultEncryptionConfiguration"] = {"kmsKeyName": self.kms_key}
        if self.description:
            out["description"] = self.description
        return out

    def api(self, dataset: Dataset | None, table: Table | None) -> ApiChange:
        return ApiChange(
            "bigquery.datasets.insert",
            f"POST {API_ROOT}/projects/{self.project}/datasets",
            self.body(),
        )

    def effect(self, current: Dataset | None) -> Dataset | None:
        return Dataset(
            project=self.project,
            dataset_id=self.dataset_id,
            location=self.location,
            labels=dict(self.labels),
            description=self.description,
            access=self.access,
            default_kms_key=self.kms_key,
        )

    def satisfied(self, current: Dataset | None) -> bool:
        if current is None:
            return False
        return (
            (current.location or "").upper() == self.location.upper()
            and all(current.labels.get(k) == v for k, v in self.labels.items())
            and current.default_kms_key == self.kms_key
            and _entry_set(current.access) == _entry_set(self.access)
        )

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "location": self.location,
            "labels": dict(self.labels),
            "kms_key": self.kms_key,
            "access": [entry_to_api(e) for e in self.access],
        }
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **common: Any) -> Action:
        return cls(
            location=params["location"],
            labels=dict(params["labels"]),
            kms_key=params["kms_key"],
            access=tuple(entry_from_api(e) for e in params["access"]),
            description=params.get("description"),
            **common,
        )


@dataclass(frozen=True, kw_only=True)
class SetLabels(DatasetAction):
    """Sets (adds or changes) these labels; every other label stays. Never removes one."""

    KIND = ActionKind.SET_LABELS
    PERMISSIONS = ("bigquery.datasets.get", "bigquery.datasets.update")

    labels: Mapping[str, str]

    def describe(self) -> str:
        return f"set labels {_labels(self.labels)} on dataset {self.dataset_id}"

    def api(self, dataset: Dataset | None, table: Table | None) -> ApiChange:
        return _ds_patch(
            self,
            {"labels": dict(self.labels)},
            "labels.patch merges: only these keys are set, every other label is kept",
        )

    def effect(self, current: Dataset | None) -> Dataset | None:
        assert current is not None
        return replace(current, labels={**current.labels, **self.labels})

    def params(self) -> dict[str, Any]:
        return {"labels": dict(self.labels)}

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **common: Any) -> Action:
        return cls(labels=dict(params["labels"]), **common)


@dataclass(frozen=True, kw_only=True)
class SetDefaultEncryption(DatasetAction):
    """Sets the dataset's default CMEK. New tables get it; existing tables keep theirs
    (rewriting them is a manual step: it rewrites data)."""

    KIND = ActionKind.SET_DEFAULT_ENCRYPTION
    PERMISSIONS = ("bigquery.datasets.get", "bigquery.datasets.update")

    kms_key: str

    def describe(self) -> str:
        return f"set the default encryption key of dataset {self.dataset_id} to {self.kms_key}"

    def api(self, dataset: Dataset | None, table: Table | None) -> ApiChange:
        return _ds_patch(
            self,
            {"defaultEncryptionConfiguration": {"kmsKeyName": self.kms_key}},
            "the BigQuery service account needs roles/cloudkms.cryptoKeyEncrypterDecrypter "
            "on the key",
        )

    def effect(self, current: Dataset | None) -> Dataset | None:
        assert current is not None
        return replace(current, default_kms_key=self.kms_key)

    def params(self) -> dict[str, Any]:
        return {"kms_key": self.kms_key}

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **common: Any) -> Action:
        return cls(kms_key=params["kms_key"], **common)


@dataclass(frozen=True, kw_only=True)
class RemoveAccessEntries(DatasetAction):
    """Removes exactly these entries from the dataset's access list; every other entry is
    kept as it is. The applier edits the LIVE list (never writes a desired list)."""

    KIND = ActionKind.REMOVE_ACCESS_ENTRIES
    PERMISSIONS = ("bigquery.datasets.get", "bigquery.datasets.update")
    BODY_FROM_PARAMS = False

    entries: tuple[AccessEntry, ...]
    reasons: tuple[str, ...] = ()  # one per entry, for the reviewer

    def describe(self) -> str:
        listed = "; ".join(_entry_text(e) for e in self.entries)
        n = len(self.entries)
        return f"remove {n} access entr{'y' if n == 1 else 'ies'} from {self.dataset_id}: {listed}"

    def api(self, dataset: Dataset | None, table: Table | None) -> ApiChange:
        kept = [e for e in (dataset.access if dataset else ()) if not self._removes(e)]
        return _ds_patch(
            self,
            {"access": [entry_to_api(e) for e in kept]},
            "the access list is re-read at apply time and sent back with exactly the "
            f"{len(self.entries)} listed entr{'y' if len(self.entries) == 1 else 'ies'} "
            "removed, with the dataset's etag in If-Match",
        )

    def _removes(self, entry: AccessEntry) -> bool:
        return entry in self.entries

    def effect(self, current: Dataset | None) -> Dataset | None:
        assert current is not None
        return replace(current, access=tuple(e for e in current.access if not self._removes(e)))

    def params(self) -> dict[str, Any]:
        return {
            "entries": [entry_to_api(e) for e in self.entries],
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **common: Any) -> Action:
        return cls(
            entries=tuple(entry_from_api(e) for e in params["entries"]),
            reasons=tuple(params.get("reasons", ())),
            **common,
        )


@dataclass(frozen=True, kw_only=True)
class CreateTable(TableAction):
    """A missing template table, created empty from the template (with the dataset's key
    set explicitly, as BigQuery does when it applies a default key)."""

    KIND = ActionKind.CREATE_TABLE
    PERMISSIONS = ("bigquery.tables.create",)
    IF_MATCH = False

    table: str
    fields: tuple[Field, ...]
    kms_key: str | None
    template: str  # the template file it comes from
    description: str | None = None

    @property
    def table_id(self) -> str | None:
        return self.table

    def describe(self) -> str:
        key = f" under key {self.kms_key}" if self.kms_key else ""
        return (
            f"create table {self.dataset_id}.{self.table} from template {self.template} "
            f"({len(self.fields)} columns){key}"
        )

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tableReference": {
                "projectId": self.project,
                "datasetId": self.dataset_id,
                "tableId": self.table,
            },
            "schema": {"fields": [field_to_api(f) for f in self.fields]},
        }
        if self.kms_key:
            out["encryptionConfiguration"] = {"kmsKeyName": self.kms_key}
        if self.description:
            out["description"] = self.description
        return out

    def api(self, dataset: Dataset | None, table: Table | None) -> ApiChange:
        return ApiChange(
            "bigquery.tables.insert",
            f"POST {API_ROOT}/{super(TableAction, self)._path()}/tables",
            self.body(),
        )

    def effect(self, current: Table | None) -> Table | None:
        return Table(
            project=self.project,
            dataset_id=self.dataset_id,
            table_id=self.table,
            fields=self.fields,
            kms_key=self.kms_key,
            description=self.description,
            iam=(),
        )

    def satisfied(self, current: Table | None) -> bool:
        if current is None:
            return False
        return _fields_key(current.fields) == _fields_key(self.fields) and (
            current.kms_key == self.kms_key
        )

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "table": self.table,
            "template": self.template,
            "kms_key": self.kms_key,
            "fields": [field_to_api(f) for f in self.fields],
        }
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **common: Any) -> Action:
        return cls(
            table=params["table"],
            template=params["template"],
            kms_key=params["kms_key"],
            fields=tuple(field_from_api(f) for f in params["fields"]),
            description=params.get("description"),
            **common,
        )


@dataclass(frozen=True)
class NewColumn:
    """A column to add: `parent` is the dotted path of the RECORD it goes into, or None for
    a top-level column."""

    parent: str | None
    field: Field

    @property
    def path(self) -> str:
        return f"{self.parent}.{self.field.name}" if self.parent else self.field.name


@dataclass(frozen=True, kw_only=True)
class AddColumns(TableAction):
    """Adds NULLABLE/REPEATED columns (additive only: every existing column is kept with its
    type and mode; rows are untouched and read NULL in the new columns)."""

    KIND = ActionKind.ADD_COLUMNS
    PERMISSIONS = ("bigquery.tables.get", "bigquery.tables.update")
    BODY_FROM_PARAMS = False

    table: str
    columns: tuple[NewColumn, ...]

    @property
    def table_id(self) -> str | None:
        return self.table

    @property
    def reversible(self) -> bool:
        # ALTER TABLE DROP COLUMN drops top-level columns only; the applier runs it on
        # rollback only while the column holds no value.
        return all(c.parent is None for c in self.columns)

    def describe(self) -> str:
        listed = ", ".join(f"{c.path} {c.field.type} {c.field.mode}" for c in self.columns)
        return f"add column(s) {listed} to table {self.dataset_id}.{self.table}"

    def api(self, dataset: Dataset | None, table: Table | None) -> ApiChange:
        fields = self.effect(table).fields if table is not None else ()  # type: ignore[union-attr]
        return ApiChange(
            "bigquery.tables.patch",
            f"PATCH {API_ROOT}/{self._path()}",
            {"schema": {"fields": [field_to_api(f) for f in fields]}},
            "the schema is re-read at apply time and sent back with exactly these columns "
            "appended, with the table's etag in If-Match",
        )

    def effect(self, current: Table | None) -> Table | None:
        assert current is not None
        fields = current.fields
        for column in self.columns:
            fields = add_field(fields, column.parent, column.field)
        return replace(current, fields=fields)

    def satisfied(self, current: Table | None) -> bool:
        if current is None:
            return False
        have = {p.lower() for p, _ in walk_fields(current.fields)}
        return all(c.path.lower() in have for c in self.columns)

    def params(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "columns": [{"parent": c.parent, "field": field_to_api(c.field)} for c in self.columns],
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **common: Any) -> Action:
        return cls(
            table=params["table"],
            columns=tuple(
                NewColumn(c["parent"], field_from_api(c["field"])) for c in params["columns"]
            ),
            **common,
        )


def add_field(fields: tuple[Field, ...], parent: str | None, new: Field) -> tuple[Field, ...]:
    """`fields` with `new` appended at top level or inside the RECORD at dotted `parent`;
    unchanged when a column of that name is already there."""
    if parent is None:
        if any(f.name.lower() == new.name.lower() for f in fields):
            return fields
        return (*fields, new)
    head, _, rest = parent.partition(".")
    return tuple(
        replace(f, fields=add_field(f.fields, rest or None, new))
        if f.name.lower() == head.lower()
        else f
        for f in fields
    )


def add_api_field(
    fields: list[dict[str, Any]], parent: str | None, new: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The same on API field dicts (what the applier sends), keeping every other key."""
    if parent is None:
        if any(str(f.get("name", "")).lower() == str(new["name"]).lower() for f in fields):
            return fields
        return [*fields, dict(new)]
    head, _, rest = parent.partition(".")
    out = []
    for f in fields:
        if str(f.get("name", "")).lower() == head.lower():
            f = {**f, "fields": add_api_field(list(f.get("fields", [])), rest or None, new)}
        out.append(f)
    return out


@dataclass(frozen=True)
class IamMemberGrant:
    """One member of one table IAM binding (role and, if any, its condition)."""

    role: str
    member: str
    condition: Condition | None = None

    def matches(self, binding: IamBinding) -> bool:
        return binding.role == self.role and _same_condition(binding.condition, self.condition)


@dataclass(frozen=True, kw_only=True)
class RemoveTableIamMember(TableAction):
    """Removes one member from the listed bindings of a table's IAM policy; every other
    member and binding is kept. The policy is re-read and written back with its etag."""

    KIND = ActionKind.REMOVE_TABLE_IAM_MEMBER
    PERMISSIONS = ("bigquery.tables.getIamPolicy", "bigquery.tables.setIamPolicy")
    BODY_FROM_PARAMS = False

    table: str
    grants: tuple[IamMemberGrant, ...]

    @property
    def table_id(self) -> str | None:
        return self.table

    def describe(self) -> str:
        listed = ", ".join(f"{g.member} from {g.role}" for g in self.grants)
        return f"remove {listed} in the IAM policy of table {self.dataset_id}.{self.table}"

    def api(self, dataset: Dataset | None, table: Table | None) -> ApiChange:
        after = self.effect(table) if table is not None else None
        bindings = [_binding_to_api(b) for b in ((after.iam or ()) if after is not None else ())]
        return ApiChange(
            "bigquery.tables.setIamPolicy",
            f"POST {API_ROOT}/{self._path()}:setIamPolicy",
            {"policy": {"version": 3, "bindings": bindings}},
            "the policy is re-read (version 3) at apply time and written back with only "
            "these members removed, with its etag",
        )

    def effect(self, current: Table | None) -> Table | None:
        assert current is not None
        return replace(current, iam=remove_members(current.iam or (), self.grants))

    def satisfied(self, current: Table | None) -> bool:
        if current is None:
            return False
        return not any(
            g.member in b.members and g.matches(b) for g in self.grants for b in current.iam or ()
        )

    def params(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "grants": [_grant_to_dict(g) for g in self.grants],
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **common: Any) -> Action:
        return cls(
            table=params["table"],
            grants=tuple(_grant_from_dict(g) for g in params["grants"]),
            **common,
        )


def remove_members(
    bindings: Sequence[IamBinding], grants: Sequence[IamMemberGrant]
) -> tuple[IamBinding, ...]:
    out = []
    for b in bindings:
        gone = {g.member for g in grants if g.matches(b)}
        members = tuple(m for m in b.members if m not in gone)
        if members:
            out.append(replace(b, members=members))
    return tuple(out)


def _grant_to_dict(g: IamMemberGrant) -> dict[str, Any]:
    out: dict[str, Any] = {"role": g.role, "member": g.member}
    if g.condition is not None:
        out["condition"] = {"expression": g.condition.expression}
        if g.condition.title:
            out["condition"]["title"] = g.condition.title
    return out


def _grant_from_dict(raw: Mapping[str, Any]) -> IamMemberGrant:
    cond = raw.get("condition")
    return IamMemberGrant(
        role=raw["role"],
        member=raw["member"],
        condition=Condition(cond["expression"], cond.get("title")) if cond else None,
    )


def _binding_to_api(b: IamBinding) -> dict[str, Any]:
    out: dict[str, Any] = {"role": b.role, "members": list(b.members)}
    if b.condition is not None:
        out["condition"] = {"expression": b.condition.expression}
    return out


def _same_condition(a: Condition | None, b: Condition | None) -> bool:
    return (a.expression if a else None) == (b.expression if b else None)


# ----------------------------------------------------------------------------- manual steps


@dataclass(frozen=True)
class ManualStep:
    """Something a person must do; the applier never executes it. `why` says why it is not
    automatic; `steps` what to do."""

    resource: str
    title: str
    why: str
    steps: tuple[str, ...]
    id: str = ""
    fixes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "ManualStep",
            "resource": self.resource,
            "title": self.title,
            "why": self.why,
            "steps": list(self.steps),
            "fixes": list(self.fixes),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ManualStep:
        return cls(
            resource=raw["resource"],
            title=raw["title"],
            why=raw["why"],
            steps=tuple(raw["steps"]),
            id=raw["id"],
            fixes=tuple(raw["fixes"]),
        )


# ----------------------------------------------------------------------------- registry

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


def _labels(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(none)"


def _entry_text(entry: AccessEntry) -> str:
    role = f" {entry.role}" if entry.role else ""
    return f"{entry.kind.value}:{entry.entity}{role}"


def _entry_set(entries: Iterable[AccessEntry]) -> set[str]:
    return {_sort_key(entry_key(e)) for e in entries}


def entry_text(entry: AccessEntry) -> str:
    return _entry_text(entry)


__all__ = [
    "ACTION_TYPES",
    "ALLOWED_METHODS",
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
    "dataset_digest",
    "iam_digest",
    "table_digest",
]
