"""What every action is: its kind, the request it sends, its preconditions; manual steps.

An action is a frozen dataclass that declares the exact API change (`api()`), the IAM
permissions the applier needs (`PERMISSIONS`), whether rollback can undo it (`reversible`),
`DESTRUCTIVE = False`, its pure effect on the model (`effect`) and when it is already done
(`satisfied`). The concrete kinds live in dataset.py and table.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from auditor.model import AccessEntry, Dataset, Table, dataset_resource, table_resource_name
from auditor.remediate.actions.digests import entry_key, sort_key

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


# ----------------------------------------------------------------------------- wording


def labels_text(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(none)"


def entry_text(entry: AccessEntry) -> str:
    role = f" {entry.role}" if entry.role else ""
    return f"{entry.kind.value}:{entry.entity}{role}"


def entry_set(entries: Iterable[AccessEntry]) -> set[str]:
    return {sort_key(entry_key(e)) for e in entries}
