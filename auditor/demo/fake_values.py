"""Deterministic fake values shared by the demo's row generators, and the demo's fixed clock.

Every generator draws from a seeded `random.Random`, never from the clock or the OS: the same
seed gives the same rows. Apart so that the tenant, customer and scratch generators (and
`conform`'s neutral values) share one clock and one set of people and id makers.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

Row = dict[str, Any]

# Fixed "now" of the demo estate: rows never depend on the clock.
BASE_TIME = datetime(2025, 11, 17, 6, 0, tzinfo=UTC)

PEOPLE = ("maria.lopez", "dev.patel", "sam.okafor", "lena.fischer", "tom.nguyen")


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from `rng`."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def random_hex(rng: random.Random, length: int) -> str:
    """`length` hex digits drawn from `rng`."""
    return f"{rng.getrandbits(4 * length):0{length}x}"


def tenant_company(tenant_id: str) -> tuple[str, str]:
    """(company name, email domain) of a tenant."""
    name = " ".join(part.capitalize() for part in tenant_id.split("_"))
    return name, f"{tenant_id.replace('_', '-')}.example"
