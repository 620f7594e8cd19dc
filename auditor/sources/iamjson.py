"""IAM documents as Google's REST APIs spell them (and gcloud prints them), as model objects.

The live source (iam.py) and the offline exports (exports.py) read the same JSON shapes, so
both go through these functions and give the same Inventory parts for the same data. Each
function takes the JSON value and the JSON pointer where it sits, and raises Malformed with
the pointer of the offending value; the caller turns that into a coverage gap (live) or a
problem with a line number (offline). Keys the auditor does not use are ignored, so a new
field in an API answer changes nothing; a key it uses with the wrong JSON type is Malformed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from auditor.io.jsonpos import Pointer
from auditor.io.jsonwords import json_type, with_article
from auditor.model import (
    Condition,
    CustomRole,
    DenyPolicy,
    DenyRule,
    GroupMembership,
    IamBinding,
    ResourcePolicy,
    RoleStatus,
)

CRM = "cloudresourcemanager.googleapis.com/"
# A deny policy's name: policies/{URL-encoded attachment point}/denypolicies/{id}.
_DENY_NAME_RE = re.compile(r"policies/(?P<attachment>[^/]+)/denypolicies/(?P<id>[^/]+)")
_PROJECT_NUMBER_RE = re.compile(r"projects/(?P<number>[0-9]+)")
# What IAM answers with, for a conditional binding, to a caller that asked for version 1.
_WITHCOND = "_withcond_"
# IAM member prefixes of the identities a Cloud Identity membership can name.
_MEMBER_PREFIX = {"USER": "user:", "SERVICE_ACCOUNT": "serviceAccount:", "GROUP": "group:"}
SERVICE_ACCOUNT_DOMAIN = ".gserviceaccount.com"
DENY_GROUP_PREFIX = "principalSet://goog/group/"


class Malformed(Exception):
    """A JSON value that does not have the shape the API documents."""

    def __init__(self, message: str, pointer: Pointer = ()) -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer


# ---------------------------------------------------------------------------- allow policies


def allow_policy(resource: str, doc: Any, at: Pointer = ()) -> ResourcePolicy:
    """A google.iam.v1.Policy ({version, etag, bindings[]}) attached to resource.

    Raises Malformed for a binding whose role carries `_withcond_`: IAM hides a conditional
    binding that way from a caller that asked for policy version 1, so its condition (and
    true role) are unknown.
    """
    obj = object_at(doc, at, "an IAM policy")
    bindings: list[IamBinding] = []
    for here, item in _items(obj, "bindings", at):
        binding = object_at(item, here, "a binding")
        role = string_at(binding, "role", here)
        if _WITHCOND in role:
            raise Malformed(
                f"role {role!r} is how IAM shows a conditional binding to a policy version 1"
                " read; read the policy with version 3 (gcloud does; the API needs"
                " options.requestedPolicyVersion=3)",
                (*here, "role"),
            )
        members = _strings(binding, "members", here)
        cond = binding.get("condition")
        bindings.append(
            IamBinding(
                role,
                members,
                None if cond is None else condition(cond, (*here, "condition")),
            )
        )
    return ResourcePolicy(resource, tuple(bindings), optional_string_at(obj, "etag", at))


def condition(doc: Any, at: Pointer) -> Condition:
    """A google.type.Expr: {expression, title, description}."""
    obj = object_at(doc, at, "a condition")
    return Condition(
        expression=string_at(obj, "expression", at),
        title=optional_string_at(obj, "title", at),
        description=optional_string_at(obj, "description", at),
    )


def binding_groups(bindings: tuple[IamBinding, ...]) -> Iterator[str]:
    """The email of every group named by a `group:` member (deleted groups excepted)."""
    for binding in bindings:
        for member in binding.members:
            if member.startswith("group:"):
                yield member.removeprefix("group:")


# ---------------------------------------------------------------------------- deny policies


def deny_policy(
    doc: Any,
    at: Pointer = (),
    *,
    project_ids: Mapping[str, str] | None = None,
    rules_required: bool = True,
) -> DenyPolicy:
    """A google.iam.v2.Policy of kind DenyPolicy.

    The attachment point comes from the policy's name, decoded. IAM answers with the
    project number; project_ids (number -> id) turns `projects/NUMBER` into the project id
    the rest of the inventory uses. With rules_required, a policy without `rules` is
    Malformed: `policies.list` (and `gcloud iam policies list`) return metadata only.
    """
    obj = object_at(doc, at, "a deny policy")
    name = string_at(obj, "name", at)
    attachment = deny_attachment(name, (*at, "name"), project_ids or {})
    if "rules" not in obj and rules_required:
        raise Malformed(
            "deny policy has no 'rules': a policy list holds metadata only; read each policy"
            " (policies.get, or `gcloud iam policies get`)",
            at,
        )
    rules: list[DenyRule] = []
    for here, item in _items(obj, "rules", at):
        rule = object_at(item, here, "a policy rule")
        if "denyRule" not in rule:
            raise Malformed("policy rule has no 'denyRule' (an unknown kind of rule)", here)
        rules.append(deny_rule(rule["denyRule"], (*here, "denyRule")))
    return DenyPolicy(attachment=attachment, name=name, rules=tuple(rules))


def deny_rule(doc: Any, at: Pointer) -> DenyRule:
    obj = object_at(doc, at, "a deny rule")
    cond = obj.get("denialCondition")
    return DenyRule(
        denied_principals=_strings(obj, "deniedPrincipals", at),
        denied_permissions=_strings(obj, "deniedPermissions", at),
        exception_principals=_strings(obj, "exceptionPrincipals", at),
        exception_permissions=_strings(obj, "exceptionPermissions", at),
        condition=None if cond is None else condition(cond, (*at, "denialCondition")),
    )


def deny_attachment(name: str, at: Pointer, project_ids: Mapping[str, str]) -> str:
    """`cloudresourcemanager.googleapis.com/projects/P` from a deny policy's name."""
    match = _DENY_NAME_RE.fullmatch(name)
    if match is None:
        raise Malformed(
            f"{name!r} is not a deny policy name (policies/ATTACHMENT/denypolicies/ID)", at
        )
    attachment = unquote(match["attachment"])
    if not attachment.startswith(CRM):
        raise Malformed(f"deny policy attached to {attachment!r}, not a Resource Manager", at)
    resource = attachment.removeprefix(CRM)
    number = _PROJECT_NUMBER_RE.fullmatch(resource)
    if number is not None and number["number"] in project_ids:
        resource = f"projects/{project_ids[number['number']]}"
    return CRM + resource


def deny_list_parent(resource: str) -> str:
    """The policies.list parent for a resource's deny policies (`/` written as %2F)."""
    return f"policies/{(CRM + resource).replace('/', '%2F')}/denypolicies"


def deny_groups(policies: tuple[DenyPolicy, ...]) -> Iterator[str]:
    """The email of every group a deny rule names (denied or excepted)."""
    for policy in policies:
        for rule in policy.rules:
            for principal in (*rule.denied_principals, *rule.exception_principals):
                if principal.startswith(DENY_GROUP_PREFIX):
                    yield principal.removeprefix(DENY_GROUP_PREFIX)


# ---------------------------------------------------------------------------- groups


def membership(
    group: str, doc: Any, at: Pointer, *, is_group: Callable[[str], bool] = lambda _: False
) -> GroupMembership | None:
    """A Cloud Identity Membership as an IAM member of group; None for a shared drive.

    `type` is in the FULL view only. Without it, a service account is known by its domain
    and a group by is_group; anything else is Malformed, since a nested group taken for a
    user would hide its members.
    """
    obj = object_at(doc, at, "a membership")
    key_at = (*at, "preferredMemberKey")
    key = object_at(obj.get("preferredMemberKey"), key_at, "an entity key")
    email = string_at(key, "id", key_at)
    namespace = optional_string_at(key, "namespace", key_at)
    if namespace:
        raise Malformed(
            f"member {email!r} is an identity of {namespace!r}, not a Google account", key_at
        )
    kind = optional_string_at(obj, "type", at)
    if kind is None:
        if email.endswith(SERVICE_ACCOUNT_DOMAIN):
            kind = "SERVICE_ACCOUNT"
        elif is_group(email):
            kind = "GROUP"
        else:
            raise Malformed(
                f"membership of {email!r} has no 'type', so it may be a user or a nested"
                " group; list memberships with the FULL view (gcloud: --view=full)",
                at,
            )
    if kind == "SHARED_DRIVE":
        return None  # a shared drive holds no IAM identity
    prefix = _MEMBER_PREFIX.get(kind)
    if prefix is None:
        raise Malformed(f"membership of {email!r} has type {kind!r}, not an IAM identity", at)
    return GroupMembership(group=group, member=prefix + email)


# ---------------------------------------------------------------------------- roles, accounts


def custom_role(doc: Any, at: Pointer, *, permissions_required: bool) -> CustomRole | None:
    """An iam.v1 Role; None for a deleted role (its bindings grant nothing).

    The API leaves includedPermissions out of the BASIC view and out of an empty role. With
    permissions_required (a file, whose view is unknown) a role without it is Malformed.
    """
    obj = object_at(doc, at, "a role")
    name = string_at(obj, "name", at)
    deleted = obj.get("deleted", False)
    if not isinstance(deleted, bool):
        raise _wrong_type((*at, "deleted"), "a boolean", deleted)
    if deleted:
        return None
    if permissions_required and "includedPermissions" not in obj:
        raise Malformed(
            f"role {name!r} has no 'includedPermissions' (a role list holds the BASIC view);"
            " read it with view FULL (`gcloud iam roles describe`), or write"
            ' "includedPermissions": [] for a role without permissions',
            at,
        )
    return CustomRole(name=name, permissions=_strings(obj, "includedPermissions", at))


def looked_up_role(doc: Any, name: str, at: Pointer = ()) -> CustomRole:
    """An iam.v1 Role as `roles.get` answers (and `gcloud iam roles describe` prints) it, for
    the role `name`: its permissions, or DELETED when the role is marked deleted. The API
    leaves includedPermissions out of a role without permissions."""
    obj = object_at(doc, at, "a role")
    found = string_at(obj, "name", at)
    if found != name:
        raise Malformed(f"expected the role {name!r}, got {found!r}", (*at, "name"))
    deleted = obj.get("deleted", False)
    if not isinstance(deleted, bool):
        raise _wrong_type((*at, "deleted"), "a boolean", deleted)
    if deleted:
        return CustomRole(name, (), RoleStatus.DELETED, "marked deleted")
    return CustomRole(name=name, permissions=_strings(obj, "includedPermissions", at))


def service_account_email(doc: Any, at: Pointer) -> str:
    """The email of an iam.v1 ServiceAccount."""
    return string_at(object_at(doc, at, "a service account"), "email", at)


def service_account_resource(project: str, email: str) -> str:
    return f"projects/{project}/serviceAccounts/{email}"


# ---------------------------------------------------------------------------- gcloud lists


ANCESTOR_KINDS = {"project": "projects/", "folder": "folders/", "organization": "organizations/"}


def ancestry(value: Any) -> list[str]:
    """`gcloud projects get-ancestors --format=json`: [{id, type}], nearest first: the
    project, its folders, its organization."""
    if not isinstance(value, list) or not value:
        raise Malformed("expected the non-empty array gcloud projects get-ancestors prints")
    ancestry: list[str] = []
    last = len(value) - 1
    for index, item in enumerate(value):
        at: Pointer = (index,)
        ancestor = object_at(item, at, "an ancestor")
        kind = string_at(ancestor, "type", at)
        ident = string_at(ancestor, "id", at)
        if index == 0:
            expected = "project"
        elif index == last:
            expected = "organization" if kind != "folder" else "folder"
        else:
            expected = "folder"
        if kind != expected:
            raise Malformed(f"ancestor {index + 1} is of type {kind!r}, expected {expected!r}", at)
        if not ident or "/" in ident:
            raise Malformed(f"ancestor {index + 1} has the id {ident!r}", (*at, "id"))
        ancestry.append(ANCESTOR_KINDS[kind] + ident)
    return ancestry


def account_emails(value: Any) -> list[str]:
    """`gcloud iam service-accounts list --format=json`: the accounts' emails."""
    items = list_items(value, "accounts")
    return [service_account_email(item, at) for at, item in items]


def deny_items(value: Any) -> Iterator[tuple[Pointer, Any]]:
    """Policies from an array of policies, a list answer {policies: [...]}, or an array of
    list answers (how gcloud prints a list command's answer)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict) and "policies" in item and "name" not in item:
                yield from list_items(item, "policies", (index,))
            elif not (isinstance(item, dict) and not item):  # `{}`: a list answer with none
                yield (index,), item
        return
    yield from list_items(value, "policies")


# ---------------------------------------------------------------------------- list answers


def list_items(doc: Any, key: str, at: Pointer = ()) -> Iterator[tuple[Pointer, Any]]:
    """(pointer, item) of the items of an API list answer ({key: [...]}), or of a JSON array
    of them (gcloud prints the items of a list as an array)."""
    if isinstance(doc, list):
        yield from (((*at, index), item) for index, item in enumerate(doc))
        return
    yield from _items(object_at(doc, at, f"an object with {key!r} or an array"), key, at)


# ---------------------------------------------------------------------------- JSON types


def object_at(value: Any, at: Pointer, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"expected {what} (an object), got {_shown(value)}", at)
    return value


def _items(obj: Mapping[str, Any], key: str, at: Pointer) -> Iterator[tuple[Pointer, Any]]:
    value = obj.get(key, [])  # the APIs leave empty lists out
    if not isinstance(value, list):
        raise _wrong_type((*at, key), "an array", value)
    for index, item in enumerate(value):
        yield (*at, key, index), item


def string_at(obj: Mapping[str, Any], key: str, at: Pointer) -> str:
    if key not in obj:
        raise Malformed(f"missing {key!r}", at)
    value = obj[key]
    if not isinstance(value, str):
        raise _wrong_type((*at, key), "a string", value)
    return value


def optional_string_at(obj: Mapping[str, Any], key: str, at: Pointer) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _wrong_type((*at, key), "a string", value)
    return value


def _strings(obj: Mapping[str, Any], key: str, at: Pointer) -> tuple[str, ...]:
    out: list[str] = []
    for here, item in _items(obj, key, at):
        if not isinstance(item, str):
            raise _wrong_type(here, "a string", item)
        out.append(item)
    return tuple(out)


def _wrong_type(at: Pointer, wanted: str, value: Any) -> Malformed:
    name = ".".join(str(part) for part in at[-1:]) or "value"
    return Malformed(f"{name}: expected {wanted}, got {_shown(value)}", at)


def _shown(value: Any) -> str:
    return with_article(json_type(value))
