"""The live side as the applier sees it: resource states, the Estate interface, and how a
state is compared with what the plan (or the journal) expects.

A precondition is compared by etag when both sides have one, else by the content digest of
what the plan saw (actions/digests.py), and for IAM actions by the IAM policy's digest. A
difference is a Drift; drifts before a write are a StalePlan, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from auditor.detect.values import redact_secrets
from auditor.errors import AuditorError
from auditor.gcp.wording import describe
from auditor.model import Dataset, Table
from auditor.remediate.actions import (
    Precondition,
    RemoveAccessEntries,
    dataset_digest,
    entry_from_api,
    iam_digest,
    table_digest,
)
from auditor.sources.scrub import scrub_api_fields, scrub_labels

# ----------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Drift:
    """A resource that is not what the plan (or the journal) expected."""

    resource: str
    reason: str

    @property
    def dataset(self) -> str:
        return self.resource.split("/datasets/", 1)[-1].replace("/tables/", ".")


class StalePlan(AuditorError):
    """The estate changed since the plan was made; nothing (more) was written."""

    def __init__(self, drifts: Sequence[Drift]) -> None:
        self.drifts = tuple(drifts)
        listed = "; ".join(f"{d.dataset}: {d.reason}" for d in self.drifts)
        super().__init__(
            f"the plan is stale, the estate changed since it was made ({listed}); "
            "nothing was changed for it: make a new plan"
        )


class ApplyError(AuditorError):
    """An action failed mid-way; the journal says what is done. Re-running converges."""


# ----------------------------------------------------------------------------- live states


@dataclass(frozen=True)
class DatasetState:
    raw: Mapping[str, Any]  # datasets.get answer
    model: Dataset


@dataclass(frozen=True)
class TableState:
    raw: Mapping[str, Any]  # tables.get answer
    model: Table  # iam filled when the policy was read
    policy: Mapping[str, Any] | None = None  # getIamPolicy answer (version 3), when read


class Estate(Protocol):
    """The live side, as the applier needs it. BigQueryEstate implements it over a client."""

    def get_dataset(self, project: str, dataset_id: str) -> DatasetState | None: ...
    def get_table(
        self, project: str, dataset_id: str, table_id: str, *, iam: bool
    ) -> TableState | None: ...
    def insert_dataset(self, project: str, body: Mapping[str, Any]) -> None: ...
    def patch_dataset(
        self, project: str, dataset_id: str, body: Mapping[str, Any], etag: str | None
    ) -> None: ...
    def insert_table(self, project: str, dataset_id: str, body: Mapping[str, Any]) -> None: ...
    def patch_table(
        self,
        project: str,
        dataset_id: str,
        table_id: str,
        body: Mapping[str, Any],
        etag: str | None,
    ) -> None: ...
    def set_table_iam(
        self, project: str, dataset_id: str, table_id: str, policy: Mapping[str, Any]
    ) -> None: ...
    def delete_table(self, project: str, dataset_id: str, table_id: str) -> None: ...
    def delete_empty_dataset(self, project: str, dataset_id: str) -> None: ...
    def values_in(self, project: str, dataset_id: str, table_id: str, column: str) -> int: ...
    def drop_column(self, project: str, dataset_id: str, table_id: str, column: str) -> None: ...


@dataclass(frozen=True)
class Seen:
    """What a resource looks like now, as preconditions compare it."""

    exists: bool
    etag: str | None = None
    sha256: str | None = None
    iam_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Seen:
        return cls(raw["exists"], raw.get("etag"), raw.get("sha256"), raw.get("iam_sha256"))

    @classmethod
    def of(cls, pre: Precondition) -> Seen:
        return cls(pre.exists, pre.etag, pre.sha256, pre.iam_sha256)


def seen_dataset(state: DatasetState | None) -> Seen:
    if state is None:
        return Seen(False)
    return Seen(True, state.model.etag, dataset_digest(state.model))


def seen_table(state: TableState | None) -> Seen:
    if state is None:
        return Seen(False)
    iam = iam_digest(state.model.iam) if state.model.iam is not None else None
    return Seen(True, str_or_none(state.raw.get("etag")), table_digest(state.model), iam)


def compare(expected: Seen, current: Seen) -> str | None:
    """Why `current` is not `expected`; None when it is. Etags decide when both sides have
    one, else the content digests (and the IAM digest when the expectation has one)."""
    if expected.exists != current.exists:
        return "it exists now" if current.exists else "it no longer exists"
    if not current.exists:
        return None
    if expected.etag and current.etag:
        if expected.etag != current.etag:
            return f"etag {current.etag} is not the planned {expected.etag}"
    elif expected.sha256 and expected.sha256 != current.sha256:
        return "its content (access, labels, key or schema) differs from the planned state"
    if expected.iam_sha256 and current.iam_sha256 and expected.iam_sha256 != current.iam_sha256:
        return "its IAM policy differs from the planned one"
    return None


def seen_of(state: Any) -> Seen:
    if isinstance(state, TableState):
        return seen_table(state)
    if isinstance(state, DatasetState):
        return seen_dataset(state)
    return Seen(False)


def journal_state(state: Any) -> dict[str, Any]:
    """What the journal keeps of a resource: enough to undo and to audit the change."""
    if isinstance(state, DatasetState):
        raw = state.raw
        return {
            "exists": True,
            "etag": raw.get("etag"),
            "access": list(raw.get("access") or []),
            # Scrubbed: the journal is no place for a secret pasted into a label.
            "labels": scrub_labels(raw.get("labels") or {}),
            "default_kms_key": state.model.default_kms_key,
            "location": raw.get("location"),
        }
    if isinstance(state, TableState):
        raw = state.raw
        out: dict[str, Any] = {
            "exists": True,
            "etag": raw.get("etag"),
            "schema": scrub_api_fields(raw.get("schema", {}).get("fields") or []),
            "kms_key": state.model.kms_key,
            "num_rows": raw.get("numRows"),
        }
        if state.policy is not None:
            out["iam"] = list(state.policy.get("bindings") or [])
        return out
    return {"exists": False}


def removes_entry(action: RemoveAccessEntries, raw: Mapping[str, Any]) -> bool:
    try:
        return entry_from_api(raw) in action.entries
    except Exception:  # an entry we cannot read is never one we remove
        return False


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def describe_error(exc: BaseException) -> str:
    """A failed call worded as the collector words its gaps (secrets a server quoted
    redacted)."""
    return describe(exc, scrub=redact_secrets)


__all__ = [
    "ApplyError",
    "DatasetState",
    "Drift",
    "Estate",
    "Seen",
    "StalePlan",
    "TableState",
    "compare",
    "journal_state",
    "seen_dataset",
    "seen_of",
    "seen_table",
]
