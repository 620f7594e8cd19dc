"""A saved report's `since_last_run` block read back as the ChangeSet the HTML page shows.

The nightly job writes the block from its history comparison (history.compare.Comparison
.as_json) and renders its own page from the same comparison (Comparison.change_set), so
`auditor report nightly.json` shows what the nightly page showed since the last run: new,
resolved, persisting and not examined, and the run it was compared with.

The block is checked against the findings beside it, as the reader checks the rest: a page
vouches for these counts, so a block that contradicts its report is refused (InputError):
counts that differ from the lists, new and persisting that are not the report's FAIL/ERROR
findings, a resolved or not-examined finding that is failing now or whose fingerprint is
not the one its fields give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from auditor.errors import InputError
from auditor.model import Report, Severity, Status, fingerprint
from auditor.report.summary import FAILING
from auditor.report.views import ChangedFinding, ChangeSet, PreviousRun

__all__ = ["change_set"]

_LISTS = ("new", "resolved", "persisting", "not_examined")


def _edited(source: str, problem: str) -> InputError:
    return InputError(source, f"since_last_run: {problem}; the report was edited or is corrupt")


def _earlier(items: Sequence[Mapping[str, Any]], what: str, source: str) -> list[ChangedFinding]:
    out = []
    for item in items:
        finding = ChangedFinding(
            rule_id=item["rule_id"],
            rule_name=item["rule_name"],
            severity=Severity(item["severity"]),
            status=Status(item["status"]),
            resource=item["resource"],
            column=item.get("column"),
            principal=item.get("principal"),
        )
        given = fingerprint(finding.rule_id, finding.resource, finding.column, finding.principal)
        if given != item["fingerprint"]:
            raise _edited(
                source,
                f"{what} finding {item['fingerprint']} ({finding.rule_id} on "
                f"{finding.resource!r}) is not the one its fields give ({given})",
            )
        out.append(finding)
    return out


def change_set(block: Mapping[str, Any] | None, report: Report, source: str) -> ChangeSet | None:
    """The ChangeSet of a schema-checked `since_last_run` block; None when there is no block,
    or no earlier run to compare with (the page then shows no "since the last run")."""
    if block is None or block["previous_run"] is None:
        return None
    for name in _LISTS:
        if block["counts"][name] != len(block[name]):
            said, listed = block["counts"][name], len(block[name])
            raise _edited(source, f"counts.{name} says {said}, the list has {listed}")
    failing = {f.fingerprint for f in report.findings if f.status in FAILING}
    new, persisting = set(block["new"]), set(block["persisting"])
    if new & persisting or new | persisting != failing:
        raise _edited(source, "new and persisting are not the report's failing findings")
    resolved = _earlier(block["resolved"], "resolved", source)
    _earlier(block["not_examined"], "not examined", source)  # checked; the page counts them
    gone = [item["fingerprint"] for item in (*block["resolved"], *block["not_examined"])]
    if failing.intersection(gone):
        raise _edited(source, "a finding failing now is listed as resolved or not examined")
    previous = block["previous_run"]
    return ChangeSet(
        new=tuple(block["new"]),
        resolved=tuple(item["fingerprint"] for item in block["resolved"]),
        persisting=tuple(block["persisting"]),
        not_examined=tuple(item["fingerprint"] for item in block["not_examined"]),
        details={
            item["fingerprint"]: finding
            for item, finding in zip(block["resolved"], resolved, strict=True)
        },
        previous=PreviousRun(
            id=previous["id"],
            started_at=datetime.fromisoformat(previous["started_at"]).astimezone(UTC),
            complete=previous["complete"],
            narrowed=previous["narrowed"],
        ),
        compared=tuple(block["compared_runs"]),
    )
