"""Run logs: one JSON object per line for Cloud Logging, or plain lines for a person.

Cloud Run (and any log agent reading stderr) turns each JSON line into a structured entry:
`severity`, `message` and `time` are the entry's own fields, `logging.googleapis.com/labels`
its labels and `logging.googleapis.com/operation` groups a run's entries; every other key
lands in `jsonPayload`. See
https://cloud.google.com/logging/docs/structured-logging#special-payload-fields.

What a log line may carry: counts, rule ids, fingerprints, severities, paths and resource
names of the tool's own inputs and outputs. Never a finding's resource, column, principal or
message (those are in the reports, which have access control of their own), and never a
secret: every string is passed through `scrub`, which masks URL user-info, credential-like
query parameters and whatever the credential detector catalog recognises.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, TextIO

from auditor.detect.values import scan_value
from auditor.io.safe_text import terminal_text
from auditor.report.summary import iso_utc

__all__ = [
    "JsonLog",
    "Log",
    "LogFormat",
    "LogSeverity",
    "TextLog",
    "scrub",
]

Scalar = str | int | float | bool | None
LABELS_KEY = "logging.googleapis.com/labels"
OPERATION_KEY = "logging.googleapis.com/operation"
RESERVED = frozenset({"severity", "message", "time", LABELS_KEY, OPERATION_KEY})
MAX_MESSAGE = 4000

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@?#]+@")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:access_token|id_token|token|api_?key|key|secret|client_secret|password|"
    r"passwd|pwd|sig|signature|x-goog-signature|x-amz-signature|credential)=)[^&;\s#]+"
)


class LogFormat(StrEnum):
    AUTO = "auto"  # JSON unless stderr is a terminal
    JSON = "json"
    TEXT = "text"


class LogSeverity(StrEnum):
    """Cloud Logging's severity names (the ones a job uses)."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    NOTICE = "NOTICE"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


def scrub(text: str) -> str:
    """`text` with anything secret-looking masked (URL user-info, credential parameters,
    every match of the credential detector catalog)."""
    text = _USERINFO.sub(r"\1[redacted]@", text)
    text = _SECRET_PARAM.sub(r"\1[redacted]", text)
    matches = scan_value(text)
    for match in reversed(matches):  # right to left: earlier offsets stay valid
        text = f"{text[: match.start]}[redacted {match.detector_id}]{text[match.end :]}"
    return text


class Log(Protocol):
    """Where a run reports what it does."""

    def log(self, severity: LogSeverity, message: str, **fields: Scalar) -> None: ...

    def progress(self, message: str) -> None: ...

    def label(self, key: str, value: str) -> None: ...


class JsonLog:
    """One JSON object per line on `stream` (default: the current sys.stderr)."""

    def __init__(
        self,
        *,
        run_id: str,
        labels: Mapping[str, str] | None = None,
        producer: str = "auditor",
        stream: TextIO | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.run_id = run_id
        self.labels = {"run_id": run_id, **{k: scrub(v) for k, v in (labels or {}).items()}}
        self.producer = producer
        self._stream = stream
        self._clock = clock

    def log(self, severity: LogSeverity, message: str, **fields: Scalar) -> None:
        clash = RESERVED.intersection(fields)
        if clash:
            raise ValueError(f"log fields may not be named {sorted(clash)}")
        entry: dict[str, object] = {
            "severity": severity.value,
            "message": scrub(message)[:MAX_MESSAGE],
            "time": iso_utc(self._clock()),
            LABELS_KEY: self.labels,
            OPERATION_KEY: {"id": self.run_id, "producer": self.producer},
            "run_id": self.run_id,
        }
        for key, value in fields.items():
            entry[key] = scrub(value) if isinstance(value, str) else value
        stream = self._stream or sys.stderr
        stream.write(json.dumps(entry, ensure_ascii=True, allow_nan=False) + "\n")
        stream.flush()

    def progress(self, message: str) -> None:
        self.log(LogSeverity.INFO, message)

    def label(self, key: str, value: str) -> None:
        """Add a label to every later line (e.g. the project, once the config is read)."""
        self.labels[key] = scrub(value)


class TextLog:
    """Plain lines through `show` (e.g. the terminal's progress display), scrubbed, with
    control, bidi and invisible characters shown as escapes (`safe_text.terminal_text`).
    JsonLog needs no such step: `ensure_ascii` writes every one of them as a \\u escape."""

    def __init__(self, show: Callable[[str], None]) -> None:
        self._show = show

    def log(self, severity: LogSeverity, message: str, **fields: Scalar) -> None:
        quiet = severity in (LogSeverity.DEBUG, LogSeverity.INFO)
        prefix = "" if quiet else f"{severity.value.lower()}: "
        self._show(f"{prefix}{terminal_text(scrub(message))}")

    def progress(self, message: str) -> None:
        self._show(terminal_text(scrub(message)))

    def label(self, key: str, value: str) -> None:
        """Labels are for log processors; a person reading lines does not need them."""
