"""`auditor report`: render a saved JSON report (HTML page, CSV, or the JSON again), signed
if asked; `auditor verify`: check a report's signature against a trusted public key."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import click

from auditor.cli.common import exit_on_errors
from auditor.errors import InputError, UsageError
from auditor.report import FORMATS, html, signing
from auditor.report.reader import read_report

REPORT_FORMATS = ("html", "csv", "controls-csv", "json")


def make_signer(spec: str, name: str | None, kms_endpoint: str | None) -> signing.Signer:
    """The signer of `--sign KEY` (also the nightly job's `sign_key`): an Ed25519 PEM key
    file, or a Cloud KMS key version `gcpkms://...` (its public key is fetched now, so a key
    that cannot be used fails before anything is written)."""
    from auditor.report import kms  # the KMS client only when a KMS key is asked for

    if kms.is_kms(spec):
        version = kms.key_version(spec)
        return kms.KmsSigner(kms.make_kms_client(kms_endpoint), version, name)
    return signing.KeyFileSigner(Path(spec), name)


def _write(output: Path, pieces: Iterable[str]) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with output.open("w", encoding="utf-8", newline="") as out:
            for piece in pieces:
                out.write(piece)
    except OSError as exc:
        raise InputError(str(output), f"cannot write: {exc.strerror or exc}") from None


@click.command()
@click.argument("results", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where to write the report.",
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(REPORT_FORMATS),
    default="html",
    show_default=True,
    help="html: the evidence page; csv: one row per finding; controls-csv: the framework "
    "controls; json: the results again (to sign them).",
)
@click.option(
    "--sign",
    "sign_key",
    metavar="KEY",
    help="Sign the output: an Ed25519 private key (PEM file) or a Cloud KMS key version "
    "gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V.",
)
@click.option("--signer", help="The signer's name shown with the signature (default: the key).")
@click.option("--kms-endpoint", hidden=True, help="Cloud KMS endpoint (tests: recorded answers).")
def report(
    results: Path,
    output: Path,
    fmt: str,
    sign_key: str | None,
    signer: str | None,
    kms_endpoint: str | None,
) -> None:
    """Render RESULTS.json (from `gate`, `scan -f json` or `nightly`) as one offline HTML
    page, a CSV of its findings or controls, or sign it as it is (-f json).

    The page lists the SHA-256 of RESULTS.json so a reader can verify what it was made from.
    With --sign the output carries an Ed25519 signature (HTML, JSON) or gets OUTPUT.sig
    beside it (CSV); `auditor verify` checks it.
    """
    with exit_on_errors():
        key = make_signer(sign_key, signer, kms_endpoint) if sign_key else None
        saved = read_report(results)
        now = datetime.now(UTC)
        if fmt == "html":
            pieces = html.render_chunks(
                saved.report,
                changes=saved.since_last_run,  # a nightly report: what changed since the last run
                results_sha256=saved.sha256,
                signed_by=key.info if key else None,
            )
            _write(output, signing.sign_html(pieces, key, now) if key else pieces)
        elif fmt == "json":
            text = results.read_text(encoding="utf-8")
            if key is None:
                raise UsageError("-f json writes the results again only to sign them: add --sign")
            _write(output, [signing.sign_json(text, key, now)])
        else:
            text = FORMATS[fmt](saved.report)
            _write(output, [text])
            if key is not None:
                sig = output.with_name(output.name + signing.DETACHED_SUFFIX)
                _write(sig, [signing.detached(text.encode("utf-8"), key, now)])
                click.echo(f"wrote {sig}", err=True)
    click.echo(f"wrote {output}", err=True)


@click.command()
@click.argument("report_file", metavar="REPORT", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    required=True,
    metavar="KEY",
    help="A trusted signer's Ed25519 public key: a PEM file, or a Cloud KMS key version "
    "(gcpkms://...) whose public key is fetched. Repeat for several.",
)
@click.option("--kms-endpoint", hidden=True, help="Cloud KMS endpoint (tests: recorded answers).")
def verify(report_file: Path, public_keys: tuple[str, ...], kms_endpoint: str | None) -> None:
    """Check that REPORT (HTML, JSON, or a CSV with REPORT.sig) was signed by a trusted key
    and not changed since. Exit 0: verified; 1: unsigned, changed or signed by another key;
    2: a file or key cannot be read."""
    with exit_on_errors():
        trusted = [_public_key(spec, kms_endpoint) for spec in public_keys]
        outcome = signing.verify_file(report_file, trusted)
    click.echo(signing.describe(outcome))
    sys.exit(0 if outcome.ok else 1)


def _public_key(spec: str, kms_endpoint: str | None) -> signing.Ed25519PublicKey:
    # Imported here: the KMS client only when a KMS key is asked for.
    from auditor.report import kms

    if kms.is_kms(spec):
        version = kms.key_version(spec)
        return kms.public_key(kms.make_kms_client(kms_endpoint), version)
    return signing.load_public_key(Path(spec))
