"""One API call at a time: retried, paced, and worded as a coverage-gap reason.

`Caller` runs a call under a RetryPolicy (auditor.gcp.retry) and, given a Pacer, within the
quotas (auditor.gcp.pacing); a failure for good comes out as `CallFailed(reason)`, the
reason worded by auditor.gcp.wording with how many tries were made.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

from auditor.gcp import retry
from auditor.gcp.pacing import Pacer
from auditor.gcp.retry import GaveUp, MalformedAnswer, RetryPolicy
from auditor.gcp.wording import Scrub, ServerText, describe

__all__ = ["CallFailed", "Caller"]

T = TypeVar("T")


class CallFailed(Exception):
    """A call that failed for good; `reason` goes into the CoverageGap."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Caller:
    """Runs one API call with the policy's retries (and, given a Pacer, within the quotas);
    failures come out as CallFailed(reason)."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        server_text: ServerText = ServerText.SHOWN,
        scrub: Scrub | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.policy = policy
        self._server_text = server_text  # see wording.describe
        self._scrub = scrub
        self._pacer = pacer

    def __call__(
        self, fetch: Callable[[], T], timeout: float | None = None, method: str = "other"
    ) -> T:
        """fetch(), retried; `timeout` names the wait in a reason (default: the policy's)."""
        pacer = self._pacer

        def paced() -> T:
            with pacer.slot(method) if pacer is not None else nullcontext():
                return fetch()

        try:
            return retry.call(paced, self.policy)
        except GaveUp as gave_up:
            reason = self.describe(gave_up.error, timeout or self.policy.timeout)
            raise CallFailed(reason + gave_up.note) from gave_up.error

    def read(
        self, fetch: Callable[[], Any], convert: Callable[[Any], T], method: str = "other"
    ) -> T:
        """fetch (retried) then convert (not retried); a malformed answer is a CallFailed."""
        answer = self(fetch, method=method)
        try:
            return convert(answer)
        except MalformedAnswer as exc:
            raise CallFailed(self.describe(exc)) from exc
        except Exception as exc:  # a conversion that trips over the answer: malformed too
            malformed = MalformedAnswer(f"{type(exc).__name__}: {exc}")
            raise CallFailed(self.describe(malformed)) from exc

    def describe(self, error: BaseException, timeout: float | None = None) -> str:
        """`error` worded as this caller words its failures."""
        return describe(error, timeout, server_text=self._server_text, scrub=self._scrub)
