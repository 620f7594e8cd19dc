"""What a remediator says: small intents the planner merges into actions, manual steps, and
the context they are decided in (the inventory, the desired state, the endpoint). Pure."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from auditor.model import AccessEntry, Dataset, Inventory, Table, TableSchema
from auditor.remediate.actions import IamMemberGrant, NewColumn
from auditor.remediate.desired import (
    CUSTOMERS_DATASET,
    ROLE_LABEL,
    DatasetRole,
    DesiredState,
)

# ----------------------------------------------------------------------------- intents


@dataclass(frozen=True)
class RemoveEntry:
    dataset: str
    entry: AccessEntry
    reason: str


@dataclass(frozen=True)
class SetLabel:
    dataset: str
    key: str
    value: str


@dataclass(frozen=True)
class SetKey:
    dataset: str
    key: str


@dataclass(frozen=True)
class NewDataset:
    dataset: str
    role: DatasetRole
    labels: tuple[tuple[str, str], ...]
    key: str | None
    description: str


@dataclass(frozen=True)
class NewTable:
    dataset: str
    template: TableSchema
    key: str | None


@dataclass(frozen=True)
class AddColumn:
    dataset: str
    table: str
    column: NewColumn


@dataclass(frozen=True)
class RemoveIam:
    dataset: str
    table: str
    grant: IamMemberGrant


@dataclass(frozen=True)
class Manual:
    resource: str
    title: str
    why: str
    steps: tuple[str, ...]


Intent = RemoveEntry | SetLabel | SetKey | NewDataset | NewTable | AddColumn | RemoveIam


@dataclass
class Context:
    inventory: Inventory
    desired: DesiredState
    datasets: dict[str, Dataset]
    tables: dict[tuple[str, str], Table]
    intents: list[tuple[Intent | Manual, str | None]] = field(default_factory=list)
    endpoint: str | None = None  # where the estate was read (None: Google's API)

    @classmethod
    def build(
        cls, inventory: Inventory, desired: DesiredState, endpoint: str | None = None
    ) -> Context:
        project = desired.project
        return cls(
            inventory,
            desired,
            {d.dataset_id: d for d in inventory.datasets if d.project == project},
            {(t.dataset_id, t.table_id): t for t in inventory.live_tables if t.project == project},
            endpoint=endpoint,
        )

    def auditor_command(self, *words: str) -> str:
        """An `auditor` command line for this project and endpoint, ready to paste."""
        where = ["--project", self.desired.project]
        if self.endpoint is not None:
            where += ["--endpoint", self.endpoint]
        return " ".join(shell_word(w) for w in ("auditor", *words, *where))

    def add(self, intent: Intent | Manual, fingerprint: str | None) -> None:
        self.intents.append((intent, fingerprint))

    def manual(
        self, fingerprint: str | None, resource: str, title: str, why: str, *steps: str
    ) -> None:
        self.add(Manual(resource, title, why, tuple(steps)), fingerprint)

    def role(self, dataset_id: str) -> DatasetRole:
        ds = self.datasets.get(dataset_id)
        labels = ds.labels if ds else {}
        if dataset_id == CUSTOMERS_DATASET or labels.get(ROLE_LABEL) == "customers":
            return DatasetRole.CUSTOMERS
        if labels.get(ROLE_LABEL) == "tenant":
            return DatasetRole.TENANT
        return DatasetRole.OTHER

    def tables_of(self, dataset_id: str) -> list[Table]:
        return [t for (d, _), t in sorted(self.tables.items()) if d == dataset_id]


def shell_word(text: str) -> str:
    """One shell word: names come from the estate, and a manual step is meant to be pasted."""
    return shlex.quote(text)
