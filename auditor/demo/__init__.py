"""The demo estate: a small multi-tenant BigQuery estate with planted violations.

`estate` describes it as data, `rows` makes realistic rows, `seed` creates and removes it:

    from auditor.demo.seed import SeedOptions, seed, reset

(The `seed` function is deliberately not re-exported here: it would hide the `seed` module.)
"""

from auditor.demo.estate import (
    DEFAULT_PLANTED,
    PlantedViolation,
    SeedOptions,
    ViolationKind,
    build_estate,
    planted_violations,
    tenant_ids,
)
from auditor.demo.seed import SeedError, SeedSummary, reset

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
