"""One BigQuery call at a time: retried, paced, and worded as a coverage-gap reason.

`Caller` runs a call through auditor.sources.pacing (bounded retries with backoff, a rate
per API method and the shared concurrency limit) and turns a failure for good into
`CallFailed(reason)`; `describe` words an error for a CoverageGap (status code and a short
message, secrets redacted, never the server's text where it may quote table data).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, Protocol, TypeVar

from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from requests.exceptions import InvalidJSONError

from auditor.detect.values import redact_secrets
from auditor.sources import apierrors, pacing
from auditor.sources.infoschema import Malformed

T = TypeVar("T")


class CallLimits(Protocol):
    """What a Caller needs of the collection's options."""

    @property
    def timeout(self) -> float: ...

    @property
    def attempts(self) -> int: ...

    @property
    def backoff(self) -> float: ...


class CallFailed(Exception):
    """A call that failed for good; `reason` goes into the CoverageGap."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_TRANSIENT_CODES = frozenset({429, 500, 502, 503, 504})
_TRANSIENT_REASONS = frozenset({"rateLimitExceeded", "backendError", "internalError"})
_KEYWORD_RE = re.compile(r"[A-Za-z]{1,64}")  # an error reason such as accessDenied
MAX_REASON = 300


def transient(exc: BaseException) -> bool:
    """429, 5xx, a lost connection or a transport timeout: worth another try."""
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        if exc.code in _TRANSIENT_CODES:
            return True
        errors = exc.errors or []
        return any(isinstance(e, dict) and e.get("reason") in _TRANSIENT_REASONS for e in errors)
    if isinstance(exc, TimeoutError):  # a wait deadline of ours (query), not the transport
        return False
    # requests' ConnectionError, Timeout and ChunkedEncodingError are OSErrors.
    return isinstance(exc, OSError | auth_exceptions.TransportError)


def describe(
    exc: BaseException, timeout: float | None = None, *, server_message: bool = True
) -> str:
    """Status code and a short message for a failed call, fit for a CoverageGap reason.

    server_message=False keeps only the status and the error's reason keyword: calls that
    read table contents get answers whose free text may quote the values they choked on.
    """
    if isinstance(exc, api_exceptions.GoogleAPICallError) and exc.code is not None:
        errors = exc.errors or []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        status = apierrors.status_line(exc)
        if not server_message:
            keyword = str(first.get("reason", ""))
            shown = f" ({keyword})" if _KEYWORD_RE.fullmatch(keyword) else ""
            return f"{status}{shown}; message withheld: it may quote table data"
        message = apierrors.server_message(exc)
        if not message and first:
            message = str(first.get("message", ""))
        return _short(f"{status}: {message or 'no message'}")
    if isinstance(exc, Malformed):
        return _short(f"malformed answer: {exc}")
    if isinstance(exc, InvalidJSONError):  # an OSError too: not a connection error
        return _short(f"malformed answer: not JSON ({type(exc).__name__}: {exc})")
    if isinstance(exc, TimeoutError):
        return f"timeout after {timeout:g} s" if timeout else "timeout"
    if isinstance(exc, OSError | auth_exceptions.TransportError):
        name = type(exc).__name__
        return _short(f"{'timeout' if 'Timeout' in name else 'connection error'} ({name}: {exc})")
    return _short(f"unexpected {type(exc).__name__}: {exc}")


def _short(text: str) -> str:
    # Secrets a server quoted are redacted before the cut, which could hide them.
    line = " ".join(redact_secrets(text).split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


class Caller:
    """Runs one API call with bounded retries (and, given a Pacer, within the quotas);
    failures come out as CallFailed(reason)."""

    def __init__(
        self,
        options: CallLimits,
        *,
        server_messages: bool = True,
        pacer: pacing.Pacer | None = None,
    ) -> None:
        self._options = options
        self._server_messages = server_messages  # see describe()
        self._pacer = pacer

    def __call__(
        self, fetch: Callable[[], T], timeout: float | None = None, method: str = "other"
    ) -> T:
        pacer = self._pacer

        def paced() -> T:
            with pacer.slot(method) if pacer is not None else nullcontext():
                return fetch()

        try:
            return pacing.call(
                paced,
                attempts=self._options.attempts,
                backoff=self._options.backoff,
                transient=transient,
            )
        except pacing.GaveUp as gave_up:
            reason = describe(
                gave_up.error,
                timeout or self._options.timeout,
                server_message=self._server_messages,
            )
            if gave_up.attempts > 1:
                reason += f" (gave up after {gave_up.attempts} attempts)"
            raise CallFailed(reason) from gave_up.error

    def read(
        self, fetch: Callable[[], Any], convert: Callable[[Any], T], method: str = "other"
    ) -> T:
        """fetch (retried) then convert (not retried); a malformed answer is a CallFailed."""
        answer = self(fetch, method=method)
        try:
            return convert(answer)
        except Malformed as exc:
            raise CallFailed(describe(exc)) from exc
        except Exception as exc:  # a conversion that trips over the answer: malformed too
            raise CallFailed(describe(Malformed(f"{type(exc).__name__}: {exc}"))) from exc
