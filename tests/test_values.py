"""The credential VALUE detector catalog: data checks, examples, labelled corpus, bounds.

Secret-shaped literals in this file are built at run time by concatenation ("AIza" +
"FAKE...") or carry the `{{}}` split that `join_example` removes, so repository secret
scanners (push protection, gitleaks) do not flag the test suite. Every value is fake.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from auditor.detect.catalog import EXAMPLE_SPLIT, Detector, catalog, join_example, parse_catalog
from auditor.detect.re2compat import re2_problems
from auditor.detect.redact import fingerprint_secret, redact
from auditor.detect.validators import VALIDATORS, shannon_entropy
from auditor.detect.values import DEFAULT_MAX_CHARS, Evidence, Match, evidence, scan_value
from auditor.errors import InputError
from auditor.model import Severity

CORPUS = Path(__file__).parent / "data" / "credential_values.csv"
DETECTORS = catalog()
BY_ID = {d.id: d for d in DETECTORS}

# Fake, format-valid secrets, assembled here so no literal in the repo matches a scanner.
GOOGLE_KEY = "AIza" + "FAKE84ekLPCLn0SFqZYVVA-jEnTYGUHe1Ld"
GITHUB_TOKEN = "ghp_" + "FAKE5pj4e2Jekl5JEXhvG8sBRiz7fL4VSfq2"  # checksum valid
JWT = (
    "eyJ" + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJzdmMtcGlwZWxpbmUiLCJ0ZW5hbnQiOiJhY21lIn0"
    ".JWvza5LW6UgxtqkAfrp_WagdBcnBlqybmm_GpBzIwu1"
)
PEM_HEADER = "-----BEGIN " + "PRIVATE KEY-----"


def _ids(text: str, **kwargs: int) -> set[str]:
    return {m.detector_id for m in scan_value(text, **kwargs)}


def _corpus() -> list[dict[str, str]]:
    with CORPUS.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


ROWS = _corpus()


# ---------------------------------------------------------------------------------------
# The catalog as data
# ---------------------------------------------------------------------------------------

# The exact catalog, in precedence order, with the DLP built-in each maps to.
EXPECTED_DLP = {
    "gcp-service-account-key": "GCP_CREDENTIALS",
    "pem-private-key": "ENCRYPTION_KEY",
    "google-api-key": "GCP_API_KEY",
    "google-oauth-client-secret": "OAUTH_CLIENT_SECRET",
    "google-oauth-access-token": "AUTH_TOKEN",
    "google-oauth-refresh-token": "AUTH_TOKEN",
    "signed-url": "STORAGE_SIGNED_URL",
    "aws-access-key-id": "AWS_CREDENTIALS",
    "aws-secret-access-key": "AWS_CREDENTIALS",
    "azure-client-secret": "AZURE_AUTH_TOKEN",
    "azure-storage-key": None,
    "github-token": None,
    "gitlab-token": None,
    "slack-token": None,
    "slack-webhook": None,
    "stripe-secret-key": None,
    "anthropic-api-key": "ANTHROPIC_API_KEY",
    "openai-api-key": "OPENAI_API_KEY",
    "huggingface-token": None,
    "pypi-token": None,
    "npm-token": None,
    "dockerhub-token": None,
    "twilio-api-key": None,
    "sendgrid-api-key": None,
    "mailgun-api-key": None,
    "mailchimp-api-key": None,
    "shopify-token": None,
    "atlassian-api-token": None,
    "vault-token": None,
    "terraform-cloud-token": None,
    "databricks-token": None,
    "digitalocean-token": None,
    "linear-api-key": None,
    "postman-api-key": None,
    "grafana-token": None,
    "newrelic-api-key": None,
    "doppler-token": None,
    "telegram-bot-token": None,
    "age-secret-key": "ENCRYPTION_KEY",
    "groq-api-key": None,
    "replicate-api-token": None,
    "square-token": None,
    "airtable-token": None,
    "jwt": "JSON_WEB_TOKEN",
    "authorization-basic": "BASIC_AUTH_HEADER",
    "authorization-bearer": "AUTH_TOKEN",
    "url-credentials": "PASSWORD",
    "password-assignment": "PASSWORD",
    "secret-assignment": None,
}


def test_catalog_is_the_expected_list_in_precedence_order() -> None:
    assert [(d.id, d.dlp_info_type) for d in DETECTORS] == list(EXPECTED_DLP.items())


def test_catalog_is_loaded_once() -> None:
    assert catalog() is catalog()


@pytest.mark.parametrize("detector", DETECTORS, ids=[d.id for d in DETECTORS])
def test_detector_fields(detector: Detector) -> None:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", detector.id)
    assert detector.name and detector.description
    assert isinstance(detector.severity, Severity)
    assert detector.keywords, "every detector has a prefilter"
    assert all(k == k.lower() for k in detector.keywords)
    assert set(detector.validate) <= set(VALIDATORS)
    assert len(detector.positive_examples) >= 2
    assert len(detector.negative_examples) >= 2
    assert detector.secret_group == min(detector.regex.groups, 1)
    assert EXAMPLE_SPLIT not in "".join(detector.positive_examples + detector.negative_examples)


@pytest.mark.parametrize("detector", DETECTORS, ids=[d.id for d in DETECTORS])
def test_pattern_is_re2_safe_and_compiles(detector: Detector) -> None:
    assert re2_problems(detector.pattern) == []
    assert detector.regex.pattern == detector.pattern
    assert detector.regex.flags & re.ASCII


def test_patterns_compile_and_agree_in_real_re2() -> None:
    # google-re2 is a dev dependency: the engine BigQuery and DLP run the catalog with.
    re2 = pytest.importorskip("re2")
    corpus = Path(__file__).parent.parent / "benchmarks" / "corpora"
    values = [
        join_example(row["value"])
        for half in ("dev", "test")
        for row in csv.DictReader((corpus / f"values.{half}.csv").open(encoding="utf-8"))
    ]
    for detector in DETECTORS:
        compiled = re2.compile(detector.pattern)
        for text in [*detector.positive_examples, *detector.negative_examples, *values]:
            if detector.keywords and not any(k in text.lower() for k in detector.keywords):
                continue  # never run on such a value in any mode
            spans = [m.span() for m in compiled.finditer(text)]
            assert spans == [m.span() for m in detector.regex.finditer(text)], detector.id


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"foo(?=bar)", "unsupported group"),
        (r"foo(?!bar)", "unsupported group"),
        (r"(?<=a)b", "unsupported group"),
        (r"(?<!a)b", "unsupported group"),
        (r"(?>ab)c", "unsupported group"),
        (r"(?(1)a|b)", "unsupported group"),
        (r"(?#comment)a", "unsupported group"),
        (r"(a)\1", "backreference"),
        (r"(?P<x>a)(?P=x)", "unsupported group"),
        (r"a*+", "possessive"),
        (r"a{2,5}+", "possessive"),
        (r"a{1,1001}", "above 1000"),
        (r"a{1001}", "above 1000"),
        (r"(?:a+)+", "repeated group contains a repeat"),
        (r"(?:a|b{1,3})*", "repeated group contains a repeat"),
        (r"(a)(b)", "2 capturing groups"),
        (r"abc\z", "escape '\\z'"),
        (r"abc\Z", "escape '\\Z'"),
        (r"\p{L}+", "escape '\\p'"),
        (r"a(?i)b", "only allowed at the very start"),
        (r"[[:alpha:]]", "'[' inside a character class"),
        (r"[a--b]", "set operation"),
        (r"a{,3}", "not a {n}"),
        (r"*a", "nothing"),
        (r"a**", "nothing (or a repeat)"),
        (r"(a", "unbalanced '('"),
        (r"a)", "unbalanced ')'"),
        (r"[abc", "unterminated"),
        (r"a{5,2}", "max < min"),
    ],
)
def test_re2_check_refuses(pattern: str, problem: str) -> None:
    assert any(problem in p for p in re2_problems(pattern)), re2_problems(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?i)abc",
        r"(?:ab)?c",
        r"(?:aws_?)?key",
        r"(?i:abc)d",
        r"[\s\S]{0,1000}?x",
        r"(?:[^-]|-[A-Za-z]){0,200}?",
        r"\bAKIA[A-Z2-7]{16}\b",
        r"[]a]",
        r"[^]a]",
        r"\x41\.\-",
        r"(?P<secret>x)",
    ],
)
def test_re2_check_accepts(pattern: str) -> None:
    assert re2_problems(pattern) == []


# ---------------------------------------------------------------------------------------
# Examples shipped with each detector
# ---------------------------------------------------------------------------------------

POSITIVES = [(d, e) for d in DETECTORS for e in d.positive_examples]
NEGATIVES = [(d, e) for d in DETECTORS for e in d.negative_examples]


@pytest.mark.parametrize(
    ("detector", "example"), POSITIVES, ids=[f"{d.id}-{i}" for i, (d, _) in enumerate(POSITIVES)]
)
def test_positive_example(detector: Detector, example: str) -> None:
    assert _ids(example) == {detector.id}


@pytest.mark.parametrize(
    ("detector", "example"), NEGATIVES, ids=[f"{d.id}-{i}" for i, (d, _) in enumerate(NEGATIVES)]
)
def test_negative_example(detector: Detector, example: str) -> None:
    assert scan_value(example) == []


@pytest.mark.parametrize(
    ("detector", "example"), POSITIVES, ids=[f"{d.id}-{i}" for i, (d, _) in enumerate(POSITIVES)]
)
def test_every_match_contains_a_keyword(detector: Detector, example: str) -> None:
    # The prefilter contract the SQL and DLP compilations rely on as well.
    for match in detector.regex.finditer(example):
        assert any(k in match.group().lower() for k in detector.keywords)


# ---------------------------------------------------------------------------------------
# The labelled corpus
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=[f"{i:03d}-{r['expected']}" for i, r in enumerate(ROWS)])
def test_corpus_row(row: dict[str, str]) -> None:
    found = _ids(join_example(row["value"]))
    assert found == set(row["detector"].split()), row["note"]


def test_corpus_is_well_formed_and_covers_every_detector() -> None:
    assert list(ROWS[0]) == ["value", "expected", "detector", "note"]
    assert len(ROWS) >= 300
    assert {r["expected"] for r in ROWS} == {"secret", "clean"}
    assert all(r["note"] for r in ROWS)
    for row in ROWS:
        ids = set(row["detector"].split())
        assert ids <= set(BY_ID), row["note"]
        assert bool(ids) == (row["expected"] == "secret"), row["note"]
    covered = {i for r in ROWS for i in r["detector"].split()}
    assert covered == set(BY_ID)


def test_corpus_holds_the_hard_negatives() -> None:
    clean = {r["value"] for r in ROWS if r["expected"] == "clean"}
    for value in [
        "token_count=512",
        "api_key_id=key_123",
        "stripe_key=sk_live_****",
        "OPENAI_API_KEY=<YOUR_API_KEY>",
        "API_KEY=${API_KEY}",
        "password=xxxx",
        "projects/acme-prod/secrets/db-password/versions/3",
        "acme-etl-prod:US.bquxjob_5c3d2e1f_18c4a5b6d7e",
        "gs://acme-landing/tenant-acme/2026/11/26/orders-000000000042.parquet",
        "alice.smith@acme-corp.io",
        "1234567890123456789",
    ]:
        assert value in clean
    notes = {r["note"] for r in ROWS if r["expected"] == "clean"}
    assert {"UUID", "SHA-256 hex digest", "MD5 hex digest", "git SHA", "KMS key name"} <= notes
    assert "JWT-looking but the header has no alg" in notes


# ---------------------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------------------


def test_match_offsets_cover_exactly_the_secret() -> None:
    text = f'{{"user": "etl", "password": "Qz7-vLp2-Kw9x", "maps_key": "{GOOGLE_KEY}"}}'
    matches = scan_value(text)
    assert [(m.detector_id, text[m.start : m.end]) for m in matches] == [
        ("password-assignment", "Qz7-vLp2-Kw9x"),
        ("google-api-key", GOOGLE_KEY),
    ]


def test_earlier_detector_claims_an_overlapping_secret() -> None:
    assert _ids(f'{{"api_key": "{GOOGLE_KEY}"}}') == {"google-api-key"}
    assert _ids(f"Authorization: Bearer {JWT}") == {"jwt"}
    assert _ids(f"https://x-access-token:{GITHUB_TOKEN}@github.com/acme/etl.git") == {
        "github-token"
    }


def test_two_secrets_in_one_value_are_both_found() -> None:
    text = f"key={GOOGLE_KEY} token={GITHUB_TOKEN}"
    assert [m.detector_id for m in scan_value(text)] == ["google-api-key", "github-token"]


def test_evidence_never_carries_the_secret() -> None:
    text = f"GEMINI_API_KEY={GOOGLE_KEY}"
    (match,) = scan_value(text)
    assert match == Match("google-api-key", 15, 15 + len(GOOGLE_KEY))
    shown = evidence(text, match)
    assert shown == Evidence(
        "google-api-key", "AIza\u2026[redacted 35 chars]", fingerprint_secret(GOOGLE_KEY)
    )
    assert GOOGLE_KEY not in repr(shown)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("next_page_token=CiAKGjBpNDd2Nmp3NXBlNHN3dGFk", set()),
        ('{"nextPageToken": "CiAKGjBpNDd2Nmp3NXBlNHN3dGFk"}', set()),
        ("max_token=8f3Kq9ZxL2mN7vR4tB1cY6wE", set()),
        ("hashed_password=Qz7-vLp2-Kw9x", set()),
        ('{"public_key": "8f3Kq9ZxL2mN7vR4tB1cY6wE0aD5sH3j"}', set()),
        ("X-Goog-Credential=etl%40p.iam.gserviceaccount.com%2F20261126%2Fauto", set()),
        ("refresh_token=8f3Kq9ZxL2mN7vR4tB1cY6wE0aD5sH3j", {"secret-assignment"}),
        ("db.auth.token=8f3Kq9ZxL2mN7vR4tB1cY6wE0aD5sH3j", {"secret-assignment"}),
        ("DB_PASSWORD=Qz7-vLp2-Kw9x", {"password-assignment"}),
    ],
)
def test_assigned_key_names_are_judged_with_the_column_word_lists(
    text: str, found: set[str]
) -> None:
    assert _ids(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("password=correcthorse", set()),  # letters only: indistinguishable from prose
        ("password=hunter22", {"password-assignment"}),
        ("password=aaaaaaa1", set()),  # below min_entropy 2.0
        ("api_key=abcdefgh12345678", {"secret-assignment"}),
        ("api_key=abcabcab12121212", set()),  # below min_entropy 3.0
        ("api_key=a1b2c3d4", set()),  # shorter than 16
    ],
)
def test_generic_thresholds(text: str, found: set[str]) -> None:
    assert _ids(text) == found


def _b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("header", "payload", "found"),
    [
        ({"alg": "RS256", "typ": "JWT"}, {"sub": "x"}, {"jwt"}),
        ({"typ": "JWT"}, {"sub": "x"}, set()),  # no alg
        ({"alg": "RS256"}, ["not", "an", "object"], set()),
    ],
)
def test_jwt_validation(header: object, payload: object, found: set[str]) -> None:
    token = f"{_b64url(header)}.{_b64url(payload)}.c2lnbmF0dXJlLWJ5dGVzLWZha2U"
    assert _ids(f"id_token {token}") == found


@pytest.mark.parametrize(
    ("decoded", "found"),
    [
        (b"etl:Qz7-vLp2-Kw9x", {"authorization-basic"}),
        (b"apikey-7Kq2ZxL9mN4v:", {"authorization-basic"}),
        (b"user:password", set()),
        (b"no-colon-here", set()),
        (b"\xff\xfe:binary", set()),
    ],
)
def test_basic_auth_validation(decoded: bytes, found: set[str]) -> None:
    value = base64.b64encode(decoded).decode()
    assert _ids(f"Authorization: Basic {value}") == found


def test_shannon_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == 2.0
    assert shannon_entropy("0123456789abcdef") == 4.0


def test_empty_and_invalid_arguments() -> None:
    assert scan_value("") == []
    assert scan_value(GOOGLE_KEY, max_chars=0) == []
    with pytest.raises(ValueError, match="max_chars"):
        scan_value("x", max_chars=-1)


# ---------------------------------------------------------------------------------------
# Bounded work
# ---------------------------------------------------------------------------------------

# Generous: these take a few milliseconds to ~0.1 s on one core; CI cores are shared.
BOUND_SECONDS = 3.0


def _timed(text: str, **kwargs: int) -> tuple[list[Match], float]:
    start = time.perf_counter()
    result = scan_value(text, **kwargs)
    return result, time.perf_counter() - start


def test_ten_megabytes_are_cut_at_max_chars() -> None:
    filler = "2026-11-26T03:12:09Z step=load status=OK rows=120344 password reset token_count=512\n"
    big = filler * (10_000_000 // len(filler))
    assert len(big) > 9_000_000
    found, elapsed = _timed(f"key={GOOGLE_KEY} " + big + f" key={GOOGLE_KEY}")
    assert [m.start for m in found] == [4]  # the second key lies beyond max_chars
    assert elapsed < BOUND_SECONDS
    tail = big[: DEFAULT_MAX_CHARS - 1] + GOOGLE_KEY
    assert scan_value(tail) == []  # cut mid-key: not a full key any more
    assert _ids(tail, max_chars=len(tail) + 1) == {"google-api-key"}


PATHOLOGICAL = {
    "a": "a" * 100_000,
    "begin": "-----BEGIN" * 10_000,
    "begin-private": PEM_HEADER * 4_000,
    "begin-private-no-body": (PEM_HEADER + "\n" + "x." * 100 + "-") * 300,
    "eyJ": "eyJ" * 40_000,
    "jwt-long-payload": "eyJ" + "a" * 12 + ".eyJ" + "b" * 90_000,
    "jwt-shared-payload": "eyJaaaaaaaaaaaa." * 30 + "eyJ" + "b" * 60_000,
    "akia": "AKIA" * 30_000,
    "password=": "password=" * 10_000,
    "password=aaa": "password=" + "a" * 100_000,
    "scheme": "a://" * 30_000,
    "userinfo": "ab://u:" + ":" * 100_000,
    "userinfo-at": "ab://u:p@" * 10_000,
    "sa-type": '"type": "service_account", ' * 5_000,
    "sa-key": '"private_key": "-----BEGIN' * 5_000,
    "slack": "xoxb-1-" * 15_000,
    "bearer": "Bearer " * 15_000,
    "token=": "token=" * 15_000,
    "azure": "aaa1Q~" * 15_000,
    "sk-": "sk-" * 30_000,
    "signature": "&Signature=" * 10_000,
    "hooks": "hooks.slack.com/services/" * 3_000,
    "colons": ":" * 100_000,
    "ats": "@" * 100_000,
    "base64": "QUJD" * 25_000,
    "accountkey": "AccountKey=" * 10_000,
    "authorization": "authorization: " * 8_000,
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_input_is_linear_ish(name: str) -> None:
    found, elapsed = _timed(PATHOLOGICAL[name])
    assert found == []
    assert elapsed < BOUND_SECONDS, f"{name}: {elapsed:.2f}s"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_scan_value_never_fails_and_stays_in_bounds(text: str) -> None:
    for match in scan_value(text):
        assert 0 <= match.start < match.end <= len(text)
        assert match.detector_id in BY_ID


# ---------------------------------------------------------------------------------------
# Redaction and fingerprints
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "keep", "expected"),
    [
        ("correct-horse-battery-staple", 4, "corr\u2026[redacted 24 chars]"),
        ("hunter22", 4, "h\u2026[redacted 7 chars]"),
        ("abcd", 4, "\u2026[redacted 4 chars]"),
        ("x", 4, "\u2026[redacted 1 char]"),
        ("", 4, "\u2026[redacted 0 chars]"),
        ("0123456789" * 10, 10, "0123456789\u2026[redacted 90 chars]"),
        ("0123456789" * 10, 0, "\u2026[redacted 100 chars]"),
        ("0123456789" * 10, -3, "\u2026[redacted 100 chars]"),
    ],
)
def test_redact_exact(value: str, keep: int, expected: str) -> None:
    assert redact(value, keep) == expected


@given(st.text(), st.integers(min_value=-2, max_value=12))
def test_redact_shows_a_short_prefix_and_the_length_only(value: str, keep: int) -> None:
    out = redact(value, keep)
    shown = max(0, min(keep, len(value) // 5))
    assert out == value[:shown] + f"\u2026[redacted {len(value) - shown} char" + (
        "]" if len(value) - shown == 1 else "s]"
    )


@given(st.text(min_size=28))
def test_redact_never_contains_a_long_value(value: str) -> None:
    # From 28 characters on, the value cannot fit in the output: prefix (<= 4) plus marker.
    assert value not in redact(value)


SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-!@#$%^&*"


@given(st.text(alphabet=SECRET_ALPHABET, min_size=8, max_size=27))
def test_redact_never_contains_a_short_secret(value: str) -> None:
    # The one exception: a value that is the marker's own word is in every output.
    assume(value != "redacted")
    assert value not in redact(value)


def test_a_secret_spelled_like_the_marker_shows_only_the_marker() -> None:
    # What hypothesis found now and then: "redacted" is in its redaction, as the marker.
    assert redact("redacted") == "r…[redacted 7 chars]"


@given(st.text())
def test_fingerprint_is_a_salt_free_sha256_prefix(value: str) -> None:
    fingerprint = fingerprint_secret(value)
    digest = hashlib.sha256(value.encode("utf-8", errors="surrogatepass")).hexdigest()
    assert fingerprint == digest[:16]
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint)
    assert fingerprint_secret(value) == fingerprint
    if len(value) >= 16:
        assert value not in fingerprint


def test_fingerprint_is_stable_across_runs() -> None:
    # A fixed value's fingerprint is a constant: baselines from earlier runs stay valid.
    assert (
        fingerprint_secret("correct-horse-battery-staple")
        == hashlib.sha256(b"correct-horse-battery-staple").hexdigest()[:16]
    )
    assert fingerprint_secret("a") != fingerprint_secret("b")


# ---------------------------------------------------------------------------------------
# Loading errors
# ---------------------------------------------------------------------------------------

_GOOD_ENTRY = """\
  - id: demo
    name: Demo
    description: A demo detector.
    pattern: 'demo-[0-9]{4}'
    keywords: [demo-]
    min_entropy: null
    validate: []
    dlp_info_type: null
    severity: low
    examples:
      positive: [demo-1234, x demo-5678]
      negative: [demo-12, demo]
"""


def test_parse_catalog_accepts_a_minimal_catalog() -> None:
    (detector,) = parse_catalog("detectors:\n" + _GOOD_ENTRY)
    assert detector.id == "demo"
    assert detector.secret_group == 0
    assert detector.severity is Severity.LOW


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        (("'demo-[0-9]{4}'", "'demo(?=x)'"), "lookaround", 5),
        (("'demo-[0-9]{4}'", "'demo-[0-9'"), "unterminated character class", 5),
        (("validate: []", "validate: [entropy]"), "validate", 8),
        (("severity: low", "severity: urgent"), "severity", 10),
        (("id: demo", "id: Demo_1"), "id", 2),
        (("      negative: [demo-12, demo]\n", "      negative: [demo-12]\n"), "negative", 13),
        (("keywords: [demo-]", "keywords: [Demo-]"), "keywords", 6),
    ],
)
def test_parse_catalog_rejects_with_the_line(
    change: tuple[str, str], message: str, line: int
) -> None:
    text = "detectors:\n" + _GOOD_ENTRY.replace(*change)
    with pytest.raises(InputError) as caught:
        parse_catalog(text, "catalog.yaml")
    assert caught.value.path == "catalog.yaml"
    assert caught.value.line == line
    assert message in caught.value.detail


def test_parse_catalog_rejects_duplicate_ids() -> None:
    with pytest.raises(InputError, match="duplicate detector id 'demo'") as caught:
        parse_catalog("detectors:\n" + _GOOD_ENTRY + _GOOD_ENTRY)
    assert caught.value.line == 14


def test_examples_lose_their_split_marker() -> None:
    (detector,) = parse_catalog(
        "detectors:\n" + _GOOD_ENTRY.replace("[demo-1234,", "['demo-{{}}1234',")
    )
    assert detector.positive_examples[0] == "demo-1234"
    assert join_example("ghp_{{}}abc") == "ghp_abc"
