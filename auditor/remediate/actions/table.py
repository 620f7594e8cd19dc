"""Actions on a table: create it from a template, add columns, remove members from its IAM
policy. Additive only: no column, row or table is ever removed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from auditor.model import Condition, Dataset, Field, IamBinding, Table, walk_fields
from auditor.remediate.actions.apiforms import field_from_api, field_to_api
from auditor.remediate.actions.base import API_ROOT, Action, ActionKind, ApiChange, TableAction
from auditor.remediate.actions.digests import fields_key


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
        return fields_key(current.fields) == fields_key(self.fields) and (
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
