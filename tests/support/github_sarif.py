"""GitHub code scanning's rules for an uploaded SARIF file, as checks a test can assert.

Source: GitHub Docs, "SARIF support for code scanning"
(github/docs, content/code-security/code-scanning/integrating-with-code-scanning/
sarif-support-for-code-scanning.md at commit 058fa63bfe93d4d06889d0d18c601d6c56b66c56) and
its limits table (data/reusables/code-scanning/sarif-limits.md at 2fd966a1c87269853aff55001
41ffbf40c62d9c2); read 2026-12-07. What the upload itself checks, beyond the page: the
codeql-action validates `artifactLocation.uri` as a JSON Schema "uri-reference"
(ossf/scorecard-action#1149), and the service refuses a result whose location has no
physical location ("locationFromSarifResult: expected artifact location", Checkmarx/2ms#128,
microsoft/sarif-sdk#2770). To refresh: re-read the page and the table, and update the
numbers and rules below.

The page marks `region.startColumn`, `endLine` and `endColumn` as required, yet its own
examples (and files GitHub accepts, e.g. the gate's) carry `startLine` alone: this checks
`startLine`, the one the examples always have.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from typing import Any

SOURCE = "docs.github.com: SARIF support for code scanning (read 2026-12-07)"

# "Supported SARIF output file properties" and the limits table.
MAX_GZIP_BYTES = 10 * 1024 * 1024  # each gzip-compressed file
MAX_RUNS = 20
MAX_RESULTS_PER_RUN = 25_000
MAX_RULES_PER_RUN = 25_000
MAX_EXTENSIONS_PER_RUN = 100
MAX_LOCATIONS_PER_RESULT = 10  # "up to a maximum of 10" (the limits table allows 1,000)
MAX_TAGS_PER_RULE = 20
MAX_RULE_NAME = 255
MAX_DESCRIPTION = 1024
LEVELS = frozenset({"note", "warning", "error"})

# RFC 3986 relative-ref with a path only (no scheme, no authority, no query or fragment);
# the first segment holds no ":" (path-noscheme). Percent-escapes are two hex digits.
_PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=@:]|%[0-9A-Fa-f]{2})"
_PCHAR_NC = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=@]|%[0-9A-Fa-f]{2})"
RELATIVE_URI = re.compile(rf"^{_PCHAR_NC}+(?:/{_PCHAR}*)*$")


def _text(node: Any, key: str) -> str | None:
    value = node.get(key) if isinstance(node, Mapping) else None
    text = value.get("text") if isinstance(value, Mapping) else None
    return text if isinstance(text, str) else None


def _nonempty(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def problems(log: Mapping[str, Any], raw: bytes | None = None) -> list[str]:
    """Every way `log` (and its bytes, for the size limit) breaks GitHub's rules."""
    found: list[str] = []
    if raw is not None and len(gzip.compress(raw)) > MAX_GZIP_BYTES:
        found.append(f"gzip-compressed file over {MAX_GZIP_BYTES} bytes")
    if not _nonempty(log.get("$schema")):
        found.append("$schema: required")
    if log.get("version") != "2.1.0":
        found.append("version: must be 2.1.0")
    runs = log.get("runs")
    if not isinstance(runs, list) or not runs:
        return [*found, "runs: one or more required"]
    if len(runs) > MAX_RUNS:
        found.append(f"runs: {len(runs)} > {MAX_RUNS}")
    for i, run in enumerate(runs):
        found.extend(_run(f"runs[{i}]", run))
    return found


def _run(where: str, run: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    tool = run.get("tool", {})
    driver = tool.get("driver") if isinstance(tool, Mapping) else None
    if not isinstance(driver, Mapping) or not _nonempty(driver.get("name")):
        return [f"{where}.tool.driver.name: required"]
    if len(tool.get("extensions", [])) > MAX_EXTENSIONS_PER_RUN:
        found.append(f"{where}.tool.extensions: over {MAX_EXTENSIONS_PER_RUN}")
    rules = driver.get("rules")
    if not isinstance(rules, list):
        return [*found, f"{where}.tool.driver.rules[]: required"]
    if len(rules) > MAX_RULES_PER_RUN:
        found.append(f"{where}: {len(rules)} rules > {MAX_RULES_PER_RUN}")
    for j, rule in enumerate(rules):
        found.extend(_rule(f"{where}.tool.driver.rules[{j}]", rule))
    results = run.get("results")
    if not isinstance(results, list):
        return [*found, f"{where}.results[]: required"]
    if len(results) > MAX_RESULTS_PER_RUN:
        found.append(f"{where}: {len(results)} results > {MAX_RESULTS_PER_RUN}")
    ids = [r.get("id") for r in rules]
    for k, result in enumerate(results):
        found.extend(_result(f"{where}.results[{k}]", result, ids))
    return found


def _rule(where: str, rule: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    if not _nonempty(rule.get("id")):
        found.append(f"{where}.id: required")
    name = rule.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_RULE_NAME):
        found.append(f"{where}.name: over {MAX_RULE_NAME} characters")
    for key in ("shortDescription", "fullDescription"):
        text = _text(rule, key)
        if not _nonempty(text):
            found.append(f"{where}.{key}.text: required")
        elif text is not None and len(text) > MAX_DESCRIPTION:
            found.append(f"{where}.{key}.text: over {MAX_DESCRIPTION} characters")
    if not _nonempty(_text(rule, "help")):
        found.append(f"{where}.help.text: required")
    level = rule.get("defaultConfiguration", {}).get("level")
    if level is not None and level not in LEVELS:
        found.append(f"{where}.defaultConfiguration.level: {level!r}")
    properties = rule.get("properties", {})
    if len(properties.get("tags", [])) > MAX_TAGS_PER_RULE:
        found.append(f"{where}.properties.tags: over {MAX_TAGS_PER_RULE}")
    score = properties.get("security-severity")
    if score is not None:
        try:
            value = float(score)
        except (TypeError, ValueError):
            value = -1.0
        if not isinstance(score, str) or not 0.0 <= value <= 10.0:
            found.append(f"{where}.properties.security-severity: {score!r}")
    return found


def _result(where: str, result: Mapping[str, Any], rule_ids: list[Any]) -> list[str]:
    found: list[str] = []
    if not _nonempty(_text(result, "message")):
        found.append(f"{where}.message.text: required")
    rule_id, index = result.get("ruleId"), result.get("ruleIndex")
    if rule_id is not None and rule_id not in rule_ids:
        found.append(f"{where}.ruleId: {rule_id!r} is no rule of the run")
    if index is not None and (
        not isinstance(index, int) or not 0 <= index < len(rule_ids) or rule_ids[index] != rule_id
    ):
        found.append(f"{where}.ruleIndex: {index!r} does not point at {rule_id!r}")
    locations = result.get("locations")
    if not isinstance(locations, list) or not locations:
        found.append(f"{where}.locations[]: at least one required")
        locations = []
    if len(locations) > MAX_LOCATIONS_PER_RESULT:
        found.append(f"{where}.locations: over {MAX_LOCATIONS_PER_RESULT}")
    for n, location in enumerate(locations):
        found.extend(_physical(f"{where}.locations[{n}]", location))
    fingerprints = result.get("partialFingerprints")
    if not isinstance(fingerprints, Mapping) or not fingerprints:
        found.append(f"{where}.partialFingerprints: required")
    elif not _nonempty(fingerprints.get("primaryLocationLineHash")):
        found.append(f"{where}.partialFingerprints.primaryLocationLineHash: the one GitHub uses")
    return found


def _physical(where: str, location: Mapping[str, Any]) -> list[str]:
    physical = location.get("physicalLocation")
    if not isinstance(physical, Mapping):
        return [f"{where}.physicalLocation: required (expected artifact location)"]
    found: list[str] = []
    uri = physical.get("artifactLocation", {}).get("uri")
    if not _nonempty(uri):
        found.append(f"{where}.physicalLocation.artifactLocation.uri: required")
    elif not RELATIVE_URI.match(uri):
        found.append(f"{where}.physicalLocation.artifactLocation.uri: {uri!r} is no relative URI")
    elif any(segment in ("", ".", "..") for segment in uri.split("/")):
        found.append(f"{where}.physicalLocation.artifactLocation.uri: {uri!r} leaves its root")
    line = physical.get("region", {}).get("startLine")
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        found.append(f"{where}.physicalLocation.region.startLine: {line!r}, must be >= 1")
    return found


def check_file(raw: bytes) -> dict[str, Any]:
    """Parse a SARIF file and assert it meets every rule above; the parsed log."""
    log = json.loads(raw)
    assert problems(log, raw) == [], SOURCE
    return dict(log)
