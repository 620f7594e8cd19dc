"""Where the project's shipped data lives (JSON Schemas, default policies, table templates)."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = PROJECT_DIR / "schemas"
FORMATS_DIR = SCHEMAS_DIR / "formats"
POLICIES_DIR = PROJECT_DIR / "policies"


def format_schema(name: str) -> Path:
    """Path of one of our own JSON Schemas, e.g. format_schema("policy-rule")."""
    return FORMATS_DIR / f"{name}.schema.json"
