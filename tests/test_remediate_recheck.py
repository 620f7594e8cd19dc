"""Re-applying re-reads the estate (auditor/remediate/recheck.py), on model states.

The journal says an action is done; the live state decides: in place (skipped), its effect
undone and nothing else changed (applied again), or more changed (refused: make a new
plan). End to end on the faithful engine: tests/test_user_paths.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from auditor.model import AccessEntry, Dataset, GranteeKind
from auditor.remediate.actions import (
    Action,
    Precondition,
    RemoveAccessEntries,
    SetLabels,
    dataset_digest,
)
from auditor.remediate.recheck import recheck_done
from auditor.remediate.state import DatasetState, Seen, StalePlan

P = "gac-prod-471220"
CUSTOMERS = f"//bigquery.googleapis.com/projects/{P}/datasets/customers"
GROUP = AccessEntry(
    GranteeKind.GROUP, "ml-engineers@convergence.example", "roles/bigquery.dataViewer"
)
ADMINS = AccessEntry(
    GranteeKind.GROUP, "platform-admins@convergence.example", "roles/bigquery.dataOwner"
)
SEEDED = Dataset(P, "customers", "US", {"dataset_role": "customers"}, access=(ADMINS, GROUP))
PRE = (Precondition(CUSTOMERS, True, "etag-0", dataset_digest(SEEDED)),)
REMOVE = RemoveAccessEntries(
    project=P, dataset_id="customers", id="A01", entries=(GROUP,), preconditions=PRE
)
LABEL = SetLabels(
    project=P, dataset_id="customers", id="A02", labels={"owner": "platform"}, preconditions=PRE
)


def journal_after(*actions: Action) -> dict[str, Seen]:
    """What the journal expects of customers once `actions` ran on the seeded dataset."""
    model: Dataset | None = SEEDED
    for action in actions:
        model = action.effect(model)  # type: ignore[attr-defined]
    assert model is not None
    return {CUSTOMERS: Seen(True, "etag-after", dataset_digest(model))}


def live(model: Dataset | None) -> Any:
    def read(action: Action) -> dict[str, Any]:
        state = (
            DatasetState({"etag": "etag-now"}, replace(model, etag="etag-now")) if model else None
        )
        return {CUSTOMERS: state}

    return read


def test_an_action_whose_effect_is_there_is_skipped() -> None:
    checked = recheck_done([REMOVE], live(REMOVE.effect(SEEDED)), journal_after(REMOVE))
    assert checked.in_place == (REMOVE,) and checked.redo == () and checked.drift == ()


def test_an_entry_added_back_and_nothing_else_is_applied_again() -> None:
    checked = recheck_done([REMOVE], live(SEEDED), journal_after(REMOVE))
    assert checked.redo == (REMOVE,) and checked.in_place == ()
    assert checked.drift == (
        "A01 (remove 1 access entry from customers: groupByEmail:ml-engineers@convergence.example "
        "roles/bigquery.dataViewer) was done by an earlier run, but its effect is gone",
    )


def test_two_undone_actions_on_one_dataset_are_applied_again_together() -> None:
    both = journal_after(REMOVE, LABEL)
    checked = recheck_done([REMOVE, LABEL], live(SEEDED), both)
    assert checked.redo == (REMOVE, LABEL)
    # One undone, the other in place.
    checked = recheck_done([REMOVE, LABEL], live(LABEL.effect(SEEDED)), both)
    assert (checked.redo, checked.in_place) == ((REMOVE,), (LABEL,))


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (
            replace(SEEDED, labels={**SEEDED.labels, "reviewed": "by-hand"}),
            "customers: A01 done by an earlier run, undone since, and its content (access, "
            "labels, key or schema) differs from the planned state",
        ),
        (
            replace(SEEDED, default_kms_key="projects/p/locations/us/keyRings/k/cryptoKeys/c"),
            "customers: A01 done by an earlier run, undone since, and its content",
        ),
        (None, "customers: A01 was done by an earlier run, and it no longer exists"),
    ],
)
def test_an_undone_action_with_more_changes_is_refused(now: Dataset | None, reason: str) -> None:
    with pytest.raises(StalePlan) as refused:
        recheck_done([REMOVE], live(now), journal_after(REMOVE))
    assert reason in str(refused.value)
    assert str(refused.value).endswith("make a new plan")
