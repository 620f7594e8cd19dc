"""Access answers as terminal text (hop by hop, with what would cut each path) and as JSON."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from auditor.access.paths import AccessAnswer, AccessPath, Capability, Hop, HopKind
from auditor.access.principals import SPECIAL_GROUPS, canonical, special_group
from auditor.io.safe_text import terminal_text

_SPECIAL_GROUP_NAME = {prefix: name for name, prefix in SPECIAL_GROUPS.items()}
_AUTHORIZED_NOUN = {
    HopKind.AUTHORIZED_VIEW: "view",
    HopKind.AUTHORIZED_DATASET: "dataset",
    HopKind.AUTHORIZED_ROUTINE: "routine",
}


def explain(answer: AccessAnswer, *, principal: str | None = None) -> str:
    """Every principal's paths (or one principal's), hop by hop, then the changes that would
    cut them, then the coverage gaps."""
    wanted = canonical(principal) if principal is not None else None
    lines: list[str] = []
    for who, paths in answer.by_principal().items():
        if wanted is not None and who != wanted:
            continue
        lines.extend(_principal_block(who, paths))
    if not lines:
        lines.append(f"no path found{f' for {wanted}' if wanted else ''}")
    if answer.notes:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in answer.notes)
    if answer.gaps:
        lines.append("coverage gaps (paths through these may be missing):")
        for gap in answer.gaps:
            lines.append(f"  - [{gap.kind.value}] {gap.scope}: {gap.reason}")
            if not gap.anyone:
                could = ", ".join(gap.affects) or "no principal (it changes no answer here)"
                lines.append(f"    could matter for: {could}")
    # One line per entry: a newline or ESC inside a name is shown escaped, never obeyed.
    return "\n".join(map(terminal_text, lines)) + "\n"


def to_json(answer: AccessAnswer) -> dict[str, Any]:
    return {
        "paths": [p.to_dict() for p in answer.paths],
        "gaps": [g.to_dict() for g in answer.gaps],
        "notes": list(answer.notes),
    }


def describe(hop: Hop) -> str:
    """One hop as a sentence."""
    text = _SENTENCES[hop.kind](hop)
    return f"{text} [only if: {hop.condition}]" if hop.condition is not None else text


def cut(hop: Hop) -> str | None:
    """The change that removes this edge; None when it follows from another edge (an
    account of a domain, a principal covered by allUsers)."""
    match hop.kind:
        case HopKind.DATASET_ACL:
            return (
                f"remove the access entry {_grantee(hop.member)} ({hop.detail}) from {hop.subject}"
            )
        case HopKind.TABLE_IAM | HopKind.RESOURCE_IAM:
            return f"remove {hop.member} from the {hop.detail} binding on {hop.subject}"
        case HopKind.BASIC_ROLE | HopKind.IMPERSONATION | HopKind.ROLE_UPDATE:
            return f"remove {hop.member} from the {hop.detail} binding on {hop.policy}"
        case HopKind.GROUP_MEMBER:
            return f"remove {hop.member} from {hop.subject}"
        case HopKind.AUTHORIZED_VIEW | HopKind.AUTHORIZED_DATASET | HopKind.AUTHORIZED_ROUTINE:
            noun = _AUTHORIZED_NOUN[hop.kind]
            return (
                f"remove the authorized {noun} {hop.member} from the access list of {hop.subject}"
            )
        case _:
            return None


def cuts(path: AccessPath) -> list[str]:
    return [c for h in path.hops if (c := cut(h)) is not None]


def _principal_block(who: str, paths: Sequence[AccessPath]) -> list[str]:
    """The principal's paths numbered 1..n, each whole: its first hop on the numbered line,
    the following hops under it (`->`), in order from the principal to the data."""
    targets = sorted({p.target for p in paths})
    lines = [f"{who} can read {', '.join(targets)} by {_count(len(paths))}:"]
    width = len(str(len(paths)))
    for n, path in enumerate(paths, 1):
        flags = [] if path.capability is Capability.READ else ["can grant itself read"]
        flags += ["table-level"] if path.table_level else []
        flags += ["conditional"] if path.conditional else []
        prefix = f"  {n:>{width}}. " + (f"({', '.join(flags)}) " if flags else "")
        indent = " " * (width + 4)
        first, *rest = path.hops
        lines.append(prefix + describe(first))
        lines.extend(f"{indent}-> {describe(h)}" for h in rest)
        if path.denials:
            lines.append(f"{indent}unless deny policy {', '.join(path.denials)} applies")
    lines.append("  what would cut it:")
    per_path = [cuts(p) for p in paths]
    common = [c for c in per_path[0] if all(c in other for other in per_path[1:])]
    if common and len(paths) > 1:
        lines.append(f"    one change removes all {len(paths)} paths, any of:")
        lines.extend(f"      - {c}" for c in common)
    else:
        for n, options in enumerate(per_path, 1):
            lines.append(f"    path {n}, any of:")
            lines.extend(f"      - {c}" for c in options)
    return lines


def _count(n: int) -> str:
    return "1 path" if n == 1 else f"{n} paths"


def _grantee(member: str) -> str:
    """An access-list grantee as the dataset API names it."""
    if special := special_group(member):
        return f"specialGroup:{_SPECIAL_GROUP_NAME[special[0]]}"
    return member


def _acl_holder(member: str) -> str:
    if special := special_group(member):
        role = {"projectViewer": "viewer", "projectEditor": "editor", "projectOwner": "owner"}
        return (
            f"{_SPECIAL_GROUP_NAME[special[0]]} (holders of roles/{role[special[0]]} "
            f"on projects/{special[1]})"
        )
    return member


_SENTENCES: dict[HopKind, Callable[[Hop], str]] = {
    HopKind.DATASET_ACL: lambda h: (
        f"{_acl_holder(h.member)} holds {h.detail} in the access list of {h.subject}"
    ),
    HopKind.TABLE_IAM: lambda h: f"{h.member} holds {h.detail} on table {h.subject}",
    HopKind.RESOURCE_IAM: lambda h: (
        f"{h.member} holds {h.detail} on {h.subject}, which covers every dataset below it"
    ),
    HopKind.BASIC_ROLE: lambda h: (
        f"{h.member} holds {h.detail} on {h.policy}, which makes it one of {_acl_holder(h.subject)}"
    ),
    HopKind.IMPERSONATION: lambda h: (
        f"{h.member} can impersonate {h.subject} ({h.detail} on {h.policy})"
    ),
    HopKind.GROUP_MEMBER: lambda h: f"{h.member} is a member of {h.subject}",
    HopKind.DOMAIN_MEMBER: lambda h: f"{h.member} is an account of {h.subject}",
    HopKind.PUBLIC: lambda h: f"{h.member} is covered by {h.subject} ({h.detail})",
    HopKind.AUTHORIZED_VIEW: lambda h: (
        f"{h.member} is an authorized view on {h.subject}: its readers read what it selects"
    ),
    HopKind.AUTHORIZED_DATASET: lambda h: (
        f"the views of {h.member} are authorized on {h.subject}: "
        "their readers read what they select"
    ),
    HopKind.AUTHORIZED_ROUTINE: lambda h: (
        f"{h.member} is an authorized routine on {h.subject}: its callers read what it reads"
    ),
    HopKind.ROLE_UPDATE: lambda h: (
        f"{h.member} may change the custom role {h.subject} ({h.detail} on {h.policy}), "
        "so it can add to it the permission this path needs"
    ),
}
