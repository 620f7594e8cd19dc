"""Signed reports: `auditor report --sign KEY` and `auditor verify REPORT --public-key KEY`.

A signed report verifies against its signer's public key and fails after any edit,
including the one the reader's own checks cannot see (drop every FAIL, recompute the
fingerprints and the summary); a report signed again with another key is not trusted.
The Cloud KMS signer is tested through the real client against recorded answers on HTTP.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditor.cli import main
from auditor.model import Finding, Report, RuleInfo, RunInfo, Severity, Status
from auditor.report import json as json_report
from auditor.report import kms, signing
from auditor.report.reader import report_from_json
from auditor.report.summary import summarize

from .support.recorded import RecordedServer

DATA = Path(__file__).parent / "data"
BQ = "//bigquery.googleapis.com/projects/acme-prod/datasets"
START = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
KMS_KEY = (
    "projects/gac-prod-471220/locations/europe-west1/keyRings/auditor/cryptoKeys/reports/"
    "cryptoKeyVersions/1"
)
RULE = RuleInfo("AUD-011", "no-genai-path-to-customers", "No GenAI path", Severity.CRITICAL,
                "why", "fix", frameworks={"soc2": ("CC6.1",)})  # fmt: skip


def _report() -> Report:
    findings = (
        Finding("AUD-011", RULE.name, Status.FAIL, Severity.CRITICAL, f"{BQ}/customers",
                "genai can read customers", principal="serviceAccount:g@p.iam.gserviceaccount.com"),
        Finding("AUD-011", RULE.name, Status.PASS, Severity.CRITICAL, f"{BQ}/tenant_a", "ok"),
    )  # fmt: skip
    run = RunInfo(START, START + timedelta(seconds=5), "acme-prod", "scan", tool_version="1")
    return Report(run, (RULE,), findings)


def _keys(folder: Path, name: str) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private = folder / f"{name}.pem"
    public = folder / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


@pytest.fixture
def made(tmp_path: Path) -> dict[str, Path]:
    results = tmp_path / "results.json"
    results.write_text(json_report.render(_report()), encoding="utf-8")
    private, public = _keys(tmp_path, "ana")
    other, other_public = _keys(tmp_path, "mallory")
    return {"results": results, "key": private, "pub": public, "other": other,
            "other_pub": other_public, "dir": tmp_path}  # fmt: skip


def run(*args: Any) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_a_signed_page_names_its_signer_and_verifies(made: dict[str, Path]) -> None:
    page = made["dir"] / "report.html"
    code, out = run("report", made["results"], "-o", page, "--sign", made["key"],
                    "--signer", "Ana Auditor")  # fmt: skip
    assert code == 0, out
    text = page.read_text(encoding="utf-8")
    assert "Signed by <strong>Ana Auditor</strong>" in text
    assert text.endswith(signing.HTML_END)
    code, out = run("verify", page, "--public-key", made["pub"])
    assert code == 0, out
    assert out.startswith("VERIFIED: the signature is valid")
    assert "signer 'Ana Auditor'" in out


def test_any_edit_of_a_signed_page_fails(made: dict[str, Path]) -> None:
    page = made["dir"] / "report.html"
    assert run("report", made["results"], "-o", page, "--sign", made["key"])[0] == 0
    text = page.read_text(encoding="utf-8")
    edited = made["dir"] / "edited.html"
    edited.write_text(text.replace("FAILING", "PASSING", 1), encoding="utf-8")
    code, out = run("verify", edited, "--public-key", made["pub"])
    assert code == 1
    assert out.startswith("FAILED: the content was changed after signing")
    # Signed again with another key: the signature is valid, but not by a trusted key.
    resigned = made["dir"] / "resigned.html"
    assert run("report", made["results"], "-o", resigned, "--sign", made["other"])[0] == 0
    code, out = run("verify", resigned, "--public-key", made["pub"])
    assert code == 1 and "which is not a trusted key" in out


def test_an_unsigned_page_says_so_and_does_not_verify(made: dict[str, Path]) -> None:
    page = made["dir"] / "report.html"
    assert run("report", made["results"], "-o", page)[0] == 0
    text = page.read_text(encoding="utf-8")
    assert 'id="signature-status" data-signed="false"' in text and "unsigned" in text
    code, out = run("verify", page, "--public-key", made["pub"])
    assert (code, out.strip()) == (1, "UNSIGNED: the report carries no signature")


def _drop_failures(signed_text: str) -> str:
    """What the reader cannot catch: every FAIL removed, the summary recomputed (the kept
    findings' fingerprints are their own), the signature member kept where it was."""
    data = json.loads(signed_text)
    signature = data.pop("signature")
    data["findings"] = [f for f in data["findings"] if f["status"] != "FAIL"]
    kept = tuple(
        Finding(f["rule_id"], f["rule_name"], Status(f["status"]), Severity(f["severity"]),
                f["resource"], f["message"], principal=f.get("principal"))
        for f in data["findings"]
    )  # fmt: skip
    for finding, saved in zip(kept, data["findings"], strict=True):
        saved["fingerprint"] = finding.fingerprint
    data["summary"] = summarize(Report(_report().run, (RULE,), kept))
    body = json.dumps(data, indent=2, ensure_ascii=True)
    return body[:-2] + signing.JSON_MEMBER + json.dumps(signature, separators=(",", ":")) + "\n}\n"


def test_a_signed_json_report_fails_after_every_fail_is_dropped(made: dict[str, Path]) -> None:
    signed = made["dir"] / "signed.json"
    code, out = run("report", made["results"], "-f", "json", "-o", signed, "--sign", made["key"])
    assert code == 0, out
    text = signed.read_text(encoding="utf-8")
    assert run("verify", signed, "--public-key", made["pub"])[0] == 0
    # Still a valid report: it renders, and the signature member is its last line but one.
    assert report_from_json(text, "signed.json").findings
    assert text.splitlines()[-2].startswith('  "signature": {"format":"auditor-signature/1"')
    tampered = made["dir"] / "tampered.json"
    tampered.write_text(_drop_failures(text), encoding="utf-8")
    passing = report_from_json(tampered.read_text(encoding="utf-8"), "tampered.json")
    assert [f.status for f in passing.findings] == [Status.PASS]  # the reader is satisfied
    code, out = run("verify", tampered, "--public-key", made["pub"])
    assert code == 1
    assert out.startswith("FAILED: the content was changed after signing")
    assert run("report", signed, "-f", "json", "-o", made["dir"] / "x.json",
               "--sign", made["key"])[0] == 2  # fmt: skip  (signed already)


def test_csv_is_signed_beside_it(made: dict[str, Path]) -> None:
    out_csv = made["dir"] / "findings.csv"
    assert run("report", made["results"], "-f", "csv", "-o", out_csv, "--sign", made["key"])[0] == 0
    assert (made["dir"] / "findings.csv.sig").exists()
    assert run("verify", out_csv, "--public-key", made["pub"])[0] == 0
    out_csv.write_text(out_csv.read_text(encoding="utf-8").replace("FAIL", "PASS"))
    code, out = run("verify", out_csv, "--public-key", made["pub"])
    assert code == 1 and "changed after signing" in out
    (made["dir"] / "findings.csv.sig").unlink()
    code, out = run("verify", out_csv, "--public-key", made["pub"])
    assert code == 1 and out.startswith("UNSIGNED")


def test_bad_keys_are_usage_errors(made: dict[str, Path]) -> None:
    page = made["dir"] / "report.html"
    code, out = run("report", made["results"], "-o", page, "--sign", made["pub"])
    assert code == 2 and "not an unencrypted PEM private key" in out
    assert not page.exists()
    code, out = run("verify", made["results"], "--public-key", made["key"])
    assert code == 2 and "not a PEM public key" in out
    code, out = run("report", made["results"], "-o", page, "--sign", "gcpkms://projects/p")
    assert code == 2 and "not a Cloud KMS key version" in out


# --- Cloud KMS --------------------------------------------------------------------------

CONTENT = b"rule_id,status\r\nAUD-011,FAIL\r\n"  # what the recordings signed
SIGNED_AT = datetime(2024, 5, 2, 3, 0, tzinfo=UTC)


def test_a_kms_key_signs_and_its_public_key_verifies(tmp_path: Path) -> None:
    with RecordedServer(DATA / "recorded" / "kms") as server:
        client = kms.make_kms_client(server.url)
        signer = kms.KmsSigner(client, KMS_KEY, "nightly@gac-prod-471220")
        assert signer.info.kms_key == KMS_KEY
        block = signing.detached(CONTENT, signer, SIGNED_AT)
        assert server.count("POST", r":asymmetricSign$") == 1
        report = tmp_path / "findings.csv"
        report.write_bytes(CONTENT)
        (tmp_path / "findings.csv.sig").write_text(block, encoding="utf-8")
        trusted = kms.public_key(client, KMS_KEY)
        outcome = signing.verify_file(report, [trusted])
        assert outcome.ok, outcome.reason
        assert outcome.signature is not None and outcome.signature.kms_key == KMS_KEY
        report.write_bytes(CONTENT.replace(b"FAIL", b"PASS"))
        assert not signing.verify_file(report, [trusted]).ok
        # Through the CLI: the public key fetched from KMS.
        report.write_bytes(CONTENT)
        code, out = run("verify", report, "--public-key", f"gcpkms://{KMS_KEY}",
                        "--kms-endpoint", server.url)  # fmt: skip
        assert code == 0, out
        assert f"(Cloud KMS {KMS_KEY})" in out


def test_kms_refusals_are_clear_errors() -> None:
    with RecordedServer(DATA / "recorded" / "kms") as server:
        client = kms.make_kms_client(server.url)
        signer = kms.KmsSigner(client, KMS_KEY)
        server.fail("POST", r":asymmetricSign$", 403, message="Permission denied on resource")
        with pytest.raises(kms.KmsError, match=r"asymmetricSign on .*: 403 Forbidden: Permi"):
            signing.detached(CONTENT, signer, SIGNED_AT)
        server.reset()
        recorded = json.loads((DATA / "recorded/kms/get-public-key.json").read_text())["response"]
        server.answer("GET", r"/publicKey$", body={**recorded["body"], "algorithm": 12})
        with pytest.raises(kms.KmsError, match="reports are signed with EC_SIGN_ED25519 keys"):
            kms.public_key(client, KMS_KEY)
        server.reset()
        server.answer("GET", r"/publicKey$", body={**recorded["body"], "pemCrc32c": "1"})
        with pytest.raises(kms.KmsError, match="corrupted in transit"):
            kms.public_key(client, KMS_KEY)


def test_the_signed_message_binds_every_field() -> None:
    key = Ed25519PrivateKey.generate()

    class Local:
        info = signing.SignerInfo("ana", key.public_key())

        def sign(self, message: bytes) -> bytes:
            return key.sign(message)

    sig = signing.sign_digest(hashlib.sha256(b"x").hexdigest(), Local(), SIGNED_AT)
    assert signing.verify_signature(sig, [key.public_key()])
    for field, value in (("signer", "mallory"), ("signed_at", "2030-01-01T00:00:00Z"),
                         ("content_sha256", "0" * 64)):  # fmt: skip
        forged = signing.Signature(**{**sig.__dict__, field: value})
        assert not signing.verify_signature(forged, [key.public_key()])
