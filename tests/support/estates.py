"""Offline export folders (docs/offline-exports.md) written from a compact description, for
tests that scan or explain a whole estate through the CLI.

    estate = ExportEstate(project="p", number="123")
    estate.bind("projects/p", "roles/bigquery.dataViewer", "group:analysts@x.example")
    estate.dataset("customers", [("groupByEmail", "admins@x.example", "OWNER")])
    estate.group("analysts@x.example", ["user:alice@x.example"])
    estate.write(tmp_path / "exports")

The files are what gcloud and bq print (the shapes of tests/data/exports): ancestry, project,
project/folder/organization IAM, deny policies, custom roles, service accounts and their
IAM, group memberships (full view), datasets, tables and their IAM. Everything the layout
needs is written (empty when not described), so an estate loads without a coverage gap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Binding = dict[str, Any]

_MEMBER_TYPES = {"user": "USER", "serviceAccount": "SERVICE_ACCOUNT", "group": "GROUP"}


@dataclass
class ExportEstate:
    project: str = "gac-prod-471220"
    number: str = "612345678901"
    folder: str = "615723004981"
    org: str = "482910375812"
    policies: dict[str, list[Binding]] = field(default_factory=dict)
    datasets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tables: dict[tuple[str, str], list[Binding]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    accounts: dict[str, list[Binding]] = field(default_factory=dict)
    custom_roles: list[dict[str, Any]] = field(default_factory=list)
    role_files: dict[str, Any] = field(default_factory=dict)  # roles/NAME.json -> content
    deny: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ancestry(self) -> list[str]:
        return [f"projects/{self.project}", f"folders/{self.folder}", f"organizations/{self.org}"]

    def bind(self, resource: str, role: str, *members: str, condition: str | None = None) -> None:
        """A binding on projects/P, folders/F or organizations/O (or a service account's
        policy, `serviceAccount:EMAIL`)."""
        binding: Binding = {"members": list(members), "role": role}
        if condition is not None:
            binding["condition"] = {"expression": condition, "title": "test condition"}
        if resource.startswith("serviceAccount:"):
            self.accounts.setdefault(resource.removeprefix("serviceAccount:"), []).append(binding)
        else:
            self.policies.setdefault(resource, []).append(binding)

    def dataset(self, name: str, access: list[tuple[str, str, str | None]]) -> None:
        """access: (kind, entity, role) as bq prints an entry: kind is userByEmail,
        groupByEmail, domain, specialGroup, iamMember or view (entity P.D.T, role None)."""
        entries: list[dict[str, Any]] = []
        for kind, entity, role in access:
            if kind == "view":
                p, d, t = entity.split(".")
                entries.append({"view": {"projectId": p, "datasetId": d, "tableId": t}})
            else:
                entries.append({kind: entity, "role": role})
        self.datasets[name] = entries

    def table(self, dataset: str, name: str, *bindings: Binding) -> None:
        self.tables[(dataset, name)] = list(bindings)

    def group(self, email: str, members: list[str]) -> None:
        self.groups[email] = members

    def account(self, email: str) -> None:
        self.accounts.setdefault(email, [])

    def write(self, folder: Path) -> Path:
        for sub in ("folders", "service-accounts", "groups", "datasets", "tables", "table-iam"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        ancestry = [
            {"id": self.project, "type": "project"},
            {"id": self.folder, "type": "folder"},
            {"id": self.org, "type": "organization"},
        ]
        _dump(folder / "ancestry.json", ancestry)
        _dump(folder / "project.json", {"projectId": self.project, "projectNumber": self.number})
        files = {
            f"projects/{self.project}": "project-iam.json",
            f"folders/{self.folder}": f"folders/{self.folder}-iam.json",
            f"organizations/{self.org}": "org-iam.json",
        }
        for resource, rel in files.items():
            _dump(folder / rel, {"bindings": self.policies.get(resource, []), "version": 3})
        _dump(folder / "deny-policies.json", self.deny)
        _dump(folder / "custom-roles.json", self.custom_roles)
        _dump(folder / "service-accounts.json", [{"email": e} for e in sorted(self.accounts)])
        for email, bindings in self.accounts.items():
            _dump(folder / "service-accounts" / f"{email}-iam.json", {"bindings": bindings})
        for email, members in self.groups.items():
            _dump(folder / "groups" / f"{email}.json", [_membership(m) for m in members])
        for name, access in self.datasets.items():
            _dump(folder / "datasets" / f"{name}.json", self._dataset(name, access))
        for (dataset, name), bindings in self.tables.items():
            _dump(folder / "tables" / f"{dataset}.{name}.json", self._table(dataset, name))
            _dump(folder / "table-iam" / f"{dataset}.{name}.json", {"bindings": bindings})
        if self.role_files:
            (folder / "roles").mkdir(exist_ok=True)
            for name, content in self.role_files.items():
                path = folder / "roles" / f"{name.removeprefix('roles/')}.json"
                if isinstance(content, str):
                    path.write_text(content, encoding="utf-8")
                else:
                    _dump(path, content)
        return folder

    def _dataset(self, name: str, access: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "access": access,
            "datasetReference": {"datasetId": name, "projectId": self.project},
            "id": f"{self.project}:{name}",
            "kind": "bigquery#dataset",
            "labels": {"dataset_role": "customers" if name == "customers" else "tenant"},
            "location": "EU",
        }

    def _table(self, dataset: str, name: str) -> dict[str, Any]:
        return {
            "id": f"{self.project}:{dataset}.{name}",
            "kind": "bigquery#table",
            "schema": {"fields": [{"mode": "REQUIRED", "name": "customer_id", "type": "STRING"}]},
            "tableReference": {"datasetId": dataset, "projectId": self.project, "tableId": name},
            "type": "TABLE",
        }


def _membership(member: str) -> dict[str, Any]:
    kind, _, email = member.partition(":")
    return {"preferredMemberKey": {"id": email}, "type": _MEMBER_TYPES[kind]}


def _dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
