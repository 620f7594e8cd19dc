"""Google-managed service agents: which email addresses belong to Google's services.

The packaged `service_agents.json` lists every service agent Google documents (the "Service
agents" page of the IAM docs, as cloud-foundation-fabric publishes it in machine-readable
form: modules/{project,folder,organization}/service-agents.yaml), with its product, API and
default role, and carries that source and its date. A service agent is never a user-managed
account: nobody is granted to impersonate it and its address names no project of ours.

    python -m auditor.access.agents project.yaml folder.yaml organization.yaml \\
        --source "GoogleCloudPlatform/cloud-foundation-fabric@COMMIT" --published YYYY-MM-DD

regenerates the list from those files.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from auditor.errors import InputError

_DATA_FILE = "service_agents.json"
_IAM_SA_SUFFIX = ".iam.gserviceaccount.com"
# Placeholders of the fabric files -> the glob of what they stand for.
_PLACEHOLDERS = {
    "${project_number}": "[0-9]*",
    "${folder_number}": "[0-9]*",
    "${organization_number}": "[0-9]*",
    "${universe_domain}": "",
}
_IDENTITY = re.compile(r"(?P<account>[^@]+)@(?P<domain>[a-z0-9.-]+)")


@dataclass(frozen=True)
class ServiceAgent:
    account: str  # glob on the part before @ (service-[0-9]*, service-org-[0-9]*, ...)
    domain: str  # the part after @, exactly
    product: str
    api: str
    role: str | None

    def matches(self, address: str) -> bool:
        local, _, domain = address.lower().partition("@")
        return domain == self.domain and fnmatchcase(local, self.account)


@dataclass(frozen=True)
class AgentCatalog:
    source: str
    published: str
    agents: tuple[ServiceAgent, ...]
    # domain -> its agents, for lookups by address (derived from `agents`).
    by_domain: Mapping[str, tuple[ServiceAgent, ...]] = field(
        default_factory=dict, compare=False, hash=False
    )

    def find(self, address: str) -> ServiceAgent | None:
        """The documented service agent an email address is, if any."""
        domain = address.lower().rpartition("@")[2]
        return next((a for a in self.by_domain.get(domain, ()) if a.matches(address)), None)


def _by_domain(agents: Iterable[ServiceAgent]) -> dict[str, tuple[ServiceAgent, ...]]:
    grouped: dict[str, list[ServiceAgent]] = {}
    for agent in agents:
        grouped.setdefault(agent.domain, []).append(agent)
    return {k: tuple(v) for k, v in grouped.items()}


@cache
def agent_catalog() -> AgentCatalog:
    text = resources.files("auditor.access").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    return parse_agents(json.loads(text), _DATA_FILE)


def is_google_managed(address: str) -> bool:
    """A Google-managed service agent: a documented one, any `gcp-sa-*` agent (a new one
    follows that form), the legacy `*.google.com.iam.gserviceaccount.com` agents (e.g.
    cloud-ml.google.com) and the Google APIs agent (N@cloudservices.gserviceaccount.com)."""
    domain = address.lower().rpartition("@")[2]
    if agent_catalog().find(address) is not None:
        return True
    if domain.endswith(_IAM_SA_SUFFIX):
        label = domain.removesuffix(_IAM_SA_SUFFIX)
        return label.startswith(("gcp-sa-", "gcp-ri-")) or label.endswith(".google.com")
    return domain.endswith(".gserviceaccount.com") and domain not in (
        "appspot.gserviceaccount.com",
        "developer.gserviceaccount.com",
    )


def parse_agents(doc: Any, source: str) -> AgentCatalog:
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise InputError(source, "expected an object with version: 1")
    origin, published, items = doc.get("source"), doc.get("published"), doc.get("agents")
    if not isinstance(origin, str) or not isinstance(published, str):
        raise InputError(source, "'source' and 'published' must be strings")
    if not isinstance(items, list):
        raise InputError(source, "'agents' must be a list")
    agents: list[ServiceAgent] = []
    for item in items:
        fields = ("account", "domain", "product", "api")
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in fields):
            raise InputError(source, f"agent {item!r}: needs account, domain, product and api")
        role = item.get("role")
        if role is not None and not isinstance(role, str):
            raise InputError(source, f"agent {item['domain']}: role must be a string or null")
        agents.append(
            ServiceAgent(item["account"], item["domain"], item["product"], item["api"], role)
        )
    return AgentCatalog(origin, published, tuple(agents), _by_domain(agents))


# --- regenerating the list ----------------------------------------------------------------


def agents_from_fabric(docs: Iterable[Any]) -> list[dict[str, Any]]:
    """cloud-foundation-fabric's service-agents.yaml lists -> our entries (deduplicated,
    sorted by domain then account)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in docs:
        if not isinstance(doc, list):
            raise InputError("service-agents.yaml", "expected a list of agents")
        for item in doc:
            identity = str(item.get("identity", ""))
            for placeholder, glob in _PLACEHOLDERS.items():
                identity = identity.replace(placeholder, glob)
            match = _IDENTITY.fullmatch(identity)
            if match is None:
                raise InputError("service-agents.yaml", f"identity {identity!r} is not an email")
            key = (match["domain"], match["account"])
            found.setdefault(
                key,
                {
                    "account": match["account"],
                    "domain": match["domain"],
                    "product": str(item.get("display_name", "")),
                    "api": str(item.get("api") or ""),
                    "role": item.get("role"),
                },
            )
    return [found[key] for key in sorted(found)]


def catalog_json(agents: list[dict[str, Any]], source: str, published: str) -> str:
    head = json.dumps({"version": 1, "source": source, "published": published}, indent=1)
    rows = ",\n".join(f"  {json.dumps(a, sort_keys=False)}" for a in agents)
    return f'{head[:-2]},\n "agents": [\n{rows}\n ]\n}}\n'


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate service_agents.json")
    parser.add_argument("files", nargs="+", type=Path, help="fabric service-agents.yaml files")
    parser.add_argument("--source", required=True, help="repository@commit the files are from")
    parser.add_argument("--published", required=True, help="the files' date, YYYY-MM-DD")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / _DATA_FILE)
    args = parser.parse_args(argv)
    try:
        docs = [yaml.safe_load(f.read_text(encoding="utf-8")) for f in args.files]
        agents = agents_from_fabric(docs)
    except (OSError, yaml.YAMLError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.output.write_text(catalog_json(agents, args.source, args.published), encoding="utf-8")
    print(f"{len(agents)} service agents -> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
