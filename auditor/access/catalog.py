"""Generate the role catalog (`auditor/access/roles.json`) from Google's role definitions.

The catalog is generated, never edited by hand. Its input is a *reference*: every predefined
role Google publishes, with its title, launch stage and the permissions it holds among the
prefixes that matter to data access and escalation (`bigquery*`, `iam.`, `resourcemanager.`,
...). The repo keeps one, with its source and date, in `reference/iam/`; `auditor access
roles refresh` writes a new one from the live IAM API (`roles.list`, view FULL) and then
regenerates the catalog from it. The catalog keeps, for every role, the permissions among
`roles.TRACKED`, and carries the reference's source and publication date.

    python -m auditor.access.catalog                    # from the repo's reference
    python -m auditor.access.catalog --reference FILE --output FILE
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.access.roles import CATALOG_VERSION, TRACKED
from auditor.errors import InputError
from auditor.resources import PROJECT_DIR

# Legacy dataset access-entry roles, as the BigQuery API returns them.
LEGACY = {
    "READER": "roles/bigquery.dataViewer",
    "WRITER": "roles/bigquery.dataEditor",
    "OWNER": "roles/bigquery.dataOwner",
}
# What a reference keeps of each role's permissions (those of the tracked ones and more).
PREFIXES = (
    "bigquery",
    "iam.",
    "resourcemanager.",
    "dataplex.",
    "datacatalog.",
    "storage.objects.",
    "cloudkms.",
)
REFERENCE = PROJECT_DIR / "reference" / "iam" / "gcp-predefined-roles.json.gz"
CATALOG = Path(__file__).resolve().parent / "roles.json"
_DATE = re.compile(r"\b(20[0-9]{2}-[01][0-9]-[0-3][0-9])\b")


@dataclass(frozen=True)
class Reference:
    """Google's predefined roles: name -> the permissions kept (those under `prefixes`)."""

    source: str
    published: str  # YYYY-MM-DD
    prefixes: tuple[str, ...]
    roles: Mapping[str, tuple[str, ...]]
    titles: Mapping[str, tuple[str, str]]  # name -> (title, launch stage)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "published": self.published,
            "permission_prefixes_kept": list(self.prefixes),
            "roles_total": len(self.roles),
            "roles": {
                name: {
                    "title": self.titles[name][0],
                    "stage": self.titles[name][1],
                    "permissions": list(self.roles[name]),
                }
                for name in sorted(self.roles)
            },
        }


def read_reference(path: Path) -> Reference:
    """A reference file (`.json`, or `.json.gz`), checked: InputError naming the file and the
    role when its shape is wrong."""
    try:
        raw = path.read_bytes()
        text = gzip.decompress(raw) if path.suffix == ".gz" else raw
        doc = json.loads(text)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(str(path), f"not a readable reference: {exc}") from None
    return parse_reference(doc, str(path))


def parse_reference(doc: Any, source: str) -> Reference:
    if not isinstance(doc, dict):
        raise InputError(source, "expected an object with source, roles_total and roles")
    origin, roles, total = doc.get("source"), doc.get("roles"), doc.get("roles_total")
    prefixes = doc.get("permission_prefixes_kept")
    if not isinstance(origin, str) or not isinstance(roles, dict) or not isinstance(total, int):
        raise InputError(source, "expected an object with source, roles_total and roles")
    if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
        raise InputError(source, "'permission_prefixes_kept' must list strings")
    published = doc.get("published") or _date_in(origin)
    if not isinstance(published, str) or not _DATE.fullmatch(published):
        raise InputError(source, "the reference names no publication date (YYYY-MM-DD)")
    if total != len(roles):
        raise InputError(source, f"roles_total is {total} but {len(roles)} roles are listed")
    permissions: dict[str, tuple[str, ...]] = {}
    titles: dict[str, tuple[str, str]] = {}
    for name, role in roles.items():
        if not name.startswith("roles/") or not isinstance(role, dict):
            raise InputError(source, f"role {name!r}: expected roles/NAME: {{title, permissions}}")
        perms = role.get("permissions")
        if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
            raise InputError(source, f"role {name}: 'permissions' must list strings")
        permissions[name] = tuple(perms)
        titles[name] = (str(role.get("title", "")), str(role.get("stage", "")))
    untracked = sorted(p for p in TRACKED if not p.startswith(tuple(prefixes)))
    if untracked:
        raise InputError(source, f"the reference does not keep the tracked permissions {untracked}")
    return Reference(origin, published, tuple(prefixes), permissions, titles)


def reference_from_roles(
    items: Iterable[Mapping[str, Any]], source: str, published: str
) -> Reference:
    """A reference from `roles.list` (view FULL) answers: iam.v1 Role objects. Deleted
    roles are left out; permissions are cut down to PREFIXES."""
    permissions: dict[str, tuple[str, ...]] = {}
    titles: dict[str, tuple[str, str]] = {}
    for item in items:
        name = item.get("name")
        if not isinstance(name, str) or not name.startswith("roles/"):
            raise InputError(source, f"roles.list answered a role named {name!r}")
        if item.get("deleted") is True:
            continue
        perms = item.get("includedPermissions", [])
        if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
            raise InputError(source, f"role {name}: includedPermissions must list strings")
        permissions[name] = tuple(sorted(p for p in perms if p.startswith(PREFIXES)))
        titles[name] = (str(item.get("title", "")), str(item.get("stage", "")))
    if not permissions:
        raise InputError(source, "roles.list answered no role: refusing to write an empty catalog")
    return Reference(source, published, PREFIXES, permissions, titles)


def build_catalog(reference: Reference, generated_by: str) -> dict[str, Any]:
    """The catalog document: every reference role with its tracked permissions."""
    tracked = list(TRACKED)
    return {
        "version": CATALOG_VERSION,
        "source": reference.source,
        "published": reference.published,
        "generated_by": generated_by,
        "tracked": tracked,
        "legacy": dict(LEGACY),
        "roles": {
            name: sorted(set(reference.roles[name]) & TRACKED.keys())
            for name in sorted(reference.roles)
        },
    }


def catalog_text(doc: Mapping[str, Any]) -> str:
    """JSON with one role per line: small, quick to load, and a readable diff."""
    head = {k: v for k, v in doc.items() if k != "roles"}
    lines = [json.dumps(head, indent=1)[:-2] + ","]
    lines.append(' "roles": {')
    roles = list(doc["roles"].items())
    for i, (name, perms) in enumerate(roles):
        comma = "," if i < len(roles) - 1 else ""
        lines.append(f"  {json.dumps(name)}: {json.dumps(perms)}{comma}")
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def reference_bytes(reference: Reference) -> bytes:
    """The reference as the repo keeps it: gzip (no timestamp, so the bytes are stable)."""
    text = json.dumps(reference.to_json(), indent=1, sort_keys=False) + "\n"
    return gzip.compress(text.encode("utf-8"), mtime=0)


def _date_in(text: str) -> str | None:
    found = _DATE.findall(text)
    return found[-1] if found else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--output", type=Path, default=CATALOG)
    args = parser.parse_args(argv)
    try:
        reference = read_reference(args.reference)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    name = args.reference.name
    doc = build_catalog(reference, f"python -m auditor.access.catalog --reference {name}")
    args.output.write_text(catalog_text(doc), encoding="utf-8")
    print(f"{len(doc['roles'])} roles ({reference.published}) -> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
