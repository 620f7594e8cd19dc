"""Offline exports: the live IAM and BigQuery parts of an Inventory, from gcloud and bq output.

For an estate the auditor cannot call (no network, or no read access of its own), an
administrator runs the gcloud and bq commands of docs/offline-exports.md and hands over the
folder. load_exports(folder) reads it into the same Inventory parts the live sources give
for the same data (auditor.sources.iam for IAM, auditor.sources.bigquery for datasets and
tables): the JSON shapes are the APIs' own, and the same converters read them.

Every file is parsed with jsonpos, so a problem names the file and the line. A bad file is a
Problem and a CoverageGap for what it describes, and the rest still loads. A file the
layout expects but the folder lacks is a CoverageGap (e.g. the IAM policy of a folder in
ancestry.json, the members of a group some binding names, the IAM policy of a table), never
an empty result. A file the layout does not know is a Problem, so a misspelt name is not
silently skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from auditor import limits
from auditor.errors import InputError
from auditor.io.files import UnreadableFile, read_text_bounded, relative, walk_files
from auditor.io.jsonpos import Pointer, Positioned, parse_json
from auditor.io.jsonwords import did_you_mean
from auditor.model import (
    CoverageGap,
    CustomRole,
    Dataset,
    DenyPolicy,
    GranteeKind,
    GroupMembership,
    InputFile,
    Inventory,
    Problem,
    ResourcePolicy,
    RoleStatus,
    Table,
    dataset_resource,
    table_resource_name,
)
from auditor.sources import iamjson
from auditor.sources.bqconvert import dataset_from_api, iam_from_api, table_from_api
from auditor.sources.iamjson import CRM, Malformed

T = TypeVar("T")

MAX_EXPORT_BYTES = limits.MAX_EXPORT_BYTES

ANCESTRY = "ancestry.json"
PROJECT = "project.json"
PROJECT_IAM = "project-iam.json"
ORG_IAM = "org-iam.json"
DENY_POLICIES = "deny-policies.json"
CUSTOM_ROLES = "custom-roles.json"
SERVICE_ACCOUNTS = "service-accounts.json"
TOP_LEVEL = (ANCESTRY, PROJECT, PROJECT_IAM, ORG_IAM, DENY_POLICIES, CUSTOM_ROLES, SERVICE_ACCOUNTS)

_FOLDER_IAM_RE = re.compile(r"folders/(?P<id>[0-9]+)-iam\.json")
_ACCOUNT_IAM_RE = re.compile(r"service-accounts/(?P<email>[^/]+@[^/]+)-iam\.json")
_GROUP_RE = re.compile(r"groups/(?P<email>[^/]+@[^/]+)\.json")
_DATASET_RE = re.compile(r"datasets/(?P<dataset>[^/.]+)\.json")
# Dataset ids have no dots; table ids may not either, but the first dot is the separator.
_TABLE_RE = re.compile(r"tables/(?P<dataset>[^/.]+)\.(?P<table>[^/]+)\.json")
_TABLE_IAM_RE = re.compile(r"table-iam/(?P<dataset>[^/.]+)\.(?P<table>[^/]+)\.json")
# `gcloud iam roles describe roles/NAME`: a predefined role's definition (today's, from IAM).
_ROLE_RE = re.compile(r"roles/(?P<name>[^/]+)\.json")
_LAYOUT = (
    _FOLDER_IAM_RE,
    _ACCOUNT_IAM_RE,
    _GROUP_RE,
    _DATASET_RE,
    _TABLE_RE,
    _TABLE_IAM_RE,
    _ROLE_RE,
)
_NOTES = (".md", ".txt")  # a README beside the exports is fine
# The BigQuery converters raise their own Malformed (a ValueError); these too mean "bad data".
_CONVERSION_ERRORS = (ValueError, TypeError, KeyError, AttributeError)
_ENTRY_RE = re.compile(r"access entry #([0-9]+) ")  # how dataset_from_api names an entry


@dataclass(frozen=True)
class ExportLoad:
    """What an export folder holds, in the order the live sources use (see IamCollection)."""

    project: str | None
    ancestry: tuple[str, ...]
    iam_policies: tuple[ResourcePolicy, ...]
    deny_policies: tuple[DenyPolicy, ...]
    group_memberships: tuple[GroupMembership, ...]
    custom_roles: tuple[CustomRole, ...]
    datasets: tuple[Dataset, ...]
    tables: tuple[Table, ...]
    problems: tuple[Problem, ...]
    gaps: tuple[CoverageGap, ...]
    inputs: tuple[InputFile, ...]

    def into(self, inventory: Inventory) -> Inventory:
        """inventory with the live parts taken from the exports; problems, gaps and inputs
        added to its own."""
        return replace(
            inventory,
            project=self.project if self.project is not None else inventory.project,
            datasets=self.datasets,
            live_tables=self.tables,
            ancestry=self.ancestry,
            iam_policies=self.iam_policies,
            deny_policies=self.deny_policies,
            group_memberships=self.group_memberships,
            custom_roles=self.custom_roles,
            problems=inventory.problems + self.problems,
            gaps=inventory.gaps + self.gaps,
            inputs=inventory.inputs + self.inputs,
        )


def load_exports(folder: Path) -> ExportLoad:
    """Read an export folder (layout in docs/offline-exports.md). Never raises for a bad or
    missing file (a problem and a coverage gap); InputError when folder is not a readable
    directory."""
    return _Loader(folder).load()


# ---------------------------------------------------------------------------- loading


class _Loader:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = {relative(path, folder): path for path in walk_files(folder, _keep)}
        self.claimed: set[str] = set()
        self.ignored: dict[str, str] = {}  # rel -> why a layout file was not used
        self.problems: list[Problem] = []
        self.gaps: list[CoverageGap] = []
        self.inputs: list[InputFile] = []
        self.project: str | None = None
        self.scope = folder.as_posix()  # the project's name once known

    def load(self) -> ExportLoad:
        described = self.read(PROJECT, self.scope)  # optional: the project number
        ancestry = self.ancestry(described)
        project_ids = self.project_numbers(described)
        policies = [p for p in map(self.allow_policy, ancestry) if p is not None]
        policies += self.account_policies()
        deny = self.deny_policies(ancestry, project_ids)
        roles = self.custom_roles(ancestry) + self.predefined_roles()
        datasets = self.datasets()
        tables = self.tables({d.resource for d in datasets})
        seeds = [g for p in policies for g in iamjson.binding_groups(p.bindings)]
        seeds += [g for t in tables for g in iamjson.binding_groups(t.iam or ())]
        seeds += iamjson.deny_groups(tuple(deny))
        seeds += [a.entity for d in datasets for a in d.access if a.kind is GranteeKind.GROUP]
        memberships = self.groups(seeds)
        self.leftovers()
        return ExportLoad(
            project=self.project,
            ancestry=tuple(ancestry),
            iam_policies=tuple(policies),
            deny_policies=tuple(deny),
            group_memberships=tuple(sorted(set(memberships), key=_membership_key)),
            custom_roles=tuple(sorted(roles, key=lambda r: r.name)),
            datasets=tuple(sorted(datasets, key=lambda d: (d.project, d.dataset_id))),
            tables=tuple(sorted(tables, key=lambda t: (t.project, t.dataset_id, t.table_id))),
            problems=tuple(self.problems),
            gaps=tuple(self.gaps),
            inputs=tuple(sorted(self.inputs, key=lambda i: i.path)),
        )

    # -- files

    def read(self, rel: str, scope: str) -> Positioned | None:
        """The parsed file, or None when it is missing (the caller says what that means) or
        unreadable (then a problem and a gap for scope)."""
        path = self.files.get(rel)
        if path is None:
            return None
        self.claimed.add(rel)
        self.inputs.append(InputFile(rel, _sha256(path)))
        try:
            text = read_text_bounded(path, MAX_EXPORT_BYTES, "export file")
            return parse_json(text, rel, max_bytes=MAX_EXPORT_BYTES)
        except UnreadableFile as exc:
            self.bad(rel, scope, exc.message, exc.line)
        except InputError as exc:
            self.bad(rel, scope, exc.detail, exc.line)
        return None

    def bad(self, rel: str, scope: str, message: str, line: int | None) -> None:
        problem = Problem(rel, message, line, unread=True)
        self.problems.append(problem)
        self.gaps.append(CoverageGap(scope, f"export {problem}"))

    def malformed(self, rel: str, doc: Positioned, exc: Malformed, scope: str) -> None:
        self.bad(rel, scope, exc.message, doc.line_of(exc.pointer))

    def missing(self, scope: str, rel: str, what: str) -> None:
        self.gaps.append(CoverageGap(scope, f"{what} not exported ({rel} missing)"))

    def parse(self, rel: str, scope: str, what: str, convert: Callable[[Any], T]) -> T | None:
        """convert(document) for a file that must be there; None (and a gap) otherwise."""
        doc = self.read(rel, scope)
        if doc is None:
            if rel not in self.files:
                self.missing(scope, rel, what)
            return None
        try:
            return convert(doc.value)
        except Malformed as exc:
            self.malformed(rel, doc, exc, scope)
            return None

    # -- the hierarchy

    def ancestry(self, described: Positioned | None) -> list[str]:
        doc = self.read(ANCESTRY, self.scope)
        if doc is not None:
            try:
                ancestry = iamjson.ancestry(doc.value)
            except Malformed as exc:
                self.malformed(ANCESTRY, doc, exc, self.scope)
            else:
                self.project = ancestry[0].removeprefix("projects/")
                self.scope = ancestry[0]
                return ancestry
        elif ANCESTRY not in self.files:
            self.missing(self.scope, ANCESTRY, "resource hierarchy")
        # Without the hierarchy, project.json can still name the project.
        if described is None:
            return []
        try:
            project = iamjson.object_at(described.value, (), "a project")
            self.project = iamjson.string_at(project, "projectId", ())
        except Malformed as exc:
            self.malformed(PROJECT, described, exc, self.scope)
            return []
        self.scope = f"projects/{self.project}"
        self.gaps.append(
            CoverageGap(self.scope, "resource hierarchy: folders and organization unknown")
        )
        return [self.scope]

    def project_numbers(self, described: Positioned | None) -> dict[str, str]:
        """{number: id} from project.json (deny policy names carry the project number)."""
        if described is None or self.project is None:
            return {}
        try:
            project = iamjson.object_at(described.value, (), "a project")
            project_id = iamjson.string_at(project, "projectId", ())
            number = iamjson.string_at(project, "projectNumber", ())
            if project_id != self.project:
                raise Malformed(
                    f"projectId {project_id!r} is not the project of {ANCESTRY} ({self.project!r})",
                    ("projectId",),
                )
        except Malformed as exc:
            self.malformed(PROJECT, described, exc, self.scope)
            return {}
        return {number: project_id}

    # -- allow policies

    def allow_policy(self, resource: str) -> ResourcePolicy | None:
        kind, _, ident = resource.partition("/")
        files = {"projects": PROJECT_IAM, "organizations": ORG_IAM}
        rel = files.get(kind, f"folders/{ident}-iam.json")
        return self.parse(rel, resource, "IAM policy", partial(iamjson.allow_policy, resource))

    def account_policies(self) -> list[ResourcePolicy]:
        if self.project is None:
            return []
        project = self.project
        listed = iamjson.account_emails
        emails = self.parse(SERVICE_ACCOUNTS, self.scope, "service accounts", listed)
        policies: list[ResourcePolicy] = []
        for email in sorted(emails or ()):
            resource = iamjson.service_account_resource(project, email)
            rel = f"service-accounts/{email}-iam.json"
            read = partial(iamjson.allow_policy, resource)
            policy = self.parse(rel, resource, "IAM policy", read)
            if policy is not None:
                policies.append(policy)
        return policies

    # -- deny policies

    def deny_policies(self, ancestry: list[str], project_ids: dict[str, str]) -> list[DenyPolicy]:
        doc = self.read(DENY_POLICIES, self.scope)
        if doc is None:
            if DENY_POLICIES not in self.files:
                for resource in ancestry:
                    self.missing(resource, DENY_POLICIES, "deny policies")
            return []
        found: dict[str, list[DenyPolicy]] = {resource: [] for resource in ancestry}
        try:
            items = list(iamjson.deny_items(doc.value))
        except Malformed as exc:
            self.malformed(DENY_POLICIES, doc, exc, self.scope)
            return []
        for at, item in items:
            try:
                policy = iamjson.deny_policy(item, at, project_ids=project_ids)
            except Malformed as exc:
                self.malformed(DENY_POLICIES, doc, exc, self.scope)
                continue
            resource = policy.attachment.removeprefix(CRM)
            if resource in found:
                found[resource].append(policy)
            elif resource.startswith("projects/") and resource.removeprefix("projects/").isdigit():
                message = (
                    f"deny policy {policy.name} is attached to {resource}: add {PROJECT}"
                    " (gcloud projects describe) so the project number can be matched"
                )
                self.bad(DENY_POLICIES, self.scope, message, doc.line_of(at))
            else:
                self.problems.append(
                    Problem(
                        DENY_POLICIES,
                        f"deny policy {policy.name} is attached to {resource}, outside"
                        f" {ANCESTRY}; left out",
                        doc.line_of(at),
                    )
                )
        return [p for resource in ancestry for p in sorted(found[resource], key=lambda p: p.name)]

    # -- custom roles

    def custom_roles(self, ancestry: list[str]) -> list[CustomRole]:
        owners = [r for r in ancestry if not r.startswith("folders/")]
        doc = self.read(CUSTOM_ROLES, self.scope)
        if doc is None:
            if CUSTOM_ROLES not in self.files:
                for resource in owners:
                    self.missing(resource, CUSTOM_ROLES, "custom roles")
            return []
        roles: list[CustomRole] = []
        try:
            items = list(iamjson.list_items(doc.value, "roles"))
        except Malformed as exc:
            self.malformed(CUSTOM_ROLES, doc, exc, self.scope)
            return []
        for at, item in items:
            try:
                role = iamjson.custom_role(item, at, permissions_required=True)
            except Malformed as exc:
                self.malformed(CUSTOM_ROLES, doc, exc, self.scope)
                continue
            if role is None:
                continue
            if not any(role.name.startswith(f"{owner}/roles/") for owner in owners):
                self.problems.append(
                    Problem(
                        CUSTOM_ROLES,
                        f"role {role.name} belongs to none of {', '.join(owners) or 'no resource'};"
                        " left out",
                        doc.line_of(at),
                    )
                )
                continue
            roles.append(role)
        return roles

    def predefined_roles(self) -> list[CustomRole]:
        """Every `roles/NAME.json` (gcloud iam roles describe): the definition of a
        predefined role, which wins over the shipped catalog's. A bad file is a problem and
        leaves that role, and only it, unresolved (a gap only where the role is bound in a
        way that could matter: the access graph decides)."""
        roles: list[CustomRole] = []
        for rel in self.layout(_ROLE_RE):
            match = _ROLE_RE.fullmatch(rel)
            assert match is not None
            name = f"roles/{match['name']}"
            path = self.files[rel]
            self.claimed.add(rel)
            self.inputs.append(InputFile(rel, _sha256(path)))
            try:
                text = read_text_bounded(path, MAX_EXPORT_BYTES, "export file")
                doc = parse_json(text, rel, max_bytes=MAX_EXPORT_BYTES)
                role = iamjson.looked_up_role(doc.value, name)
            except UnreadableFile as exc:
                roles.append(self.bad_role(rel, name, exc.message, exc.line))
            except InputError as exc:
                roles.append(self.bad_role(rel, name, exc.detail, exc.line))
            except Malformed as exc:
                roles.append(self.bad_role(rel, name, exc.message, doc.line_of(exc.pointer)))
            else:
                note = f": {role.detail}" if role.detail else ""
                roles.append(replace(role, detail=f"export {rel}{note}"))
        return roles

    def bad_role(self, rel: str, name: str, message: str, line: int | None) -> CustomRole:
        problem = Problem(rel, f"role {name}: {message}", line, unread=True)
        self.problems.append(problem)
        return CustomRole(name, (), RoleStatus.UNRESOLVED, f"export {problem}")

    # -- BigQuery

    def datasets(self) -> list[Dataset]:
        found: list[Dataset] = []
        for rel in self.layout(_DATASET_RE):
            match = _DATASET_RE.fullmatch(rel)
            assert match is not None
            dataset = self.dataset(rel, match["dataset"])
            if dataset is not None:
                found.append(dataset)
        return found

    def dataset(self, rel: str, dataset_id: str) -> Dataset | None:
        scope = dataset_resource(self.project or "?", dataset_id)
        doc = self.read(rel, scope)
        if doc is None:
            return None
        try:
            project, ref_id = _reference(doc.value, "datasetReference", ("projectId", "datasetId"))
            if ref_id != dataset_id:
                raise Malformed(
                    f"datasetReference names {ref_id!r}, the file name {dataset_id!r}",
                    ("datasetReference",),
                )
            dataset, entry_problems = dataset_from_api(doc.value, project, dataset_id)
        except Malformed as exc:
            self.malformed(rel, doc, exc, scope)
            return None
        except _CONVERSION_ERRORS as exc:
            self.bad(rel, scope, f"not a dataset as bq show prints it: {exc}", 1)
            return None
        for message in entry_problems:
            # An entry left out: the dataset's access is not fully known.
            entry = _ENTRY_RE.match(message)
            pointer: Pointer = ("access", int(entry[1]) - 1) if entry else ("access",)
            self.bad(rel, dataset.resource, message, doc.line_of(pointer))
        return dataset

    def tables(self, datasets: set[str]) -> list[Table]:
        found: list[Table] = []
        for rel in self.layout(_TABLE_RE):
            match = _TABLE_RE.fullmatch(rel)
            assert match is not None
            table = self.table(rel, match["dataset"], match["table"])
            if table is None:
                continue
            found.append(table)
            parent = dataset_resource(table.project, table.dataset_id)
            if parent not in datasets and f"datasets/{table.dataset_id}.json" not in self.files:
                self.missing(
                    parent, f"datasets/{table.dataset_id}.json", "dataset (access entries)"
                )
        for rel in self.layout(_TABLE_IAM_RE):
            if rel in self.claimed:
                continue
            if rel.replace("table-iam/", "tables/", 1) in self.files:
                self.claimed.add(rel)  # its table could not be read: that gap covers it
            else:
                self.ignored[rel] = "table IAM for a table without its tables/ file"
        return found

    def table(self, rel: str, dataset_id: str, table_id: str) -> Table | None:
        scope = table_resource_name(self.project or "?", dataset_id, table_id)
        doc = self.read(rel, scope)
        if doc is None:
            return None
        try:
            keys = ("projectId", "datasetId", "tableId")
            project, ref_dataset, ref_table = _reference(doc.value, "tableReference", keys)
            if (ref_dataset, ref_table) != (dataset_id, table_id):
                raise Malformed(
                    f"tableReference names {ref_dataset}.{ref_table}, the file name"
                    f" {dataset_id}.{table_id}",
                    ("tableReference",),
                )
            table = table_from_api(doc.value, project, dataset_id, table_id)
        except Malformed as exc:
            self.malformed(rel, doc, exc, scope)
            return None
        except _CONVERSION_ERRORS as exc:
            self.bad(rel, scope, f"not a table as bq show prints it: {exc}", 1)
            return None
        iam_rel = f"table-iam/{dataset_id}.{table_id}.json"
        iam_doc = self.read(iam_rel, table.resource)
        if iam_doc is None:
            if iam_rel not in self.files:
                self.missing(table.resource, iam_rel, "table IAM policy")
            return table
        try:
            return replace(table, iam=iam_from_api(iam_doc.value))
        except _CONVERSION_ERRORS as exc:
            self.bad(iam_rel, table.resource, f"not an IAM policy: {exc}", 1)
            return table

    # -- groups

    def groups(self, seeds: Iterable[str]) -> list[GroupMembership]:
        """Members from every groups/ file; a gap for each group some binding, deny rule,
        dataset entry or membership names whose file is not there."""
        files = {}
        for rel in self.layout(_GROUP_RE):
            match = _GROUP_RE.fullmatch(rel)
            assert match is not None
            files[match["email"].lower()] = (rel, match["email"])
        read: dict[str, list[GroupMembership]] = {}
        for key, (rel, email) in sorted(files.items()):
            read[key] = self.group(rel, email, lambda e: e.lower() in files)
        queue, seen = deque(seeds), set()
        while queue:
            group = queue.popleft()
            if group.lower() in seen:
                continue
            seen.add(group.lower())
            if group.lower() not in files:
                rel = f"groups/{group}.json"
                self.missing(f"group:{group}", rel, "group members")
                continue
            for found in read[group.lower()]:
                if found.member.startswith("group:"):
                    queue.append(found.member.removeprefix("group:"))
        return [m for members in read.values() for m in members]

    def group(self, rel: str, email: str, is_group: Callable[[str], bool]) -> list[GroupMembership]:
        scope = f"group:{email}"
        doc = self.read(rel, scope)
        if doc is None:
            return []
        members: list[GroupMembership] = []
        try:
            items = list(iamjson.list_items(doc.value, "memberships"))
        except Malformed as exc:
            self.malformed(rel, doc, exc, scope)
            return []
        for at, item in items:
            try:
                found = iamjson.membership(email, item, at, is_group=is_group)
            except Malformed as exc:
                self.malformed(rel, doc, exc, scope)
                continue
            if found is not None:
                members.append(found)
        return members

    # -- the layout

    def layout(self, pattern: re.Pattern[str]) -> list[str]:
        return sorted(rel for rel in self.files if pattern.fullmatch(rel))

    def leftovers(self) -> None:
        """A problem for each file nothing read: unknown names, and layout files that the
        rest of the export does not refer to."""
        for rel in sorted(set(self.files) - self.claimed):
            if rel in self.ignored:
                why = self.ignored[rel]
            elif self.project is None and (rel in TOP_LEVEL or rel.startswith("service-")):
                why = f"the project is unknown ({ANCESTRY} and {PROJECT} missing or bad)"
            elif rel in TOP_LEVEL or any(p.fullmatch(rel) for p in _LAYOUT):
                why = (
                    "nothing else in the export refers to it (e.g. a folder outside ancestry.json)"
                )
            else:
                hint = did_you_mean(rel, TOP_LEVEL) if "/" not in rel else ""
                why = f"not a file of the export layout (docs/offline-exports.md){hint}"
            self.problems.append(Problem(rel, f"ignored: {why}"))


# ---------------------------------------------------------------------------- shapes


def _reference(value: Any, key: str, parts: tuple[str, ...]) -> tuple[str, ...]:
    doc = iamjson.object_at(value, (), "an object")
    ref = iamjson.object_at(doc.get(key), (key,), f"a {key}")
    return tuple(iamjson.string_at(ref, part, (key,)) for part in parts)


def _keep(rel: str) -> bool:
    return not rel.lower().endswith(_NOTES)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 16), b""):
                digest.update(block)
    except OSError:
        return ""  # the read reports it
    return digest.hexdigest()


def _membership_key(m: GroupMembership) -> tuple[str, str]:
    return (m.group.lower(), m.member.lower())
