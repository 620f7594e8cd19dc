"""Which live datasets a rule covers."""

from __future__ import annotations

from auditor.model import Dataset, Inventory
from auditor.policy.rule import Rule


def datasets_in_scope(inventory: Inventory, rule: Rule) -> list[Dataset]:
    scope = rule.scope
    if not scope.datasets and not scope.dataset_labels:
        return list(inventory.datasets)
    return [d for d in inventory.datasets if scope.matches_dataset(d.dataset_id, d.labels)]
