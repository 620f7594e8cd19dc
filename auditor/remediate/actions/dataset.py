"""Actions on a dataset's own metadata: create it, set labels or its default key, remove
access entries. Never its tables, never a deletion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from auditor.model import AccessEntry, Dataset, Table
from auditor.remediate.actions.apiforms import entry_from_api, entry_to_api
from auditor.remediate.actions.base import (
    API_ROOT,
    Action,
    ActionKind,
    ApiChange,
    DatasetAction,
    entry_set,
    entry_text,
    labels_text,
)


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
            f"{labels_text(self.labels)}{key} and {len(self.access)} access entr"
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
            and entry_set(current.access) == entry_set(self.access)
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
        return f"set labels {labels_text(self.labels)} on dataset {self.dataset_id}"

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
        listed = "; ".join(entry_text(e) for e in self.entries)
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
