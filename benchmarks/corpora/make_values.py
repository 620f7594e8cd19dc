"""Generate the labelled values corpus: fake secrets of every catalog format in realistic
carriers, and hard negatives, split into a dev and a test half.

    python benchmarks/corpora/make_values.py   # writes values.dev.csv and values.test.csv

Seeded (SEED): the same files every run. Columns: value, expected (secret/clean), detector
(the format planted; empty for clean), carrier, note.

- Positives: every format of secret_formats.GENERATORS in every carrier that fits it: log
  lines, URL query strings, JSON (plain and escaped inside a JSON string), HTTP headers,
  curl commands, Python stack traces and reprs, env/YAML/properties files, DSNs. The
  carriers of each kind are split once between the halves (CARRIER_SEED), so the test half
  holds carriers the detectors were never looked at in.
- Hard negatives, in the same carriers: placeholders and template variables, masks and
  redactions, truncated secrets, wrong checksums and prefixes, hashes (SHA-256, SHA-1, MD5,
  bcrypt), UUIDs, key ids, public keys and vendor documentation example keys.

Every token-shaped literal is written with the `{{}}` split after its prefix (see
auditor.detect.catalog.EXAMPLE_SPLIT) so repository secret scanners stay quiet; readers
remove it with join_example().
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import string
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from benchmarks.corpora import secret_formats as F  # noqa: E402

SEED = 1313
CARRIER_SEED = 13
SPLIT = "{{}}"
Carrier = Callable[[str, str, random.Random], str]  # (secret, name, rng) -> text


def _ts(rng: random.Random) -> str:
    return f"2026-11-{rng.randint(10, 28)}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:09Z"


# Carriers of a secret assigned to a name: (carrier id, template function).
NAMED: dict[str, Carrier] = {
    "log-kv": lambda s, n, r: f'{_ts(r)} level=error svc=loader msg="upstream rejected" {n}={s}',
    "url-query": lambda s, n, r: f"GET https://api.example.net/v2/export?{n}={s}&page=2 HTTP/1.1",
    "json": lambda s, n, r: json.dumps({"event": "retry", n: s, "attempt": r.randint(2, 5)}),
    "stack-trace": lambda s, n, r: (
        "Traceback (most recent call last):\n"
        f'  File "/srv/etl/sync.py", line {r.randint(20, 400)}, in run\n'
        f'    client = connect({n}="{s}")\n'
        "PermissionError: 401 Unauthorized"
    ),
    "env": lambda s, n, r: f"export {n.upper()}={s}",
    "yaml": lambda s, n, r: f'source:\n  {n}: "{s}"\n  region: eu-west-1',
    "python-repr": lambda s, n, r: f"settings={{'{n}': '{s}', 'timeout': 30}}",
    "escaped-json": lambda s, n, r: json.dumps({"payload": json.dumps({n: s, "ok": False})}),
    "properties": lambda s, n, r: f"# loader.properties\n{n}={s}\nretries=3",
    "csv-log": lambda s, n, r: f'{_ts(r)},loader,ERROR,"auth failed for {n}={s}"',
}
# Carriers of a bare token that names itself by its prefix.
BARE: dict[str, Carrier] = {
    "header-bearer": lambda s, n, r: (
        f"GET /v1/runs HTTP/1.1\r\nHost: api.example.net\r\nAuthorization: Bearer {s}\r\n"
    ),
    "curl": lambda s, n, r: f'curl -sS -H "X-Api-Key: {s}" https://api.example.net/v1/jobs',
    "message": lambda s, n, r: (
        f"{_ts(r)} WARN retrying with credential {s} (attempt {r.randint(2, 5)})"
    ),
    "headers-json": lambda s, n, r: json.dumps({"headers": {"Authorization": f"Bearer {s}"}}),
}
BLOB: dict[str, Carrier] = {
    "raw": lambda s, n, r: s,
    "json-string": lambda s, n, r: json.dumps({"name": "loader", n: s}),
    "log-escaped": lambda s, n, r: f"{_ts(r)} level=debug config={json.dumps(s)}",
    "flattened": lambda s, n, r: f"{n}=" + " ".join(s.split("\n")),
}
HEADER_ONLY: dict[str, Carrier] = {
    "raw-header": lambda s, n, r: f"Authorization: {n} {s}",
    "curl-header": lambda s, n, r: (
        f'curl -H "Authorization: {n} {s}" https://api.example.net/v1/export'
    ),
    "requests-headers": lambda s, n, r: (
        f"requests.get(url, headers={{'Authorization': '{n} {s}'}})"
    ),
    "http-dump": lambda s, n, r: (
        f"POST /upload HTTP/1.1\r\nHost: files.example.net\r\nAuthorization: {n} {s}\r\n\r\n"
    ),
    "json-headers": lambda s, n, r: json.dumps(
        {"request": {"headers": {"authorization": f"{n} {s}"}}}
    ),
    "log-header": lambda s, n, r: (
        f"{_ts(r)} DEBUG send: b'GET / HTTP/1.1\\r\\nAuthorization: {n} {s}\\r\\n'"
    ),
}
DSN: dict[str, Carrier] = {
    "env-dsn": lambda s, n, r: (
        f"DATABASE_URL=postgresql://etl_loader:{s}@10.20.0.{r.randint(2, 250)}:5432/warehouse"
    ),
    "mongo-error": lambda s, n, r: (
        f"pymongo.errors.ServerSelectionTimeoutError: mongodb+srv://admin:{s}@cluster0.ab1cd.mongodb.net/?retryWrites=true"
    ),
    "json-dsn": lambda s, n, r: json.dumps({"broker": f"amqp://svc:{s}@rabbit.internal:5672/etl"}),
    "yaml-dsn": lambda s, n, r: f"cache:\n  url: redis://default:{s}@redis-master:6379/0",
    "log-dsn": lambda s, n, r: (
        f"{_ts(r)} ERROR could not connect to mysql://reporting:{s}@db.internal:3306/bi"
    ),
    "jdbc": lambda s, n, r: (
        f"jdbc:sqlserver://sql01.acme.local;databaseName=billing;user=etl;password={s};"
    ),
}
SIGNED: dict[str, Carrier] = {
    "log-url": lambda s, n, r: (
        f"{_ts(r)} export ready url=https://storage.googleapis.com/acme-exports/"
        f"run-{r.randint(1, 99)}.csv?X-Goog-Algorithm=GOOG4-RSA-SHA256"
        "&X-Goog-Date=20261126T031209Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host"
        f"&X-Goog-Signature={s}"
    ),
    "json-url": lambda s, n, r: json.dumps(
        {
            "download": f"https://acme.s3.amazonaws.com/r.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=600&X-Amz-Signature={s}"
        }
    ),
    "curl-url": lambda s, n, r: (
        f"curl -o out.csv 'https://storage.googleapis.com/b/o.csv?X-Goog-Signature={s}&X-Goog-Expires=60'"
    ),
    "html": lambda s, n, r: (
        f'<a href="https://storage.googleapis.com/b/report.pdf?X-Goog-Signature={s}">report</a>'
    ),
}


@dataclass(frozen=True)
class Format:
    carriers: dict[str, Carrier]
    names: tuple[str, ...]  # what the secret is assigned to (or the header scheme)
    cut: int  # where the {{}} split goes in the secret (after its prefix)


PREFIXED = NAMED | BARE
TOKEN_NAMES = ("api_key", "token", "apiKey", "secret", "access_token", "auth_token")
FORMATS: dict[str, Format] = {
    "gcp-service-account-key": Format(BLOB, ("credentials", "sa_key", "service_account_json"), 0),
    "pem-private-key": Format(BLOB, ("private_key", "ssh_key", "tls_key"), 11),
    "aws-secret-access-key": Format(
        NAMED,
        ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "SecretAccessKey", "secret_access_key"),
        4,
    ),
    "azure-storage-key": Format(
        NAMED, ("AccountKey", "azure_storage_key", "storage_account_key"), 4
    ),
    "authorization-basic": Format(HEADER_ONLY, ("Basic",), 4),
    "authorization-bearer": Format(HEADER_ONLY, ("Bearer",), 4),
    "url-credentials": Format(DSN, ("",), 2),
    "password-assignment": Format(
        NAMED, ("password", "db_password", "PGPASSWORD", "pwd", "smtp_pass", "passphrase"), 2
    ),
    "secret-assignment": Format(
        NAMED,
        ("api_key", "client_secret", "auth_token", "secret", "webhook_secret", "x-api-key"),
        4,
    ),
    "signed-url": Format(SIGNED, ("",), 8),
}
for _id in F.GENERATORS:
    FORMATS.setdefault(_id, Format(PREFIXED, TOKEN_NAMES, 0))
CUTS = {  # after the prefix, so the literal never appears whole in the file
    "google-api-key": 4, "google-oauth-client-secret": 7, "google-oauth-access-token": 5,
    "google-oauth-refresh-token": 4, "aws-access-key-id": 4, "azure-client-secret": 4,
    "github-token": 4, "github-fine-grained": 11, "gitlab-token": 5, "slack-token": 5,
    "slack-webhook": 31, "stripe-secret-key": 8, "anthropic-api-key": 7, "openai-api-key": 8,
    "huggingface-token": 3, "jwt": 3, "npm-token": 4, "pypi-token": 5, "dockerhub-token": 9,
    "twilio-api-key": 2, "sendgrid-api-key": 3, "mailgun-api-key": 4, "mailchimp-api-key": 8,
    "shopify-token": 6, "atlassian-api-token": 5, "vault-token": 4, "terraform-cloud-token": 14,
    "databricks-token": 4, "digitalocean-token": 7, "linear-api-key": 8, "postman-api-key": 5,
    "grafana-token": 4, "newrelic-api-key": 5, "doppler-token": 6, "telegram-bot-token": 4,
    "age-secret-key": 4, "groq-api-key": 4, "replicate-api-token": 3, "square-token": 7,
    "airtable-token": 3,
}  # fmt: skip
# What each planted format is reported as (detector ids), where that differs.
DETECTED_AS = {"github-fine-grained": "github-token"}


def _split(secret: str, fmt_id: str) -> str:
    if fmt_id == "gcp-service-account-key":
        return secret.replace("-----BEGIN ", "-----BEGIN " + SPLIT, 1)
    if fmt_id == "pem-private-key":
        return secret.replace("-----BEGIN ", "-----BEGIN " + SPLIT, 1)
    cut = CUTS.get(fmt_id, FORMATS[fmt_id].cut)
    return secret[:cut] + SPLIT + secret[cut:] if cut else secret


def _halves(carriers: dict[str, Carrier]) -> dict[str, list[str]]:
    ids = sorted(carriers)
    random.Random(f"{CARRIER_SEED}:{','.join(ids)}").shuffle(ids)
    return {"dev": sorted(ids[::2]), "test": sorted(ids[1::2])}


# ---------------------------------------------------------------------------- negatives


def _placeholders(rng: random.Random, secret: str, fmt_id: str) -> list[tuple[str, str]]:
    """Look-alikes of one format: (value in place of the secret, why it is not one)."""
    prefix = secret[: CUTS.get(fmt_id, FORMATS[fmt_id].cut)] if fmt_id in CUTS else ""
    out = [
        (
            "${" + rng.choice(("API_TOKEN", "SECRET", "DB_PASSWORD", "TOKEN")) + "}",
            "template variable",
        ),
        ("<" + rng.choice(("your-token", "redacted", "secret", "api-key")) + ">", "placeholder"),
        ("*" * rng.choice((8, 12, 16)), "masked"),
        ("[REDACTED]", "redacted"),
        ("{{ " + rng.choice(("secrets.TOKEN", "vault_token", "api_key")) + " }}", "template"),
    ]
    if prefix:
        out.append((prefix + "x" * max(8, len(secret) - len(prefix)), "prefix and a run of x"))
        out.append((prefix + "...", "truncated to its prefix"))
        out.append((prefix + "<redacted>", "prefix kept, rest redacted"))
    if fmt_id in ("github-token", "npm-token"):
        body = secret[4:34]
        wrong = body + ("AAAAAA" if secret[-6:] != "AAAAAA" else "BBBBBB")
        out.append((secret[:4] + wrong, "checksum does not match"))
    return out


def _hard(rng: random.Random) -> list[tuple[str, str]]:
    """Values that look like secrets but are not: hashes, ids, public keys, doc examples."""
    blob = bytes(rng.getrandbits(8) for _ in range(32))
    ssh_pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA" + F.pick(rng, F.B64, 43) + " ops@bastion"
    return [
        (f"sha256={hashlib.sha256(blob).hexdigest()} file=export.csv", "SHA-256 of a file"),
        (f"commit {hashlib.sha1(blob).hexdigest()} merged", "git commit id"),
        (f'{{"md5": "{hashlib.md5(blob).hexdigest()}", "size": 1024}}', "MD5 checksum"),
        ("password_hash=$2b$12$" + F.pick(rng, F.ALNUM + "./", 53), "bcrypt hash of a password"),
        (f"request_id={uuid.UUID(int=rng.getrandbits(128))} status=200", "UUID"),
        (f'{{"api_key_id": "key_{F.pick(rng, F.HEX, 24)}", "created": "2026-11-01"}}', "key id"),
        (f'"private_key_id": "{F.pick(rng, F.HEX, 40)}"', "service-account key id"),
        (f"kid={F.pick(rng, F.B64URL, 27)} alg=RS256", "JWT key id"),
        (ssh_pub, "SSH public key"),
        (
            "-----BEGIN PUBLIC KEY-----\n" + F.pick(rng, F.B64, 64) + "\n-----END PUBLIC KEY-----",
            "PEM public key",
        ),
        (
            "-----BEGIN CERTIFICATE-----\n"
            + F.pick(rng, F.B64, 64)
            + "\n-----END CERTIFICATE-----",
            "certificate",
        ),
        (
            "publishable_key=pk_live_" + SPLIT + F.pick(rng, F.ALNUM, 24),
            "Stripe publishable key (public)",
        ),
        ("AWS_ACCESS_KEY_ID=AKIA" + SPLIT + "IOSFODNN7EXAMPLE", "AWS documentation example key id"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + SPLIT + "EXAMPLEKEY",
            "AWS documentation example secret",
        ),
        (f"account_sid=AC{F.pick(rng, F.HEX, 32)}", "Twilio account SID (an identifier)"),
        (f"trace_id={F.pick(rng, F.HEX, 32)} span_id={F.pick(rng, F.HEX, 16)}", "trace ids"),
        (f"next_page_token={F.pick(rng, F.B64URL, 40)}", "pagination cursor"),
        (f'{{"token_count": {rng.randint(100, 9000)}, "max_tokens": 4096}}', "LLM token counters"),
        (
            f"secret=projects/acme-prod/secrets/db-password/versions/{rng.randint(1, 9)}",
            "Secret Manager reference",
        ),
        (
            f"kms_key_name=projects/p/locations/eu/keyRings/r/cryptoKeys/k{rng.randint(1, 9)}",
            "KMS key name",
        ),
        (
            f"image=gcr.io/acme/loader@sha256:{hashlib.sha256(blob[::-1]).hexdigest()}",
            "image digest",
        ),
        (f"session_id={F.pick(rng, F.HEX, 32)} page=/checkout", "analytics session id"),
        (
            "https://alice@example.com:8443/path?user=bob@example.com",
            "user@host without a password",
        ),
        ("DATABASE_URL=postgresql://user:password@localhost:5432/app", "documentation DSN"),
        (f"token_type=Bearer expires_in={rng.randint(300, 3600)}", "OAuth metadata"),
        (f"id_token_hint=eyJ{F.pick(rng, F.B64URL, 20)}", "truncated JWT-like cursor"),
        (f'etag="{F.pick(rng, F.B64, 27)}="', "HTTP ETag"),
        (
            f"client_id={rng.randint(10**11, 10**12)}-"
            f"{F.pick(rng, string.ascii_lowercase + string.digits, 32)}.apps.googleusercontent.com",
            "OAuth client id (public)",
        ),
    ]


# ---------------------------------------------------------------------------- writing


def build() -> dict[str, list[dict[str, str]]]:
    rng = random.Random(SEED)
    halves: dict[str, list[dict[str, str]]] = {"dev": [], "test": []}
    for fmt_id in sorted(FORMATS):
        fmt = FORMATS[fmt_id]
        generate = F.GENERATORS[fmt_id]
        detector = DETECTED_AS.get(fmt_id, fmt_id)
        for half, carrier_ids in _halves(fmt.carriers).items():
            for carrier_id in carrier_ids:
                name = rng.choice(fmt.names)
                secret = generate(rng)
                text = fmt.carriers[carrier_id](secret, name, rng)
                planted = text.replace(secret, _split(secret, fmt_id)) if secret in text else None
                if planted is None:  # the carrier escaped the secret (JSON): split it there
                    escaped = json.dumps(secret)[1:-1]
                    planted = text.replace(escaped, _split(escaped, fmt_id))
                halves[half].append(
                    {
                        "value": planted,
                        "expected": "secret",
                        "detector": detector,
                        "carrier": carrier_id,
                        "note": f"{fmt_id} in {carrier_id}",
                    }
                )
                looks = _placeholders(rng, secret, fmt_id)
                chosen = rng.sample(looks[:-1], 2) + looks[-1:]  # the last is format-specific
                for fake, why in chosen:
                    text = fmt.carriers[carrier_id](fake, name, rng)
                    halves[half].append(
                        {
                            "value": text.replace(fake, _split(fake, fmt_id))
                            if fake in text
                            else text,
                            "expected": "clean",
                            "detector": "",
                            "carrier": carrier_id,
                            "note": f"{fmt_id} look-alike in {carrier_id}: {why}",
                        }
                    )
    for half in ("dev", "test"):
        for _ in range(4):
            for value, why in _hard(rng):
                halves[half].append(
                    {
                        "value": value,
                        "expected": "clean",
                        "detector": "",
                        "carrier": "hard",
                        "note": why,
                    }
                )
    return halves


def main() -> None:
    for half, rows in build().items():
        path = HERE / f"values.{half}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(
                handle,
                fieldnames=["value", "expected", "detector", "carrier", "note"],
                lineterminator="\n",
            )
            writer.writeheader()
            writer.writerows(rows)
        secrets = sum(1 for r in rows if r["expected"] == "secret")
        print(f"{path.name}: {len(rows)} rows, {secrets} secrets, {len(rows) - secrets} clean")


if __name__ == "__main__":
    main()
