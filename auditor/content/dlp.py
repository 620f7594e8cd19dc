"""DLP mode: a table's sampled rows inspected by Cloud DLP (Sensitive Data Protection).

The sample goes to `projects.locations.content.inspect` as one table item (headers are the
column paths, rows the cells, NULL sent as ""). The inspect config (`inspect_config`)
asks for the built-in infoTypes the detector catalog maps to and ships every catalog
pattern as a custom infoType `AUDITOR_<ID>` (capture group 1 is the finding when the
pattern has one), so DLP runs the same RE2 patterns the local scanner runs in Python.

Limits (gcp-facts C): at most 50,000 table values and about 0.5 MB per request, at most
3,000 findings per request. `inspect_sample` cuts the rows into batches that stay under
both (the size is estimated, from above, from the JSON the REST client sends: indented,
so a short cell costs about 70 bytes and the size limit binds long before 50,000 values),
never splitting a row; a row too big for a request on its own is a coverage gap. Cells are
cut to the local scanner's `max_chars`, so both modes read the same text. Requests go one
after another; a single table never comes near the 10,000 requests/minute quota.

Each finding is mapped back to its cell (`record_location.field_id.name` and
`table_location.row_index` plus the batch's first row). DLP narrows, the catalog judges:
every cell some finding points at, custom infoType or built-in, is scanned by
`detect.values.scan_value` (content.confirm, the judge of every mode), and only what that
confirms is reported. So DLP mode reports what the local mode reports for the same rows:
the same detector, row count, redacted prefix and fingerprint (one finding set, whatever
the mode), and a built-in infoType adds a cell to look at, never a finding of its own. The
quote DLP returns is not used: it is never stored, logged or put in an error.

Fail closed: a request that still fails after the shared retry policy's bounded retries
(auditor.gcp.retry with DLP's limits: 429, 5xx, lost connections, answers cut short or not
JSON, with exponential backoff) or fails for good (400, 403), an answer of the wrong shape,
a finding that names no cell of the batch, and an answer whose findings were truncated
(`findings_truncated`: the hits kept are reported, the rest unknown) each give a
CoverageGap naming the table. Gap reasons hold status and server message only, with
anything the catalog recognises as a secret, and any word that occurs in a value sent,
redacted (a server that echoes its input cannot leak a value through a gap).

The REST transport and google-auth's session log request bodies at DEBUG (the rows, so
secrets); the client (auditor.gcp.clients.dlp_client) adds a filter to those two loggers
that replaces the bodies. Nothing here runs at import time.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import TypeVar

from google.api_core import exceptions as api_exceptions
from google.auth.exceptions import GoogleAuthError
from google.cloud import bigquery, dlp_v2

# No type stubs for protobuf among the allowed packages; only ParseError is used.
from google.protobuf import json_format  # type: ignore[import-untyped]

from auditor.content.base import ContentMode, ContentOptions, TableOutcome
from auditor.content.columns import TextColumn
from auditor.content.confirm import Cell, confirm_cells
from auditor.content.local import Fetch, sample_table
from auditor.content.sample import SampledRows
from auditor.detect.catalog import Detector, catalog
from auditor.detect.redact import redact
from auditor.detect.values import DEFAULT_MAX_CHARS, scan_value
from auditor.errors import AuditorError, UsageError
from auditor.gcp import retry
from auditor.gcp.clients import NO_RETRY, dlp_client
from auditor.gcp.retry import GaveUp, MalformedAnswer, RetryPolicy
from auditor.gcp.wording import describe, shorten
from auditor.model import ContentScan, CoverageGap, Table, ValueHit

__all__ = [
    "BUILTIN_PREFIX",
    "CUSTOM_PREFIX",
    "MAX_FINDINGS_PER_REQUEST",
    "MAX_REQUEST_BYTES",
    "MAX_TABLE_VALUES",
    "DlpResult",
    "builtin_detector_id",
    "builtin_info_types",
    "custom_info_type_name",
    "inspect_config",
    "inspect_sample",
    "make_dlp_client",
    "plan_batches",
    "scan_table",
]

T = TypeVar("T")
logger = logging.getLogger(__name__)

MAX_TABLE_VALUES = 50_000  # cells per table item
MAX_REQUEST_BYTES = 500_000  # "0.5 MB", read as decimal: a little under 512 KiB
MAX_FINDINGS_PER_REQUEST = 3_000
CUSTOM_PREFIX = "AUDITOR_"
BUILTIN_PREFIX = "dlp-"
MAX_REASON = 300
# The REST client sends indented JSON (json_format.MessageToJson, indent 2). Around each
# cell's JSON string it writes `{`, `"stringValue": `, `}` and at most 14 spaces of indent
# per line: under 64 bytes. Around each row: `{`, `"values": [`, `]`, `}`: under 64 too.
VALUE_OVERHEAD = 64
ROW_OVERHEAD = 64
_NAME_SEGMENT = re.compile(r"[^/\s]+")
_RUN = re.compile(r"[^\s\"'`(),;:=&?<>\[\]{}]{8,}")  # a word that could be a sent value


@dataclass(frozen=True)
class DlpResult:
    """What DLP found in one sample: hits (never values), requests sent (retries
    included) and the parts it could not inspect."""

    hits: tuple[ValueHit, ...]
    requests: int
    gaps: tuple[CoverageGap, ...]


# ---------------------------------------------------------------------------- the client


def make_dlp_client(endpoint: str | None = None) -> dlp_v2.DlpServiceClient:
    """A DLP client over REST (auditor.gcp.clients.dlp_client): Google's endpoint with
    Application Default Credentials, or `endpoint` (e.g. http://127.0.0.1:8080) with
    anonymous credentials."""
    return dlp_client(endpoint)


@lru_cache(maxsize=4)
def _shared_client(endpoint: str | None) -> dlp_v2.DlpServiceClient:
    """One client per endpoint for a whole scan (its REST session is thread-safe)."""
    return make_dlp_client(endpoint)


def scan_table(
    client: bigquery.Client,
    table: Table,
    columns: Sequence[TextColumn],
    options: ContentOptions,
    call: Fetch,
) -> TableOutcome:
    """DLP mode's TableScanner: sample `table` as the local mode does (tabledata.list),
    then inspect the sample with DLP at `options.dlp_endpoint` (None: Google's, with
    Application Default Credentials), billed to the table's project. Raises what sampling
    or the client setup raised; what DLP does wrong comes back as gaps."""
    sample = sample_table(client, table, columns, options, call)
    dlp_client = _shared_client(options.dlp_endpoint)
    result = inspect_sample(
        dlp_client,
        table.project,
        sample,
        location=options.dlp_location,
        config=_catalog_config(),
        retries=replace(retry.DLP, attempts=options.attempts, timeout=options.timeout),
        max_chars=options.max_cell_chars,
    )
    scan = ContentScan(table.resource, ContentMode.DLP.value, len(sample.rows), sample.columns)
    return TableOutcome(scan, result.hits, result.gaps)


@lru_cache(maxsize=1)
def _catalog_config() -> dlp_v2.InspectConfig:
    return inspect_config(catalog())


# ---------------------------------------------------------------------------- the config


def custom_info_type_name(detector_id: str) -> str:
    """`google-api-key` -> `AUDITOR_GOOGLE_API_KEY`."""
    return CUSTOM_PREFIX + detector_id.upper().replace("-", "_")


def builtin_detector_id(info_type: str, detectors: Sequence[Detector]) -> str:
    """The detector a built-in infoType's finding is reported under (see the module doc)."""
    mapped = [d.id for d in detectors if d.dlp_info_type == info_type]
    if mapped:
        return mapped[-1]
    return BUILTIN_PREFIX + info_type.lower().replace("_", "-")


def inspect_config(
    detectors: Sequence[Detector], *, builtins: Collection[str] | None = None
) -> dlp_v2.InspectConfig:
    """Built-in infoTypes the catalog maps to (each once, in catalog order; only those in
    `builtins` when given, e.g. from `builtin_info_types`) and every detector as a custom
    regex infoType. Quotes are included (to redact and hash them here); POSSIBLE and up."""
    names = dict.fromkeys(d.dlp_info_type for d in detectors if d.dlp_info_type)
    return dlp_v2.InspectConfig(
        info_types=[dlp_v2.InfoType(name=n) for n in names if builtins is None or n in builtins],
        custom_info_types=[
            dlp_v2.CustomInfoType(
                info_type=dlp_v2.InfoType(name=custom_info_type_name(d.id)),
                regex=dlp_v2.CustomInfoType.Regex(
                    pattern=d.pattern, group_indexes=[1] if d.secret_group else []
                ),
            )
            for d in detectors
        ],
        include_quote=True,
        min_likelihood=dlp_v2.Likelihood.POSSIBLE,
        limits=dlp_v2.InspectConfig.FindingLimits(
            max_findings_per_request=MAX_FINDINGS_PER_REQUEST
        ),
    )


def builtin_info_types(
    client: dlp_v2.DlpServiceClient,
    *,
    location: str = "global",
    retries: RetryPolicy | None = None,
) -> frozenset[str]:
    """Names of the built-in infoTypes DLP can inspect for at `location` (infoTypes.list):
    built-ins differ by release, and asking for an unknown one fails every request."""
    _check_segment("location", location)
    request = dlp_v2.ListInfoTypesRequest(
        parent=f"locations/{location}", filter="supported_by=INSPECT"
    )
    policy = retries or retry.DLP
    answer, reason, _ = _with_retries(
        partial(client.list_info_types, request=request, retry=NO_RETRY, timeout=policy.timeout),
        policy,
        "a ListInfoTypesResponse",
    )
    if answer is None:
        raise AuditorError(f"DLP infoTypes.list at {location}: {reason}")
    return frozenset(t.name for t in answer.info_types)


# ---------------------------------------------------------------------------- batching


def _cell_bytes(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) + VALUE_OVERHEAD


def plan_batches(
    rows: Sequence[Sequence[str]],
    *,
    fixed_bytes: int,
    max_values: int = MAX_TABLE_VALUES,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> tuple[list[range], list[tuple[int, int]]]:
    """Consecutive row ranges, each within `max_values` cells and `max_bytes` (the request
    without rows weighs `fixed_bytes`), and the (row, bytes) of rows too big for any."""
    batches: list[range] = []
    oversized: list[tuple[int, int]] = []
    start, values, size = 0, 0, fixed_bytes
    for index, row in enumerate(rows):
        row_values = len(row)
        row_bytes = ROW_OVERHEAD + sum(_cell_bytes(cell) for cell in row)
        if row_values > max_values or fixed_bytes + row_bytes > max_bytes:
            if index > start:
                batches.append(range(start, index))
            oversized.append((index, row_bytes))
            start, values, size = index + 1, 0, fixed_bytes
            continue
        if values + row_values > max_values or size + row_bytes > max_bytes:
            batches.append(range(start, index))
            start, values, size = index, 0, fixed_bytes
        values += row_values
        size += row_bytes
    if len(rows) > start:
        batches.append(range(start, len(rows)))
    return batches, oversized


# ---------------------------------------------------------------------------- inspecting


class _Malformed(Exception):
    """A finding that names no cell of its batch."""


def inspect_sample(
    client: dlp_v2.DlpServiceClient,
    project: str,
    sample: SampledRows,
    *,
    location: str = "global",
    detectors: Sequence[Detector] | None = None,
    config: dlp_v2.InspectConfig | None = None,
    retries: RetryPolicy | None = None,
    max_values: int = MAX_TABLE_VALUES,
    max_bytes: int = MAX_REQUEST_BYTES,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> DlpResult:
    """Inspect `sample` with DLP, billed to `project`, at `location`.

    `detectors` defaults to the shipped catalog and `config` to `inspect_config` of it
    (pass one built once with `builtins=` to ask only for what `builtin_info_types` lists).
    Raises UsageError for an invalid project or location, before any request; everything
    the API does wrong is a gap in the result.
    """
    _check_segment("project", project)
    _check_segment("location", location)
    if max_values < 1 or max_bytes < 1 or max_chars < 0:
        raise UsageError("max_values and max_bytes must be positive, max_chars >= 0")
    found_by = tuple(catalog() if detectors is None else detectors)
    config = inspect_config(found_by) if config is None else config
    policy = retries or retry.DLP
    parent = f"projects/{project}/locations/{location}"
    columns = sample.columns
    widths = {len(row) for row in sample.rows} | {len(columns)}
    if len(widths) > 1 or len(set(columns)) < len(columns):
        raise AuditorError(f"{sample.table}: sampled rows do not match their columns")
    gaps: list[CoverageGap] = []
    if not columns or not sample.rows:
        return DlpResult((), 0, ())

    cells = [tuple((v or "")[:max_chars] for v in row) for row in sample.rows]
    headers = [dlp_v2.FieldId(name=c) for c in columns]
    column_index = {c: i for i, c in enumerate(columns)}
    empty = dlp_v2.InspectContentRequest(
        parent=parent,
        inspect_config=config,
        item=dlp_v2.ContentItem(table=dlp_v2.Table(headers=headers, rows=[])),
    )
    fixed = len(json_format.MessageToJson(dlp_v2.InspectContentRequest.pb(empty)).encode())
    batches, oversized = plan_batches(
        cells, fixed_bytes=fixed, max_values=max_values, max_bytes=max_bytes
    )
    for row, size in oversized:
        gaps.append(
            CoverageGap(
                sample.table,
                f"DLP: row {row} of the sample is about {size} bytes as JSON, over the "
                f"{max_bytes}-byte request limit on its own: not inspected",
            )
        )

    candidates: set[tuple[int, int]] = set()  # (row, column) of cells a finding points at
    sent = 0
    for batch in batches:
        request = dlp_v2.InspectContentRequest(
            parent=parent,
            inspect_config=config,
            item=dlp_v2.ContentItem(
                table=dlp_v2.Table(
                    headers=headers,
                    rows=[
                        dlp_v2.Table.Row(values=[dlp_v2.Value(string_value=v) for v in cells[i]])
                        for i in batch
                    ],
                )
            ),
        )
        what = f"DLP inspect of sample rows {batch.start}-{batch.stop - 1}"
        logger.debug("%s of %s: %d values", what, sample.table, len(batch) * len(columns))
        sent_rows = [cells[i] for i in batch]
        answer, reason, attempts = _with_retries(
            partial(
                client.inspect_content, request=request, retry=NO_RETRY, timeout=policy.timeout
            ),
            policy,
            "an InspectContentResponse",
            sent_rows,
        )
        sent += attempts
        if answer is None:  # the reason is scrubbed already
            gaps.append(CoverageGap(sample.table, shorten(f"{what}: {reason}")))
            continue
        result = answer.result
        found: list[tuple[int, int]] = []
        malformed: list[str] = []
        for finding in result.findings:
            try:
                found.append(_place(finding, batch, column_index))
            except _Malformed as exc:
                malformed.append(str(exc))
        if malformed:
            more = f" (and {len(malformed) - 1} more)" if len(malformed) > 1 else ""
            reason = f"{what}: malformed answer: {malformed[0]}{more}"
            gaps.append(CoverageGap(sample.table, _scrub(reason, sent_rows)))
        if result.findings_truncated:
            gaps.append(
                CoverageGap(
                    sample.table,
                    f"{what}: DLP truncated the findings ({len(found)} returned); "
                    "other secrets in these rows may be unreported",
                )
            )
        candidates.update(found)

    for gap in gaps:
        logger.warning("coverage gap: %s: %s", gap.scope, gap.reason)
    hits = confirm_cells(
        sample.table,
        columns,
        (Cell(column, cells[row][column]) for row, column in sorted(candidates)),
        max_chars,
    )
    return DlpResult(hits, sent, tuple(gaps))


def _check_segment(what: str, value: str) -> None:
    if not _NAME_SEGMENT.fullmatch(value):
        raise UsageError(f"invalid DLP {what} {value!r}")


def _place(
    finding: dlp_v2.Finding, batch: range, column_index: Mapping[str, int]
) -> tuple[int, int]:
    """The (row in the sample, column index) of the cell a finding points at; _Malformed if
    it names no cell of the batch (its text never includes the quote)."""
    record = next(
        (c.record_location for c in finding.location.content_locations if "record_location" in c),
        None,
    )
    if record is None or "table_location" not in record or "field_id" not in record:
        raise _Malformed("a finding has no table location")
    column = record.field_id.name
    if column not in column_index:
        raise _Malformed(f"a finding names column {column!r}, not in the request")
    index = record.table_location.row_index
    if not 0 <= index < len(batch):
        raise _Malformed(f"a finding names row {index} of a {len(batch)}-row request")
    return batch.start + index, column_index[column]


# ---------------------------------------------------------------------------- retries


# What a call can fail with that is the API's answer (or its absence), not a bug here.
_CALL_ERRORS = (
    api_exceptions.GoogleAPICallError,
    json_format.ParseError,
    MalformedAnswer,
    OSError,  # requests' errors among them
    GoogleAuthError,
)


def _with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    expected: str,
    sent: Sequence[Sequence[str]] = (),
) -> tuple[T | None, str, int]:
    """(answer, "", requests sent), or (None, why it failed, requests sent), retried by the
    shared policy. The reason is scrubbed (see _scrub) before it is cut short."""
    retried: list[Exception] = []
    try:
        return retry.call(call, policy, on_retry=retried.append), "", len(retried) + 1
    except GaveUp as gave_up:
        return None, _reason(gave_up, expected, sent), gave_up.attempts


def _reason(gave_up: GaveUp, expected: str, sent: Sequence[Sequence[str]]) -> str:
    """Status and the server's message, scrubbed; never a parser's message (it may quote
    the answer, findings included), nor an unexpected error's (it could quote it too)."""
    error = gave_up.error
    if isinstance(error, json_format.ParseError) and not retry.is_not_json(error):
        text = f"malformed answer: not {expected}"
    elif isinstance(error, _CALL_ERRORS):
        text = describe(error, gave_up.deadline, scrub=lambda t: _scrub(t, sent, cut=False))
    else:  # a conversion that trips over the answer (or a bug)
        return f"unexpected {type(error).__name__}"
    return text + gave_up.note


def _scrub(text: str, sent: Sequence[Sequence[str]] = (), *, cut: bool = True) -> str:
    """`text` (a failure reason) fit for a gap: every secret the catalog finds in it, and
    every run of 8+ characters that occurs in a value `sent`, redacted; then shortened."""
    for match in reversed(scan_value(text)):
        text = text[: match.start] + redact(text[match.start : match.end]) + text[match.end :]
    if sent:
        for run in reversed(list(_RUN.finditer(text))):
            if any(run.group() in value for row in sent for value in row):
                text = text[: run.start()] + redact(run.group()) + text[run.end() :]
    return text if not cut or len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."
