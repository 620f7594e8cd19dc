"""The credential-column classifier: the labelled table plus focused behaviour."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.detect import Verdict, classify_column, split_words
from auditor.detect.names import Signal

TABLE = Path(__file__).parent / "data" / "credential_columns.csv"


def _rows() -> list[dict[str, str]]:
    with TABLE.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


ROWS = _rows()


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_labelled_table(row: dict[str, str]) -> None:
    verdict = classify_column(row["path"], row["type"] or None, row["description"] or None)
    expected = row["expected"] == "credential"
    assert verdict.credential is expected, verdict.reason


def test_table_is_well_formed_and_holds_the_decoys() -> None:
    assert list(ROWS[0]) == ["path", "type", "description", "expected", "note"]
    assert {r["expected"] for r in ROWS} == {"credential", "clean"}
    clean = {r["path"] for r in ROWS if r["expected"] == "clean"}
    decoys = {
        "token_count", "input_tokens", "output_tokens", "max_tokens", "total_tokens",
        "tokenizer", "passed", "pass_rate", "passenger", "password_last_rotated_at",
        "password_reset_sent_at", "kms_key_name", "kms_key_id", "key_ring", "api_key_id",
        "api_key_prefix", "api_key_last_used_at", "credential_type",
        "credential_id", "credentials_expire_at", "secret_manager_path", "secret_version",
        "public_key", "public_key_fingerprint", "idempotency_key", "partition_key",
        "primary_key", "sort_key", "cache_key", "dedup_key", "author", "authorized_by",
        "auth_method", "keyword", "keywords", "monkey", "turkey", "token_type",
        "has_api_key", "password_expired", "api_key_count", "token_expires_at",
    }  # fmt: skip
    assert decoys <= clean


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("access_token", ("access", "token")),
        ("accessToken", ("access", "token")),
        ("AccessToken", ("access", "token")),
        ("ACCESS_TOKEN", ("access", "token")),
        ("access-token", ("access", "token")),
        ("APIKey", ("api", "key")),
        ("XApiKey", ("x", "api", "key")),
        ("userID", ("user", "id")),
        ("IDToken", ("id", "token")),
        ("OAuth2RefreshToken", ("oauth", "2", "refresh", "token")),
        ("oAuthToken", ("oauth", "token")),
        ("sha256Hash", ("sha", "256", "hash")),
        ("api_key_v2", ("api", "key", "v", "2")),
        ("HTTPSProxyURL", ("https", "proxy", "url")),
        ("__weird--name__", ("weird", "name")),
        ("monkey", ("monkey",)),
        ("", ()),
    ],
)
def test_split_words(name: str, words: tuple[str, ...]) -> None:
    assert split_words(name) == words


@pytest.mark.parametrize(
    ("path", "credential"),
    [
        ("auth.token", True),
        ("oauth.refresh", True),
        ("oauth.access", True),
        ("credentials.value", True),
        ("secrets.primary", True),
        ("credentials.key", True),
        ("api.key", True),
        ("tokens.refresh", True),
        ("run_config.source.access_token", True),
        # A qualifier in a parent does not reach past a real head word.
        ("tokens.count", False),
        ("usage.input_tokens", False),
        ("credentials.type", False),
        ("credentials.created_at", False),
        ("auth.method", False),
        ("cache.key", False),
        ("database.primary_key", False),  # a parent qualifies only a bare child
        ("labels.key", False),
        # ... and only when the parent is that one qualifying word: map keys in telemetry.
        ("mediadrm_decryption.key", False),
        ("ssl_resumed_session.key", False),
        ("event_params.key", False),
        ("event_params.value.string_value", False),
        ("kms.key_name", False),
        # Vetoes only act inside their own segment: an `output` record may hold a token.
        ("output.access_token", True),
        ("output_tokens", False),
    ],
)
def test_parents(path: str, credential: bool) -> None:
    assert classify_column(path, "STRING").credential is credential


@pytest.mark.parametrize(
    "type_name",
    [
        "BOOL", "BOOLEAN", "INT64", "INTEGER", "FLOAT", "FLOAT64", "NUMERIC", "BIGNUMERIC",
        "TIMESTAMP", "DATE", "DATETIME", "TIME", "GEOGRAPHY", "RANGE", "RANGE<DATE>",
        "int64", "NUMERIC(10, 2)", "ARRAY<INT64>",
    ],
)  # fmt: skip
def test_types_that_cannot_hold_a_secret(type_name: str) -> None:
    verdict = classify_column("api_key", type_name)
    assert verdict == Verdict(False, verdict.reason, None, Signal.TYPE)
    assert verdict.reason.endswith(" column cannot hold a secret")


@pytest.mark.parametrize(
    "type_name",
    [None, "", "STRING", "STRING(64)", "BYTES", "JSON", "ARRAY<STRING>", "X"],
)
def test_types_that_can_hold_a_secret(type_name: str | None) -> None:
    assert classify_column("api_key", type_name).credential


def test_type_reason_uses_the_standard_spelling() -> None:
    assert classify_column("password_expired", "BOOLEAN").reason == (
        "BOOL column cannot hold a secret"
    )
    assert classify_column("api_key_count", "INTEGER").reason == (
        "INT64 column cannot hold a secret"
    )


def test_a_record_is_a_container_and_its_leaves_are_judged() -> None:
    # Behaviour change (issue 13): a RECORD used to be reported itself, so one secret
    # leaf gave two findings and a record named after credentials gave one with no leaf.
    for path, type_name in [("credentials", "RECORD"), ("auth_token", "STRUCT")]:
        verdict = classify_column(path, type_name)
        assert verdict == Verdict(
            False,
            f"RECORD {path!r} is a container: its leaves are judged on their own",
            None,
            Signal.STRUCTURE,
        )
    assert classify_column("credentials.value", "STRING").credential
    assert not classify_column("credentials.provider", "STRING").credential


@pytest.mark.parametrize(
    "description",
    [
        "Plaintext password for the SFTP source",
        "API key used to call the billing API",
        "Bearer token",
        "Private key PEM",
        "Encrypted copy of the refresh token",
        "Username and password for the FTP server",
        "Stores the raw API key",
        "Customer-provided service account JSON",
        "Blob containing the service account key",
        "Error message. The OAuth access token used, if any.",
        "Base64 of the customer's service account key JSON",
        "Raw header value as sent, including Authorization",
    ],
)
def test_description_makes_a_neutral_column_credential(description: str) -> None:
    assert classify_column("value", "STRING", description).credential


@pytest.mark.parametrize(
    "description",
    [
        "Number of tokens",
        "Resource name of the KMS key",
        "ID of the API key",
        "Time the API key was last used",
        "Whether the customer has an API key",
        "Never contains the password",
        "Free-form notes; must not contain secrets",
        "Step parameters as JSON; secrets are stripped",
        "Token count reported by the model",
        "Raw header value as sent",
    ],
)
def test_description_about_a_secret_is_not_one(description: str) -> None:
    assert not classify_column("value", "STRING", description).credential


def test_description_cannot_beat_the_type() -> None:
    assert classify_column("api_key", "STRING", "Hash of the API key").credential
    assert not classify_column("value", "INT64", "Plaintext password").credential


@pytest.mark.parametrize(
    ("path", "description", "noun"),
    [
        ("api_key", "ID of the API key", "id"),
        ("secret", "Resource name of a secret in Secret Manager", "name"),
        ("token", "Kind of the token: access or refresh", "kind"),
        ("password", "The number of passwords saved", "number"),
    ],
)
def test_description_clears_a_credential_name(path: str, description: str, noun: str) -> None:
    verdict = classify_column(path, "STRING", description)
    assert not verdict.credential
    assert verdict.signal is Signal.DESCRIPTION
    assert f"says it is the {noun} of one, not the secret" in verdict.reason


@pytest.mark.parametrize(
    ("path", "description"),
    [
        ("api_key_id", "The API key used for the request"),
        ("token_kind", "Kind of the token"),
        ("next_page_token", "Bearer token of the next page"),
        ("secret_manager_path", "Secret Manager path of the database password"),
    ],
)
def test_description_cannot_flag_a_name_that_says_it_is_metadata(
    path: str, description: str
) -> None:
    assert not classify_column(path, "STRING", description).credential


@pytest.mark.parametrize(
    ("path", "description", "keyword"),
    [
        ("password_hash", None, "password"),
        ("hashed_password", None, "password"),
        ("refresh_token_sha256", None, "token"),
        ("passwordHash", None, "password"),
        ("api_key_hash", None, "api_key"),
        ("pw", "bcrypt password hash", "password"),
        ("value", "Hash of the API key", "api_key"),
        ("value", "Password hashed with bcrypt", "password"),
        ("value", "The password is hashed", "password"),
    ],
)
def test_hashes_of_secrets_are_credential_material(
    path: str, description: str | None, keyword: str
) -> None:
    # Behaviour change (issue 13): hashes used to be cleared. A password hash can be
    # cracked offline, and AUD-001 keeps both out of tenant datasets.
    verdict = classify_column(path, "STRING", description)
    assert verdict.credential and verdict.hashed
    assert verdict.keyword == keyword
    assert "a hash of a secret is credential material" in verdict.reason


def test_lookup_hashes_can_be_allowed_and_hashes_left_out() -> None:
    allowed = classify_column("api_key_hash", "STRING", allow_hashes=["*_key_hash"])
    assert not allowed.credential and allowed.hashed
    assert allowed.reason.endswith("a lookup hash the rule allows ('*_key_hash')")
    assert classify_column("password_hash", "STRING", allow_hashes=["*_key_hash"]).credential
    assert classify_column("API_KEY_HASH", "STRING", allow_hashes=["*_key_hash"]).hashed
    assert not classify_column("API_KEY_HASH", "STRING", allow_hashes=["*_key_hash"]).credential
    left_out = classify_column("password_hash", "STRING", count_hashes=False)
    assert not left_out.credential and left_out.hashed
    assert classify_column("password", "STRING", count_hashes=False).credential


@pytest.mark.parametrize(
    "path",
    [
        "pwmgr_num_saved_passwords",
        "histogram_parent_pwmgr_saved_passwords_total",
        "count_api_keys",
        "password_masked",
        "masked_password",
        "fxa_id_sha256",
        "content_hash",
        "payout_method_hash",
    ],
)
def test_counters_masks_and_other_hashes_are_not_credentials(path: str) -> None:
    assert not classify_column(path, "STRING").credential


@pytest.mark.parametrize(
    ("path", "keyword"),
    [
        ("access_token", "token"),
        ("stripe_secret_key", "secret_key"),
        ("encrypted_api_key", "api_key"),
        ("DB_PWD", "password"),
        ("smtp_pass", "smtp_pass"),
        ("conn_str", "conn_str"),
        ("oauth.refresh", "oauth_refresh"),
        ("ciphertext", "ciphertext"),
    ],
)
def test_keyword(path: str, keyword: str) -> None:
    assert classify_column(path, "STRING").keyword == keyword


def test_reasons() -> None:
    assert classify_column("access_token", "STRING") == Verdict(
        True, "name 'access_token' matches credential keyword 'token'", "token"
    )
    assert classify_column("apikey").reason == (
        "name 'apikey' matches credential keyword 'api_key' (written 'apikey')"
    )
    assert classify_column("api_key_id", "STRING") == Verdict(
        False,
        "name 'api_key_id' is metadata about credential keyword 'api_key' ('id'), not the secret",
        None,
    )
    assert classify_column("next_page_token").reason == (
        "name 'next_page_token': 'page' makes 'token' a non-secret"
    )
    assert classify_column("partition_key").reason == (
        "name 'partition_key': 'key' without a secret qualifier is not a credential"
    )
    assert classify_column("monkey").reason == "no credential keyword in name 'monkey'"
    assert classify_column("value", "STRING", "Bearer token") == Verdict(
        True,
        "description 'Bearer token' names credential keyword 'token'",
        "token",
        Signal.DESCRIPTION,
    )
    assert classify_column("password_hash", "STRING") == Verdict(
        True,
        "name 'password_hash' has a hash ('hash') of credential keyword 'password': a hash of"
        " a secret is credential material",
        "password",
        Signal.NAME,
        hashed=True,
    )


@pytest.mark.parametrize(
    "path", ["monkey", "turkey", "keyword", "author", "passenger", "secretary", "passport"]
)
def test_words_not_substrings(path: str) -> None:
    assert not classify_column(path, "STRING").credential


@given(st.text(max_size=40), st.one_of(st.none(), st.text(max_size=12)), st.text(max_size=80))
def test_never_raises_and_words_are_lower_alnum(
    path: str, type_name: str | None, desc: str
) -> None:
    verdict = classify_column(path, type_name, desc)
    assert verdict.credential is (verdict.keyword is not None)
    assert all(w.isascii() and w.isalnum() and w == w.lower() for w in split_words(path))


@pytest.mark.parametrize(
    ("path", "type_name", "table", "keyword", "hashed"),
    [
        ("data", "STRING", "Credentials", "credential", False),
        ("data_b64", "BYTES", "user_credentials", "credential", False),
        ("value", "JSON", "SecretStore", "secret", False),
        ("value", "STRING", "secret_entries_v2", "secret", False),
        ("blob", None, "passwords", "password", False),
        ("hash", "STRING", "api_keys", "api_key", True),
        ("lookup_hash", "STRING", "ApiKey", "api_key", True),
        ("hash", "STRING", "OAuthRefreshToken", "token", True),  # the token, stored hashed
        ("value", "STRING", "Verification", "verification_code", False),  # better-auth
    ],
)
def test_a_generic_column_holds_what_its_table_is_named_for(
    path: str, type_name: str | None, table: str, keyword: str, hashed: bool
) -> None:
    verdict = classify_column(path, type_name, table=table)
    assert (verdict.credential, verdict.keyword, verdict.hashed) == (True, keyword, hashed)
    assert f"table {table!r}" in verdict.reason and verdict.signal is Signal.NAME


@pytest.mark.parametrize(
    ("path", "type_name", "table"),
    [
        ("value", "STRING", "VerificationToken"),  # the token has its own `token` column
        ("value", "STRING", "EmailVerificationToken"),
        ("value", "STRING", "token_transfers"),  # the table's head is `transfers`
        ("data", "STRING", "events"),
        ("value", "STRING", "SecretReference"),  # a reference is not a store of secrets
        ("payload", "JSON", "Credentials"),  # not a word for the stored value itself
        ("config.value", "STRING", "Credentials"),  # nested: its parent names it
        ("value", "INT64", "Credentials"),  # a number cannot hold a secret
        ("value", "STRING", None),
    ],
)
def test_a_generic_column_of_another_table_is_not_a_credential(
    path: str, type_name: str, table: str | None
) -> None:
    assert not classify_column(path, type_name, table=table).credential


def test_a_lookup_hash_held_by_its_table_can_be_allowed() -> None:
    verdict = classify_column("lookup_hash", "STRING", table="api_keys", allow_hashes=["*_hash"])
    assert (verdict.credential, verdict.hashed) == (False, True)
    assert not classify_column("hash", "STRING", table="api_keys", count_hashes=False).credential
