"""Checks on who can reach the protected datasets, by any path (the access graph).

Only the protected datasets (`protected_datasets` globs, default `customers`) are examined:
GenAI access to tenant datasets is allowed and never reported, except where a tenant dataset
is itself a way into a protected one (an authorized view). Checks have no clock: IAM
conditions bounded in time are decided against the run's evaluation time (the context's),
so an expired grant is no path and a grant that starts later is reported as conditional.

A coverage gap makes a result an ERROR only where it can change that result: a gap that
could hide a path of anyone (a missing policy, an unknown hierarchy), or one whose affected
principals (`AccessGap.affects`: the holders of an unknown role, an unexpanded group) include
one the rule is about and has not already reported. An unknown role held by user:alice
cannot let a GenAI principal read customers; the same role held by an unexpanded group,
allUsers, a domain or a service account a GenAI principal can impersonate can.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from auditor.access.agents import agent_catalog
from auditor.access.explain import cuts
from auditor.access.graph import AccessGraph
from auditor.access.paths import (
    AccessAnswer,
    AccessGap,
    AccessPath,
    Capability,
    GapKind,
    Hop,
    HopKind,
)
from auditor.access.principals import (
    ALL_USERS,
    PUBLIC,
    canonical,
    email,
    genai_domain,
    is_genai,
    is_service_agent,
    stands_for_others,
)
from auditor.model import CheckContext, CheckResult, Dataset, Inventory, Status
from auditor.policy.checks import register
from auditor.policy.rule import Rule

DEFAULT_PROTECTED = ("customers",)
# A broad binding to a big group has a path per member: the evidence keeps the first few.
_BROAD_EXAMPLES = 20
_PERMISSIONS = (
    "bigquery.datasets.get",
    "bigquery.tables.list",
    "bigquery.tables.getIamPolicy",
    "resourcemanager.projects.getIamPolicy",
    "resourcemanager.folders.getIamPolicy",
    "resourcemanager.organizations.getIamPolicy",
    "resourcemanager.projects.get",
    "iam.serviceAccounts.getIamPolicy",
    "iam.denypolicies.list",
    "iam.roles.list",
)

_GLOBS = {"type": "array", "uniqueItems": True, "items": {"type": "string", "minLength": 1}}
_COMMON: Mapping[str, Any] = {
    "protected_datasets": {
        **_GLOBS,
        "description": "fnmatch globs on dataset ids of the protected datasets.",
        "default": list(DEFAULT_PROTECTED),
    },
}


def _schema(**extra: Any) -> Mapping[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {**_COMMON, **extra}}


@register(
    "genai-cannot-reach",
    description=(
        "No GenAI principal (Google's AI service agents, BigQuery connection accounts, the "
        "platform's AI accounts) can read a protected dataset by any path."
    ),
    params_schema=_schema(
        genai_members={
            **_GLOBS,
            "description": "fnmatch patterns on IAM member strings of the platform's own AI "
            "accounts, e.g. serviceAccount:genai-*@PROJECT.iam.gserviceaccount.com.",
        }
    ),
    permissions=_PERMISSIONS,
)
def genai_cannot_reach(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    patterns = tuple(rule.params.get("genai_members", ()))
    graph = AccessGraph.build(inventory, now=context.evaluation_time)

    def could_be_genai(principal: str) -> bool:
        return stands_for_others(principal) or _genai(principal, patterns) is not None

    for ds in _protected(inventory, rule):
        answer = graph.readers(ds.resource)
        reported: set[str] = set()
        for principal, paths in answer.by_principal().items():
            reason = _genai(principal, patterns)
            if reason is None:
                continue
            reported.add(principal)
            for target, group in _by_target(paths).items():
                yield _reach_result(principal, target, group, f"GenAI principal: {reason}")
        relevant = _affecting(could_be_genai, reported)
        yield from _outcome(ds, answer, bool(reported), "no GenAI principal can read it", relevant)


@register(
    "protected-not-public",
    description="allUsers and allAuthenticatedUsers cannot read a protected dataset by any path.",
    params_schema=_schema(),
    permissions=_PERMISSIONS,
)
def protected_not_public(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    graph = AccessGraph.build(inventory, now=context.evaluation_time)
    for ds in _protected(inventory, rule):
        answer = graph.readers(ds.resource)
        public = {p: paths for p, paths in answer.by_principal().items() if p in PUBLIC}
        for principal, paths in public.items():
            who = "anyone" if principal == ALL_USERS else "anyone with a Google account"
            for target, group in _by_target(paths).items():
                yield _reach_result(principal, target, group, f"public: {who}")
        # A public principal is never hidden inside a group or a domain.
        relevant = _affecting(lambda p: p in PUBLIC, set(public))
        yield from _outcome(ds, answer, bool(public), "it is not public by any path", relevant)


@register(
    "no-broad-project-data-roles",
    description=(
        "No project, folder or organization binding of a role that reads table data (directly, "
        "or through the projectReaders/Writers/Owners entries of the access list) reaches a "
        "protected dataset, except for the allowed platform admin members."
    ),
    params_schema=_schema(
        allowed_members={
            **_GLOBS,
            "description": "fnmatch patterns on IAM members whose broad bindings are expected "
            "(platform admin groups).",
        }
    ),
    permissions=_PERMISSIONS,
)
def no_broad_project_data_roles(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    allowed = [canonical(p) for p in rule.params.get("allowed_members", ())]
    graph = AccessGraph.build(inventory, now=context.evaluation_time)
    for ds in _protected(inventory, rule):
        answer = graph.readers(ds.resource)
        broad: dict[str, dict[tuple[str, str], list[AccessPath]]] = {}
        for path in answer.paths:
            for hop in _broad_hops(path):
                if not _listed(hop.member, allowed):
                    where = hop.policy or hop.subject
                    broad.setdefault(hop.member, {}).setdefault((where, hop.detail), []).append(
                        path
                    )
        for member, bindings in sorted(broad.items()):
            listed = ", ".join(f"{role} on {where}" for where, role in sorted(bindings))
            paths = sorted({p for ps in bindings.values() for p in ps}, key=AccessPath.sort_key)
            yield CheckResult(
                status=Status.FAIL,
                resource=ds.resource,
                principal=member,
                message=(
                    f"{member} reads dataset {ds.dataset_id} through a project-wide binding "
                    f"({listed}), not a grant on the dataset"
                ),
                evidence={
                    "bindings": [{"resource": w, "role": r} for w, r in sorted(bindings)],
                    "paths_total": len(paths),
                    **_path_evidence(paths[:_BROAD_EXAMPLES]),
                },
            )
        yield from _outcome(
            ds, answer, bool(broad), "no broad project-level data role reaches it", _iam_gaps
        )


@register(
    "approved-readers-only",
    description=(
        "Only the approved principals can read a protected dataset: every other principal "
        "that reaches it, by any path, fails, Google-managed service agents included (named "
        "with their product, never taken as harmless). A principal reading through an "
        "approved group is approved; one impersonating an approved service account is not. "
        "A coverage gap is an ERROR only where it could hide an unapproved reader."
    ),
    params_schema=_schema(
        approved_readers={
            **_GLOBS,
            "description": "fnmatch patterns on IAM members approved to read the protected "
            "datasets (users, groups, service accounts), e.g. group:platform-admins@EXAMPLE.",
        }
    ),
    permissions=_PERMISSIONS,
)
def approved_readers_only(
    inventory: Inventory, rule: Rule, context: CheckContext
) -> Iterator[CheckResult]:
    approved = [canonical(p) for p in rule.params.get("approved_readers", ())]
    graph = AccessGraph.build(inventory, now=context.evaluation_time)

    def unapproved(principal: str) -> bool:
        return not _listed(principal, approved)

    for ds in _protected(inventory, rule):
        answer = graph.readers(ds.resource)
        reported: set[str] = set()
        for principal, paths in answer.by_principal().items():
            outside = [p for p in paths if not _approved_path(p, approved)]
            if not outside:
                continue
            reported.add(principal)
            who = f"{_reader_kind(principal)}, not an approved reader"
            for target, group in _by_target(outside).items():
                yield _reach_result(principal, target, group, who)
        relevant = _affecting(unapproved, reported)
        yield from _outcome(
            ds, answer, bool(reported), "only approved principals can read it", relevant
        )


# --- helpers ----------------------------------------------------------------------------------


def _protected(inventory: Inventory, rule: Rule) -> list[Dataset]:
    globs = rule.params.get("protected_datasets", DEFAULT_PROTECTED)
    return [d for d in inventory.datasets if any(fnmatchcase(d.dataset_id, g) for g in globs)]


def _genai(principal: str, patterns: Sequence[str]) -> str | None:
    """Why a path's principal is (or includes) a GenAI principal; None when it is not."""
    if principal in PUBLIC:
        return "includes every GenAI principal"
    match = is_genai(principal, patterns) or genai_domain(principal, patterns)
    return match.reason if match is not None else None


def _listed(member: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(member, p) for p in patterns)


def _approved_path(path: AccessPath, approved: Sequence[str]) -> bool:
    """The principal is approved, or it reads as a member of an approved group (nested
    groups followed). Impersonating an approved account does not make one approved."""
    if _listed(path.principal, approved):
        return True
    for hop in path.hops:
        if hop.kind is not HopKind.GROUP_MEMBER:
            return False
        if _listed(hop.subject, approved):
            return True
    return False


def _reader_kind(principal: str) -> str:
    """What kind of principal reads, in words, for the finding's message."""
    if principal in PUBLIC:
        return "public: anyone" if principal == ALL_USERS else "public: any Google account"
    if (genai := is_genai(principal)) is not None:
        return f"GenAI principal: {genai.reason}"
    address = email(principal) or ""
    if principal.startswith("serviceAccount:") and is_service_agent(address):
        agent = agent_catalog().find(address)
        if agent is None:
            return "Google-managed service agent, not in Google's documented list"
        return f"Google-managed service agent of {agent.product} ({agent.api})"
    if principal.startswith("group:"):
        return "group whose members are not in the inventory (it stands for all of them)"
    if principal.startswith("domain:"):
        return "every account of the domain"
    if stands_for_others(principal):
        return "holders of a basic role whose project policy was not read"
    return principal.partition(":")[0] or "principal"


def _by_target(paths: Sequence[AccessPath]) -> dict[str, list[AccessPath]]:
    grouped: dict[str, list[AccessPath]] = {}
    for path in paths:
        grouped.setdefault(path.target, []).append(path)
    return grouped


def _reach_result(
    principal: str, target: str, paths: Sequence[AccessPath], who: str
) -> CheckResult:
    level = "table" if paths[0].table_level else "dataset"
    name = target.rsplit("/", 1)[-1]
    conditional = all(p.conditional for p in paths)
    grant = (
        " (can grant itself read)"
        if all(p.capability is Capability.SELF_GRANT for p in paths)
        else ""
    )
    return CheckResult(
        status=Status.FAIL,
        resource=target,
        principal=principal,
        message=(
            f"{principal} ({who}) can read {level} {name}{grant} by {len(paths)} path(s)"
            f"{', each under a condition' if conditional else ''}: {_summary(paths[0])}"
        ),
        evidence=_path_evidence(paths),
    )


def _path_evidence(paths: Sequence[AccessPath]) -> dict[str, Any]:
    return {
        "paths": [[h.to_dict() for h in p.hops] for p in paths],
        "conditional": [p.conditional for p in paths],
        "cuts": [cuts(p) for p in paths],
    }


def _summary(path: AccessPath) -> str:
    return " > ".join(f"{h.kind.value} {h.subject} ({h.detail})" for h in path.hops)


def _broad_hops(path: AccessPath) -> list[Hop]:
    """The project/folder/organization bindings on a read path: a role with getData, or a
    basic role whose special group the access list lets read."""
    if path.capability is not Capability.READ:
        return []
    return [h for h in path.hops if h.kind in (HopKind.RESOURCE_IAM, HopKind.BASIC_ROLE)]


GapFilter = Callable[[AccessGap], bool]


def _affecting(matters: Callable[[str], bool], reported: set[str]) -> GapFilter:
    """A gap counts when it could hide a path of anyone, or of a principal that `matters`
    to the rule and is not reported already (its verdict cannot change)."""

    def relevant(gap: AccessGap) -> bool:
        return gap.anyone or any(p not in reported and matters(p) for p in gap.affects)

    return relevant


def _iam_gaps(gap: AccessGap) -> bool:
    """Broad bindings: an unread policy or hierarchy, or an unknown role bound on the
    project, a folder or the organization to someone."""
    return gap.kind in (GapKind.MISSING_POLICY, GapKind.UNKNOWN_ANCESTRY) or (
        gap.kind is GapKind.UNKNOWN_ROLE
        and gap.scope.startswith(("projects/", "folders/", "organizations/"))
        and bool(gap.affects)
    )


def _outcome(
    ds: Dataset, answer: AccessAnswer, failed: bool, good: str, relevant: GapFilter
) -> Iterator[CheckResult]:
    """An ERROR when gaps that matter leave the answer incomplete; a PASS when nothing
    failed and the answer is complete. Gaps that cannot change the result, and notes
    (bindings of roles that do not exist), are kept as evidence of the PASS."""
    kept = [g for g in answer.gaps if relevant(g)]
    if kept:
        yield CheckResult(
            status=Status.ERROR,
            resource=ds.resource,
            message=(
                f"who can reach dataset {ds.dataset_id} is not fully known: {len(kept)} "
                f"coverage gap(s) that could change this result, e.g. {kept[0].reason}"
            ),
            evidence={"gaps": [g.to_dict() for g in kept], **_notes(answer)},
        )
    elif not failed:
        ignored = [g.to_dict() for g in answer.gaps]
        note = f" ({len(answer.notes)} note(s): {answer.notes[0]})" if answer.notes else ""
        yield CheckResult(
            status=Status.PASS,
            resource=ds.resource,
            message=f"dataset {ds.dataset_id}: {good}{note}",
            evidence={**({"gaps_not_affecting": ignored} if ignored else {}), **_notes(answer)},
        )


def _notes(answer: AccessAnswer) -> dict[str, Any]:
    return {"notes": list(answer.notes)} if answer.notes else {}
