"""The nightly job's report files: rendered from one run and its comparison with the history,
signed when a key is set, written as `nightly-<run id>.*` and `nightly-latest.*`.

Signing (report.signing): the JSON and the HTML carry an Ed25519 signature, made before they
are written, so the digest the history records and the page's manifest names is the signed
JSON's (`sha256sum nightly-<run id>.json` gives it again). The job's key is a Cloud KMS key
version (report.kms); a PEM key file works too (tests, a job off Google Cloud). A signature
that cannot be made (KMS refused or failed) turns signing off for the rest of the run: the
reports are written unsigned, an unsigned page says so, and the job ends with exit 3.
SARIF, JUnit and CSV are not signed (a signed JSON carries the same findings).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from auditor.cli.report import make_signer
from auditor.errors import AuditorError, UsageError
from auditor.history.compare import Comparison
from auditor.logs import Log, LogSeverity
from auditor.model import Report
from auditor.report import EXTENSIONS, FORMATS, html, sarif, signing
from auditor.report import json as json_report
from auditor.report.views import ChangeSet, TrendPoint

STEM = "nightly"
LATEST = "latest"
SIGNED_FORMATS = frozenset({"json", "html"})


def report_signer(
    spec: str | None, name: str | None, kms_endpoint: str | None, log: Log
) -> signing.Signer | None:
    """The reports' signer, made before the scan: a key file that cannot be read, or a KMS
    key version whose public key cannot be fetched, stops the job at once (exit 2)."""
    if spec is None:
        return None
    signer = make_signer(spec, name, kms_endpoint)
    info = signer.info
    log.log(
        LogSeverity.INFO,
        f"reports will be signed with key {info.key_id}"
        + (f" (Cloud KMS {info.kms_key})" if info.kms_key else ""),
        key_id=info.key_id,
        kms_key=info.kms_key,
    )
    return signer


@dataclasses.dataclass
class Signing:
    """Who signs this run's reports, and when; what went wrong signing them."""

    signer: signing.Signer | None
    signed_at: datetime
    log: Log
    problems: list[str] = dataclasses.field(default_factory=list)

    def failed(self, exc: AuditorError) -> None:
        problem = f"cannot sign the reports, writing them unsigned: {exc}"
        self.problems.append(problem)
        self.log.log(LogSeverity.ERROR, problem)
        self.signer = None


def results_json(report: Report, comparison: Comparison, sign: Signing) -> bytes:
    """The JSON report with the comparison (`since_last_run`), signed when a signer is set."""
    text = json_report.render(report, since_last_run=comparison.as_json())
    if sign.signer is not None:
        try:
            text = signing.sign_json(text, sign.signer, sign.signed_at)
        except AuditorError as exc:
            sign.failed(exc)
    return text.encode("utf-8")


def _page(
    report: Report,
    trend: Sequence[TrendPoint],
    changes: ChangeSet | None,
    digest: str,
    sign: Signing,
) -> bytes:
    """The HTML report, signed when a signer is set (unsigned if signing fails)."""
    if sign.signer is not None:
        chunks = html.render_chunks(
            report,
            history=trend,
            changes=changes,
            results_sha256=digest,
            signed_by=sign.signer.info,
        )
        try:
            signed = "".join(signing.sign_html(chunks, sign.signer, sign.signed_at))
        except AuditorError as exc:
            sign.failed(exc)
        else:
            return signed.encode("utf-8")
    return html.render(report, history=trend, changes=changes, results_sha256=digest).encode(
        "utf-8"
    )


def write_reports(
    output_dir: Path,
    formats: Sequence[str],
    run_id: str,
    report: Report,
    results: bytes,
    digest: str,
    *,
    trend: Sequence[TrendPoint],
    comparison: Comparison,
    sign: Signing,
    log: Log,
) -> tuple[Path, ...]:
    """Each format as `nightly-<run id><ext>` and `nightly-latest<ext>`; `results` is the
    JSON (results_json), `digest` its SHA-256."""
    changes = comparison.change_set()
    # The first run has nothing to compare with: the page then shows no "since" block.
    shown = changes if comparison.previous is not None else None
    written = []
    for fmt in formats:
        if fmt == "json":
            data = results
        elif fmt == "html":
            data = _page(report, trend, shown, digest, sign)
        elif fmt == "sarif":  # its baseline is the last run: baselineState new / unchanged
            data = sarif.render(report, since_last_run=changes).encode("utf-8")
        else:
            data = FORMATS[fmt](report).encode("utf-8")
        ext = EXTENSIONS[fmt]
        target = output_dir / f"{STEM}-{run_id}{ext}"
        for path in (target, output_dir / f"{STEM}-{LATEST}{ext}"):
            try:
                write_atomic(path, data)
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        signed = fmt in SIGNED_FORMATS and sign.signer is not None
        log.log(
            LogSeverity.INFO,
            f"wrote {target}" + (" (signed)" if signed else ""),
            path=str(target),
            format=fmt,
            signed=signed,
        )
        written.append(target)
    return tuple(written)


def write_atomic(target: Path, data: bytes) -> None:
    """Write through a temporary file and rename: a reader never sees half a report."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(data)
    partial.replace(target)


__all__ = [
    "LATEST",
    "STEM",
    "Signing",
    "report_signer",
    "results_json",
    "write_atomic",
    "write_reports",
]
