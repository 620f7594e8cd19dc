"""The nightly job signs its reports: `--sign KEY` or `[outputs] sign_key`.

These runs read no estate (an endpoint nobody listens on, --allow-partial), so they are
quick; tests/test_nightly_signed.py runs the job on the local BigQuery. What is checked: the
JSON and the HTML (and their nightly-latest copies) verify with the signer's public key and
fail once edited; the history records the signed JSON's SHA-256, which the page names; a key
that cannot be used stops the job before the scan (exit 2); a signature Cloud KMS refuses
later leaves the reports unsigned (the page says so) and the job exits 3.

Cloud KMS is served over HTTP in the recorded answers' shapes (tests/data/recorded/kms):
getPublicKey answers with the public key of a key made here, and asymmetricSign signs what
it is sent with that key, since a nightly run's message (its reports' hashes, the time)
cannot be recorded beforehand and the recorded key's private half was thrown away.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import google_crc32c
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditor.cli import main
from auditor.config import ConfigError, load_config, parse_config
from auditor.history import HistoryStore
from auditor.resources import PROJECT_DIR

from .support.recorded import RecordedServer, Seen

DATA = Path(__file__).parent / "data"
KMS_RECORDINGS = DATA / "recorded" / "kms"
KMS_KEY = (
    "projects/gac-prod-471220/locations/europe-west1/keyRings/auditor/cryptoKeys/reports/"
    "cryptoKeyVersions/1"
)
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens: every read is a coverage gap


def keys(folder: Path) -> tuple[Ed25519PrivateKey, Path, Path]:
    key = Ed25519PrivateKey.generate()
    private, public = folder / "signer.pem", folder / "signer.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(public_pem(key))
    return key, private, public


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def crc(data: bytes) -> str:
    return str(google_crc32c.value(data))


def invoke(*args: Any) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def nightly(out: Path, *args: Any) -> tuple[Result, list[dict[str, Any]]]:
    result = invoke(
        "nightly", "--endpoint", UNREACHABLE, "--allow-partial", "--output-dir", out,
        "--log-format", "json", *args,
    )  # fmt: skip
    return result, [json.loads(line) for line in result.stderr.splitlines()]


def verify(path: Path, *public: Any, kms_endpoint: str | None = None) -> tuple[int, str]:
    trusted = [a for key in public for a in ("--public-key", key)]
    endpoint = ["--kms-endpoint", kms_endpoint] if kms_endpoint else []
    result = invoke("verify", path, *trusted, *endpoint)
    return result.exit_code, result.output


def latest_run(out: Path) -> Any:
    with HistoryStore.open(out / "history.sqlite") as store:
        run = store.latest()
    assert run is not None
    return run


def edited_copy(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert old in text
    copy = path.with_name("edited-" + path.name)
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


# --------------------------------------------------------------------------- a key file


def test_a_nightly_run_signs_its_json_and_html_with_a_key_file(tmp_path: Path) -> None:
    _, private, public = keys(tmp_path)
    out = tmp_path / "out"
    result, log = nightly(out, "--sign", private, "--signer", "nightly job")
    assert result.exit_code == 0, result.stderr
    run = latest_run(out)
    stem = out / f"nightly-{run.id}"
    for path in (stem.with_suffix(".json"), stem.with_suffix(".html"),
                 out / "nightly-latest.json", out / "nightly-latest.html"):  # fmt: skip
        code, said = verify(path, public)
        assert (code, said.splitlines()[0]) == (0, "VERIFIED: the signature is valid"), path
        assert "signer 'nightly job'" in said
    # The SARIF is not signed (the signed JSON carries the same findings).
    assert verify(stem.with_suffix(".sarif"), public)[0] == 1
    # The history, the page's manifest and sha256sum name the same bytes: the signed JSON.
    signed_json = stem.with_suffix(".json").read_bytes()
    assert b'"signature": {"format":"auditor-signature/1"' in signed_json
    assert run.results_sha256 == hashlib.sha256(signed_json).hexdigest()
    page = stem.with_suffix(".html").read_text(encoding="utf-8")
    assert run.results_sha256 in page
    assert "Signed by <strong>nightly job</strong>" in page
    wrote = [e for e in log if e.get("format") in ("json", "html", "sarif")]
    assert {e["format"]: e["signed"] for e in wrote} == {"json": True, "html": True, "sarif": False}

    # Any edit fails: the verdict on the page, a count in the JSON.
    for path, old, new in (
        (stem.with_suffix(".html"), 'data-status="INCOMPLETE"', 'data-status="PASSING"'),
        (stem.with_suffix(".json"), '"complete": false', '"complete": true'),
    ):
        code, said = verify(edited_copy(path, old, new), public)
        assert code == 1 and said.startswith("FAILED: the content was changed after signing")
    # Another key is not trusted.
    other = tmp_path / "other"
    other.mkdir()
    _, _, other_public = keys(other)
    code, said = verify(stem.with_suffix(".html"), other_public)
    assert code == 1 and "which is not a trusted key" in said


def test_the_config_signs_and_the_command_line_wins(tmp_path: Path) -> None:
    _, _, public = keys(tmp_path)
    cfg = tmp_path / "auditor.toml"
    cfg.write_text(
        '[outputs]\nsign_key = "signer.pem"\nsigner = "from the config"\n', encoding="utf-8"
    )
    out = tmp_path / "out"
    result, _ = nightly(out, "--config", cfg)
    assert result.exit_code == 0, result.stderr
    code, said = verify(out / "nightly-latest.html", public)
    assert code == 0 and "signer 'from the config'" in said
    result, _ = nightly(out, "--config", cfg, "--signer", "from the command line")
    assert result.exit_code == 0, result.stderr
    assert "signer 'from the command line'" in verify(out / "nightly-latest.json", public)[1]


def test_a_key_that_cannot_sign_stops_the_job_before_the_scan(tmp_path: Path) -> None:
    _, _, public = keys(tmp_path)
    out = tmp_path / "out"
    result, log = nightly(out, "--sign", public)  # a public key cannot sign
    assert result.exit_code == 2
    assert log[-1]["message"].startswith(f"error: {public}: not an unencrypted PEM private key")
    assert not any("reading BigQuery" in e["message"] for e in log)
    assert not out.exists() or not list(out.glob("nightly-*"))


# --------------------------------------------------------------------------- config


def test_sign_key_in_the_config_is_checked(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_text("x", encoding="utf-8")
    config = parse_config(
        f'[outputs]\nsign_key = "gcpkms://{KMS_KEY}"\nsigner = "job"\n', "a.toml", tmp_path
    )
    assert (config.sign_key, config.signer) == (f"gcpkms://{KMS_KEY}", "job")
    relative = parse_config('[outputs]\nsign_key = "k.pem"\n', "b.toml", tmp_path)
    assert relative.sign_key == str(tmp_path / "k.pem")
    for text, message in (
        ('[outputs]\n\nsign_key = "gcpkms://projects/p"\n', "c.toml:3: [outputs] sign_key: not a "
         "Cloud KMS key version: 'gcpkms://projects/p'"),
        ('[outputs]\nsign_key = "missing.pem"\n', f"c.toml:2: [outputs] sign_key: "
         f"{tmp_path / 'missing.pem'} is not a file"),
        ('[outputs]\nsigner = ""\n', "c.toml:2: [outputs] signer: expected a non-empty string"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as raised:
            parse_config(text, "c.toml", tmp_path)
        assert str(raised.value).startswith(message)


def test_the_deployed_job_signs_with_a_kms_key_its_account_may_use_alone() -> None:
    deployed = load_config(PROJECT_DIR / "deploy" / "auditor.toml")
    assert deployed.sign_key is not None and deployed.sign_key.startswith("gcpkms://")
    found = re.fullmatch(
        r"gcpkms://projects/([^/]+)/locations/([^/]+)/keyRings/([^/]+)/cryptoKeys/([^/]+)/"
        r"cryptoKeyVersions/(\d+)",
        deployed.sign_key,
    )
    assert found is not None
    _, _, ring, key, _ = found.groups()
    readme = (PROJECT_DIR / "deploy" / "README.md").read_text(encoding="utf-8")
    steps = " ".join(readme.replace("\\\n", " ").split())
    # The role is bound on that one key (not its ring or the project), for the job's account.
    assert (
        f"gcloud kms keys add-iam-policy-binding {key} --keyring {ring} --location \"$REGION\" "
        '--project "$PROJECT" --member "serviceAccount:$SA" --role roles/cloudkms.signerVerifier'
    ) in steps
    assert f"gcloud kms keys create {key} --keyring {ring}" in steps
    assert "--purpose asymmetric-signing --default-algorithm ec-sign-ed25519" in steps
    job = (PROJECT_DIR / "deploy" / "cloud-run-job.yaml").read_text(encoding="utf-8")
    assert "roles/cloudkms.signerVerifier on that key only" in " ".join(
        line.strip().lstrip("#").strip() for line in job.splitlines()
    )


# --------------------------------------------------------------------------- Cloud KMS


class SigningKms(RecordedServer):
    """Cloud KMS in the recorded answers' shapes, with a key made here (see the module)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        super().__init__(KMS_RECORDINGS)
        self.key = key
        recorded = json.loads((KMS_RECORDINGS / "get-public-key.json").read_text())["response"]
        pem = public_pem(key)
        self.public_key_answer = {**recorded["body"], "pem": pem.decode(), "pemCrc32c": crc(pem)}
        signed = json.loads((KMS_RECORDINGS / "asymmetric-sign.json").read_text())["response"]
        self.sign_answer = signed["body"]
        self.signed: list[bytes] = []

    def start(self) -> SigningKms:
        super().start()
        self.answer("GET", r"/publicKey$", body=self.public_key_answer)
        return self

    def respond(self, request: Seen) -> tuple[int, bytes]:
        if request.method == "POST" and request.path.endswith(":asymmetricSign"):
            with self._lock:
                overridden = any(o.matches(request) for o in self.overrides)
            if not overridden:
                with self._lock:
                    self.requests.append(request)
                data = base64.b64decode(request.body["data"])
                assert request.body["dataCrc32c"] == crc(data)  # the client's integrity check
                assert request.path == f"/v1/{KMS_KEY}:asymmetricSign"
                self.signed.append(data)
                signature = self.key.sign(data)
                body = {
                    **self.sign_answer,
                    "signature": base64.b64encode(signature).decode(),
                    "signatureCrc32c": crc(signature),
                }
                return 200, json.dumps(body).encode()
        return super().respond(request)


def test_a_kms_key_signs_the_nightly_reports(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    out = tmp_path / "out"
    with SigningKms(key) as kms:
        result, log = nightly(out, "--sign", f"gcpkms://{KMS_KEY}", "--kms-endpoint", kms.url)
        assert result.exit_code == 0, result.stderr
        assert kms.count("GET", r"/publicKey$") == 1  # once, before the scan
        # Two signatures (JSON, HTML), each over a short message, never a report.
        assert len(kms.signed) == 2
        assert all(m.startswith(b"auditor-signature/1\n{") and len(m) < 1000 for m in kms.signed)
        run = latest_run(out)
        for path in (out / f"nightly-{run.id}.json", out / "nightly-latest.html"):
            # Verified against the key version's public key, fetched from KMS.
            code, said = verify(path, f"gcpkms://{KMS_KEY}", kms_endpoint=kms.url)
            assert code == 0, said
            assert f"(Cloud KMS {KMS_KEY})" in said
    said = [e["message"] for e in log]
    assert any(m.startswith("reports will be signed with key ed25519:") for m in said)
    assert said.index(next(m for m in said if m.startswith("reports will be signed"))) < min(
        i for i, m in enumerate(said) if "reading BigQuery" in m
    )
    (tmp_path / "kms.pub.pem").write_bytes(public_pem(key))
    edited = edited_copy(out / "nightly-latest.html", "INCOMPLETE", "COMPLETE")
    code, said = verify(edited, tmp_path / "kms.pub.pem")
    assert code == 1 and said.startswith("FAILED: the content was changed after signing")


def test_kms_refusing_at_the_start_stops_the_job_with_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with SigningKms(Ed25519PrivateKey.generate()) as kms:
        kms.overrides.clear()  # the recorded public key fails first...
        kms.fail("GET", r"/publicKey$", 403, message="Permission 'cloudkms.cryptoKeyVersions."
                 "viewPublicKey' denied")  # fmt: skip
        result, log = nightly(out, "--sign", f"gcpkms://{KMS_KEY}", "--kms-endpoint", kms.url)
    assert result.exit_code == 2
    assert log[-1]["message"] == (
        f"error: Cloud KMS getPublicKey on {KMS_KEY}: 403 Forbidden: Permission "
        "'cloudkms.cryptoKeyVersions.viewPublicKey' denied"
    )
    assert not any("reading BigQuery" in e["message"] for e in log)
    assert not out.exists() or not list(out.glob("nightly-*"))


def test_a_signature_kms_refuses_leaves_the_reports_unsigned_and_exits_3(tmp_path: Path) -> None:
    _, _, public = keys(tmp_path)
    out = tmp_path / "out"
    with SigningKms(Ed25519PrivateKey.generate()) as kms:
        kms.fail("POST", r":asymmetricSign$", 403, message="Permission denied on resource")
        result, log = nightly(out, "--sign", f"gcpkms://{KMS_KEY}", "--kms-endpoint", kms.url)
        assert kms.count("POST", r":asymmetricSign$") == 1  # then signing is off for the run
    assert result.exit_code == 3
    problem = (
        f"cannot sign the reports, writing them unsigned: Cloud KMS asymmetricSign on {KMS_KEY}: "
        "403 Forbidden: Permission denied on resource"
    )
    assert problem in [e["message"] for e in log]
    assert log[-1]["exit_code"] == 3
    for name in ("nightly-latest.json", "nightly-latest.html"):
        code, said = verify(out / name, public)
        assert (code, said.strip()) == (1, "UNSIGNED: the report carries no signature")
    page = (out / "nightly-latest.html").read_text(encoding="utf-8")
    assert 'id="signature-status" data-signed="false"' in page
    assert latest_run(out).results_sha256 == hashlib.sha256(
        (out / "nightly-latest.json").read_bytes()
    ).hexdigest()
