"""Answers to DLP `content:inspect` requests, built from each request alone, as DLP would.

    answer = inspect_answer(request_body)          # the JSON body of an InspectContentResponse
    write_recordings(server.requests, folder)      # tests/support/recorded.py recordings

What the product sends is captured first (a RecordedServer logs every request it gets), then
each captured request gets a recording keyed by its exact body, with the answer built here,
so the real google-cloud-dlp client reads realistic answers to exactly the requests it sends.

How an answer is built (DLP v2 REST reference: InspectContentResponse, InspectResult, Finding,
Location, ContentLocation, RecordLocation, TableLocation, Range):

- Every table cell (`item.table.rows[r].values[c].stringValue`, under the header
  `item.table.headers[c].name`) is searched with every custom infoType's regex, as the
  request carries it (`inspectConfig.customInfoTypes[].regex.pattern` / `groupIndexes`:
  each listed group is a finding, the whole match when none is listed), at VERY_LIKELY,
  DLP's default likelihood for a custom infoType. Nothing of the auditor's catalog or
  scanner is used: agreement with the other modes is not built in.
- The built-in infoTypes asked for (`inspectConfig.infoTypes[].name`) are searched with
  BUILTIN_PATTERNS below: a fixed approximation of what DLP's own detectors find, with the
  likelihood DLP typically gives. A built-in the table does not know finds nothing (DLP's
  real detectors are not public; unknown here means "not approximated").
- Findings below `minLikelihood` are left out; the quote is included when `includeQuote`;
  past `limits.maxFindingsPerRequest` the rest are dropped and `findingsTruncated` is set.
- A finding's location: `byteRange` (UTF-8 byte offsets in the cell), `codepointRange`
  (character offsets) and one `contentLocations` entry with `recordLocation.fieldId.name`
  (the column header) and `recordLocation.tableLocation.rowIndex` (the row in this
  request). Proto3 JSON: int64 values as strings, zero values (a 0 offset, row 0) left out.
- A regex Python cannot compile is answered 400 INVALID_ARGUMENT, as DLP refuses an invalid
  custom regex.
Python's `re` stands in for RE2: the catalog's patterns are RE2-safe and Python accepts them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .faultproxy import google_error
from .recorded import Seen

CREATE_TIME = "2026-11-27T02:00:00.000Z"  # a fixed time: recordings do not change per run
CUSTOM_LIKELIHOOD = "VERY_LIKELY"
LIKELIHOODS = (
    "LIKELIHOOD_UNSPECIFIED",
    "VERY_UNLIKELY",
    "UNLIKELY",
    "POSSIBLE",
    "LIKELY",
    "VERY_LIKELY",
)
INSPECT_PATH = re.compile(r"^/v2/projects/[^/]+/locations/[^/]+/content:inspect$")


@dataclass(frozen=True)
class Builtin:
    """An approximation of one DLP built-in detector: a regex (group 1, when present, is
    the finding) and the likelihood it is reported with."""

    pattern: str
    likelihood: str


# What DLP's built-in credential infoTypes find, approximately: the well-known shapes of each
# kind of secret (https://cloud.google.com/sensitive-data-protection/docs/infotypes-reference
# describes them in words only).
BUILTIN_PATTERNS: Mapping[str, Builtin] = {
    "GCP_API_KEY": Builtin(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", "LIKELY"),
    "GCP_CREDENTIALS": Builtin(r'"type"\s*:\s*"service_account"', "LIKELY"),
    "ENCRYPTION_KEY": Builtin(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----", "VERY_LIKELY"),
    "OAUTH_CLIENT_SECRET": Builtin(r"\bGOCSPX-[0-9A-Za-z_-]{28}\b", "VERY_LIKELY"),
    "AUTH_TOKEN": Builtin(r"(?i)\bbearer\s+[0-9A-Za-z._~+/-]{20,}=*", "LIKELY"),
    "STORAGE_SIGNED_URL": Builtin(r"[?&]X-Goog-Signature=[0-9a-f]{64,}", "VERY_LIKELY"),
    "AWS_CREDENTIALS": Builtin(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", "LIKELY"),
    "AZURE_AUTH_TOKEN": Builtin(r"\b[0-9A-Za-z~._-]{3}8Q~[0-9A-Za-z~._-]{31,34}\b", "LIKELY"),
    "ANTHROPIC_API_KEY": Builtin(r"\bsk-ant-api03-[0-9A-Za-z_-]{90,}", "VERY_LIKELY"),
    "OPENAI_API_KEY": Builtin(
        r"\bsk-(?:proj-)?[0-9A-Za-z_-]{20,}T3BlbkFJ[0-9A-Za-z_-]{20,}", "VERY_LIKELY"
    ),
    "JSON_WEB_TOKEN": Builtin(
        r"\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}", "LIKELY"
    ),
    "BASIC_AUTH_HEADER": Builtin(
        r"(?i)\bauthorization:\s*basic\s+([0-9A-Za-z+/]{8,}={0,2})", "VERY_LIKELY"
    ),
    "PASSWORD": Builtin(
        r"(?i)\b(?:password|passwd|pwd|pw)(?:\s*[:=]\s*|\s+)\"?([^\s\"',;&]{6,})", "POSSIBLE"
    ),
}


class InvalidRequest(ValueError):
    """A request DLP would refuse (400 INVALID_ARGUMENT)."""


@dataclass(frozen=True)
class _Detector:
    name: str
    regex: re.Pattern[str]
    groups: tuple[int, ...]  # (0,): the whole match
    likelihood: str

    def spans(self, text: str) -> Iterable[tuple[int, int]]:
        for match in self.regex.finditer(text):
            for group in self.groups:
                if match.group(group) and match.start(group) < match.end(group):
                    yield match.span(group)


def inspect_answer(body: Mapping[str, Any]) -> dict[str, Any]:
    """The InspectContentResponse (proto3 JSON) DLP would give to this request body.
    InvalidRequest for a body DLP would refuse."""
    config = body.get("inspectConfig") or {}
    table = (body.get("item") or {}).get("table")
    if not isinstance(table, Mapping):
        raise InvalidRequest("only table items are answered here")
    headers = [h.get("name", "") for h in table.get("headers") or []]
    floor = _likelihood_rank(config.get("minLikelihood", "POSSIBLE"))
    detectors = [d for d in _detectors(config) if LIKELIHOODS.index(d.likelihood) >= floor]
    findings = []
    for row_index, row in enumerate(table.get("rows") or []):
        values = row.get("values") or []
        if len(values) != len(headers):
            raise InvalidRequest(
                f"row {row_index} has {len(values)} values for {len(headers)} headers"
            )
        for column, value in zip(headers, values, strict=True):
            text = value.get("stringValue", "")
            for detector in detectors:
                for span in detector.spans(text):
                    findings.append(_finding(detector, text, span, column, row_index, config))
    limit = int((config.get("limits") or {}).get("maxFindingsPerRequest") or 0)
    result: dict[str, Any] = {}
    if limit and len(findings) > limit:
        findings = findings[:limit]
        result["findingsTruncated"] = True
    if findings:
        result["findings"] = findings
    return {"result": result}


def write_recordings(requests: Sequence[Seen], folder: Path) -> int:
    """One recording per distinct content:inspect request in `requests` (the log of a
    RecordedServer), answered by `inspect_answer`, written under `folder`. Returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    for seen in requests:
        if seen.method != "POST" or not INSPECT_PATH.match(seen.path):
            continue
        key = json.dumps(seen.body, sort_keys=True)
        if key in written:
            continue
        try:
            response = {"status": 200, "body": inspect_answer(seen.body)}
        except InvalidRequest as exc:
            response = {"status": 400, "body": google_error(400, str(exc), "invalid")}
        recording = {
            "request": {"method": "POST", "path": seen.path, "body": seen.body},
            "response": response,
        }
        path = folder / f"inspect-{len(written):04d}.json"
        path.write_text(json.dumps(recording), encoding="utf-8")
        written.add(key)
    return len(written)


def _detectors(config: Mapping[str, Any]) -> list[_Detector]:
    found = []
    for custom in config.get("customInfoTypes") or []:
        name = custom["infoType"]["name"]
        regex = custom.get("regex") or {}
        try:
            compiled = re.compile(regex.get("pattern", ""))
        except re.error as exc:
            raise InvalidRequest(f"invalid regex for custom infoType {name}: {exc}") from None
        groups = tuple(int(g) for g in regex.get("groupIndexes") or ()) or (0,)
        if any(g > compiled.groups for g in groups):
            raise InvalidRequest(f"group index out of range for custom infoType {name}")
        found.append(_Detector(name, compiled, groups, custom.get("likelihood", CUSTOM_LIKELIHOOD)))
    for info_type in config.get("infoTypes") or []:
        builtin = BUILTIN_PATTERNS.get(info_type["name"])
        if builtin is not None:
            compiled = re.compile(builtin.pattern)
            groups = (1,) if compiled.groups else (0,)
            found.append(_Detector(info_type["name"], compiled, groups, builtin.likelihood))
    return found


def _finding(
    detector: _Detector,
    text: str,
    span: tuple[int, int],
    column: str,
    row_index: int,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    start, end = span
    byte_start = len(text[:start].encode("utf-8"))
    byte_end = byte_start + len(text[start:end].encode("utf-8"))
    finding: dict[str, Any] = {}
    if config.get("includeQuote"):
        finding["quote"] = text[start:end]
    finding["infoType"] = {"name": detector.name}
    finding["likelihood"] = detector.likelihood
    finding["location"] = {
        "byteRange": _range(byte_start, byte_end),
        "codepointRange": _range(start, end),
        "contentLocations": [
            {
                "recordLocation": {
                    "fieldId": {"name": column},
                    "tableLocation": {"rowIndex": str(row_index)} if row_index else {},
                }
            }
        ],
    }
    finding["createTime"] = CREATE_TIME
    return finding


def _range(start: int, end: int) -> dict[str, str]:
    """A Range in proto3 JSON: int64 as strings, a zero start left out."""
    return {"start": str(start), "end": str(end)} if start else {"end": str(end)}


def _likelihood_rank(value: Any) -> int:
    """minLikelihood as the client sends it: an enum number or name."""
    if isinstance(value, int):
        return value
    return LIKELIHOODS.index(str(value))
