"""Re-applying re-reads the estate: what the journal says is done is checked live.

An action the journal records as done (or found in place) is skipped only while its effect
is still there. When it is gone (someone re-added an access entry the plan removed, dropped
a column it added, deleted what it created), that drift is reported, then

- fixed, when the plan's precondition still holds: every resource the drifted actions
  touch is what the journal left behind once their effects are applied again (content
  digests; etags change with every write), so the only change since is those effects
  undone, and re-applying them gives back exactly the state the plan made;
- refused otherwise, before anything is written (StalePlan: make a new plan).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from auditor.model import Dataset, Table
from auditor.remediate.actions import (
    Action,
    CreateDataset,
    CreateTable,
    DatasetAction,
    TableAction,
    dataset_digest,
    iam_digest,
    table_digest,
)
from auditor.remediate.state import Drift, Seen, StalePlan, compare

# The live states of an action's targets (its dataset, and its table), by resource name.
ReadTargets = Callable[[Action], Mapping[str, Any]]


@dataclass(frozen=True)
class Recheck:
    in_place: tuple[Action, ...]  # done earlier, and its effect is there now
    redo: tuple[Action, ...]  # done earlier, its effect gone since: to apply again
    drift: tuple[str, ...]  # what was found gone, for the run's output
    states: Mapping[str, Any]  # what was read, by resource


def recheck_done(
    done: Sequence[Action], read: ReadTargets, expected: Mapping[str, Seen]
) -> Recheck:
    """Read the live state of every action in `done` (the journal's done and no-op ones);
    raise StalePlan when one's effect is gone and more than that changed since the journal."""
    states: dict[str, Any] = {}
    for action in done:
        for resource, state in read(action).items():
            states.setdefault(resource, state)
    in_place = tuple(a for a in done if satisfied(a, states))
    gone = tuple(a for a in done if a not in in_place)
    if not gone:
        return Recheck(in_place, (), (), states)
    drift = tuple(
        f"{a.id} ({a.describe()}) was done by an earlier run, but its effect is gone" for a in gone
    )
    drifts = []
    for resource in sorted({r for a in gone for r in targets(a)}):
        reason = _more_than_undone(resource, states.get(resource), gone, expected[resource])
        if reason is not None:
            drifts.append(Drift(resource, reason))
    if drifts:
        raise StalePlan(drifts)
    return Recheck(in_place, gone, drift, states)


def _more_than_undone(
    resource: str, state: Any, gone: Sequence[Action], expected: Seen
) -> str | None:
    """None when applying the drifted actions' effects to the live `state` of `resource`
    gives the state the journal recorded; else what else changed."""
    model: Dataset | Table | None = state.model if state is not None else None
    for action in gone:
        if own_resource(action) != resource:
            continue
        if model is None and not isinstance(action, (CreateDataset, CreateTable)):
            return f"{action.id} was done by an earlier run, and it no longer exists"
        model = _effect(action, model)
    reason = compare(replace(expected, etag=None), _content(model))
    if reason is None:
        return None
    ids = ", ".join(a.id for a in gone if resource in targets(a))
    return f"{ids} done by an earlier run, undone since, and {reason}"


def _effect(action: Action, model: Dataset | Table | None) -> Dataset | Table | None:
    if isinstance(action, TableAction):
        assert model is None or isinstance(model, Table)
        return action.effect(model)
    assert isinstance(action, DatasetAction)
    assert model is None or isinstance(model, Dataset)
    return action.effect(model)


def _content(model: Dataset | Table | None) -> Seen:
    """A state's content digests, as the journal records them (no etag)."""
    if model is None:
        return Seen(False)
    if isinstance(model, Dataset):
        return Seen(True, None, dataset_digest(model))
    iam = iam_digest(model.iam) if model.iam is not None else None
    return Seen(True, None, table_digest(model), iam)


def targets(action: Action) -> list[str]:
    """The resources an action's preconditions cover: its dataset, and its table."""
    out = [action.dataset_resource]
    if action.table_id is not None:
        out.append(action.resource)
    return out


def own_resource(action: Action) -> str:
    """The resource the action changes (its table, or for dataset actions its dataset)."""
    return action.resource if isinstance(action, TableAction) else action.dataset_resource


def satisfied(action: Action, states: Mapping[str, Any]) -> bool:
    """Whether the action's effect is in place in `states` (live states by resource)."""
    if isinstance(action, TableAction):
        table = states.get(action.resource)
        return action.satisfied(table.model if table is not None else None)
    assert isinstance(action, DatasetAction)
    ds = states.get(action.dataset_resource)
    return action.satisfied(ds.model if ds is not None else None)


__all__ = ["Recheck", "recheck_done", "satisfied", "targets"]
