"""The demo estate: a small multi-tenant BigQuery estate with planted violations.

`specs` names its parts, `estate` describes it as data, `plants` says what is planted in it,
`rows` makes realistic rows, `seed` creates and removes it:

    from auditor.demo.seed import SeedOptions, seed, reset

(The `seed` function is deliberately not re-exported here: it would hide the `seed` module.)
"""

from auditor.demo.estate import build_estate
from auditor.demo.plants import DEFAULT_PLANTED, PlantedViolation, ViolationKind, planted_violations
from auditor.demo.seed import SeedError, SeedSummary, reset
from auditor.demo.specs import SeedOptions, tenant_ids

__all__ = [
    "DEFAULT_PLANTED",
    "PlantedViolation",
    "SeedError",
    "SeedOptions",
    "SeedSummary",
    "ViolationKind",
    "build_estate",
    "planted_violations",
    "reset",
    "tenant_ids",
]
