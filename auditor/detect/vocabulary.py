"""The words the credential-column classifier reads, and how identifiers become words.

Data, mostly: the word lists and head rules that `names` walks (see its docstring for how
a column is judged), the description phrase lists, and the splitting of an identifier in
any casing into lower-case catalog words (`OAuth2RefreshToken` -> oauth 2 refresh token,
`apikey` -> api key). Public so that other detectors can compile the same catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class HeadRule:
    """When a head word names a secret value.

    needs None: the word alone names a secret. Otherwise one of `needs` must qualify it,
    i.e. appear before it with only MODIFIERS in between (`api_key`, `api_encrypted_key`).
    Any of `vetoes` earlier in the same path segment clears it (`next_page_token`).
    """

    needs: frozenset[str] | None = None
    vetoes: frozenset[str] = frozenset()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ---------------------------------------------------------------------------------------
# Types. Only values that can carry arbitrary bytes can carry a secret.
# ---------------------------------------------------------------------------------------

# Numbers, booleans, instants and shapes cannot encode a usable secret.
NON_SECRET_TYPES: frozenset[str] = _words(
    "BOOL INT64 FLOAT64 NUMERIC BIGNUMERIC TIMESTAMP DATE DATETIME TIME GEOGRAPHY RANGE"
    " INTERVAL"
    # Standard SQL aliases that canonical_type() leaves alone.
    " INT SMALLINT BIGINT TINYINT BYTEINT DECIMAL BIGDECIMAL"
)

# ---------------------------------------------------------------------------------------
# Words. Everything is matched on whole lower-case words, never on substrings.
# ---------------------------------------------------------------------------------------

# Spellings and plurals folded onto one catalog word; plural `tokens` stays apart because
# it usually counts LLM tokens.
SYNONYMS: dict[str, str] = {
    "passwd": "password",
    "pwd": "password",
    "pword": "password",
    "passwords": "password",
    "passphrases": "passphrase",
    "passcodes": "passcode",
    "secrets": "secret",
    "credentials": "credential",
    "creds": "credential",
    "cred": "credential",
    "keys": "key",
    "cookies": "cookie",
    "codes": "code",
    "pins": "pin",
    "seeds": "seed",
    "headers": "header",
    "urls": "url",
    "uris": "uri",
    "dsns": "dsn",
    "jwts": "jwt",
    "answers": "answer",
}

# Words that change how a value is stored or which copy it is, not what it is: they may
# follow or precede a head without changing it (`api_key_encrypted`, `secrets.primary`).
MODIFIERS: frozenset[str] = _words(
    "value val values encrypted enc encr crypted encoded cipher ciphertext wrapped sealed"
    " plain plaintext clear cleartext raw b base base64 b64 hex pem der json blob bytes byte bin"
    " binary data str string text txt content contents copy new old prev previous current"
    " curr latest primary secondary backup tmp temp live test prod production sandbox"
    " staging dev kms v confirmation confirm repeat retype"
)

# A name made only of modifiers is a credential if it says it is ciphertext: columns are
# encrypted here only to hold credentials (`encrypted_value BYTES`).
CIPHER_WORDS: frozenset[str] = _words("encrypted enc encr crypted cipher ciphertext wrapped sealed")

# One-way forms of a secret: still credential material (see the module doc). Before the
# head (`hashed_password`) or as the head after it (`password_hash`, `token_sha256`).
HASH_WORDS: frozenset[str] = _words(
    "hash hashed hashes sha md5 bcrypt scrypt argon argon2 digest salted pbkdf pbkdf2"
)

# Partial forms of a secret, public halves, yes/no flags and counters about one: any of
# these before the head (same segment) means the column does not hold the secret
# (`masked_password`, `has_api_key`, `must_change_password`, `num_saved_passwords`).
COMMON_VETOES: frozenset[str] = _words(
    "masked redacted obfuscated truncated partial display displayed"
    " public publishable pk"
    " has is uses requires require needs must should can allow force"
    " num number count counts total sum avg mean histogram hist pct percent rate ratio"
)

# LLM usage counters (`max_token`), pagination cursors (`next_page_token`), tokenizer
# specials (`eos_token`), blockchain token contracts and amounts (`from_token`,
# `erc20_token`, `price_per_token`), purchase tokens (they identify a store purchase) and
# "unique token" identifiers are called tokens but are not secrets.
TOKEN_VETOES: frozenset[str] = _words(
    "input output prompt completion max min total num number cached reasoning context"
    " generated billed billable used remaining limit budget"
    " page pagination continuation next resume sync cursor cancellation cancel idempotency"
    " eos bos pad unk special"
    " erc from to swap pair pool amount price per reward debt loan staked"
    " purchase unique"
)

# What may qualify a bare `key` as a secret key; everything else (`partition_key`,
# `cache_key`, `kms_key`, `s3_key`) is a lookup key or a KMS resource name.
KEY_QUALIFIERS: frozenset[str] = _words(
    "api private priv secret signing sign encryption decryption access auth authentication"
    " service account sa db database client master hmac ssh license licence app application"
    " shared symmetric session webhook jwt aes encrypted enc wrapped credential admin root"
    " tls ssl cert certificate hashed"
    # Vendors whose "<vendor> key" is their API key.
    " stripe openai anthropic gemini sendgrid mailgun twilio datadog algolia mapbox"
)

# Plural `tokens` holds secrets only when a secret kind says so (`oauth_tokens`).
TOKEN_QUALIFIERS: frozenset[str] = _words(
    "access refresh auth oauth bearer session id api jwt csrf xsrf personal bot user service"
    " github gitlab slack sas security reset"
)

# `pass` is also pass/fail (`pass_rate`, `dq_pass`): a secret only after an account kind.
PASS_QUALIFIERS: frozenset[str] = _words(
    "db database user username admin root smtp ftp sftp ssh ldap proxy key mysql postgres"
    " postgresql pg redis mongo mongodb basic http wifi vpn bind login account master app"
    " imap pop mail email keystore truststore schema"
)

# A `code` is a secret only when it authenticates (`otp_code`, `recovery_codes`), unlike
# `country_code` or `error_code`.
CODE_QUALIFIERS: frozenset[str] = _words(
    "otp totp hotp mfa verification recovery backup auth authorization authentication pin"
    " security access login sms reset oauth invite invitation signin"
)

# A `seed` is a secret only when it generates one-time passwords or wallet keys.
SEED_QUALIFIERS: frozenset[str] = _words("otp totp hotp mfa authenticator wallet mnemonic")

# A URL/URI is a secret when its kind embeds user:password or a signature in it
# (DATABASE_URL convention, signed URLs, Slack/Teams webhook URLs).
URL_QUALIFIERS: frozenset[str] = _words(
    "connection conn database db jdbc odbc sqlalchemy mongo mongodb postgres postgresql pg"
    " mysql redis amqp broker signed presigned sas webhook"
)

# The MODIFIERS that name a stored value itself, with no other meaning (`value`, `data`,
# `encrypted_blob`): a top-level column named only so holds what its table is named for.
PAYLOAD_WORDS: frozenset[str] = CIPHER_WORDS | _words(
    "value val values data blob bytes byte bin binary content contents json"
    " text txt str string raw b base b64 base64 hex pem der"
)

# Tables named for a secret without a secret word: better-auth's and Lucia's `verification`
# table holds one-time codes and tokens in `value`.
TABLE_SECRETS: dict[tuple[str, ...], str] = {
    ("verification",): "verification_code",
    ("verifications",): "verification_code",
}

# What a hash is for, before a hash word (`lookup_hash` in `api_keys`): still a generic name.
HASH_PURPOSES: frozenset[str] = _words("lookup index search fast")

# Words after a secret in a table's name that make the table a collection of that secret
# (`secret_store`, `credential_vault`): its generic columns (`value`, `data`) hold one.
TABLE_CONTAINERS: frozenset[str] = _words(
    "store stores vault vaults storage entry entries item items record records row rows"
    " table tbl list set"
)

# Bare token kinds (`oauth.refresh`, `tokens.access`) are tokens when their parent says so.
TOKEN_KIND_PARENTS: frozenset[str] = _words("oauth token tokens jwt auth")

HEAD_RULES: dict[str, HeadRule] = {
    # Words that name a secret value on their own.
    "password": HeadRule(),
    "passphrase": HeadRule(),
    "passcode": HeadRule(),
    "secret": HeadRule(),
    "credential": HeadRule(),
    "token": HeadRule(vetoes=TOKEN_VETOES),
    "cookie": HeadRule(),
    "dsn": HeadRule(),  # data source names carry user:password
    "jwt": HeadRule(),
    "otp": HeadRule(),  # the one-time password itself
    "totp": HeadRule(),
    "hotp": HeadRule(),
    "keystore": HeadRule(),  # JKS/PKCS#12 blobs hold private keys
    "keyfile": HeadRule(),
    "keyset": HeadRule(),  # Tink keysets are key material
    # Words that name a secret only with the right qualifier.
    "key": HeadRule(needs=KEY_QUALIFIERS),
    "tokens": HeadRule(needs=TOKEN_QUALIFIERS, vetoes=TOKEN_VETOES),
    "pass": HeadRule(needs=PASS_QUALIFIERS),
    "pw": HeadRule(needs=PASS_QUALIFIERS),
    "code": HeadRule(needs=CODE_QUALIFIERS),
    "seed": HeadRule(needs=SEED_QUALIFIERS),
    "pin": HeadRule(needs=_words("card atm sim login user account security")),
    "phrase": HeadRule(needs=_words("seed recovery mnemonic secret")),
    "answer": HeadRule(needs=_words("security secret")),  # security-question answers
    "header": HeadRule(needs=_words("auth authorization bearer cookie proxy")),
    "string": HeadRule(needs=_words("connection conn")),
    "str": HeadRule(needs=_words("connection conn")),
    "url": HeadRule(needs=URL_QUALIFIERS),
    "uri": HeadRule(needs=URL_QUALIFIERS),
    "json": HeadRule(needs=_words("sa account keyfile adc key")),  # service-account key JSON
    "refresh": HeadRule(needs=TOKEN_KIND_PARENTS),
    "access": HeadRule(needs=TOKEN_KIND_PARENTS),
    "bearer": HeadRule(needs=TOKEN_KIND_PARENTS),
    "auth": HeadRule(needs=_words("basic http proxy digest")),  # "user:pass" header values
}

# Words that may be glued together in one lower-case word (`apikey`, `accesstoken`,
# `dbpass`); unknown glued words such as `monkey` or `keyword` stay whole.
GLUE_PARTS: frozenset[str] = (
    frozenset(HEAD_RULES)
    | frozenset(SYNONYMS)
    | _words(
        "api access refresh auth oauth private priv secret client session id bearer signing"
        " encryption service account sa db user admin root master webhook app encrypted"
        " value name hash hashed count type"
    )
) - _words("str pw pin")  # too short to find safely inside another word

# Catalog words are never split as glued words (`passcode` stays whole).
_KNOWN: frozenset[str] = frozenset(
    (*HEAD_RULES, *SYNONYMS, *MODIFIERS, *COMMON_VETOES, *HASH_WORDS, *GLUE_PARTS)
).union(
    *(rule.needs or () for rule in HEAD_RULES.values()),
    *(rule.vetoes for rule in HEAD_RULES.values()),
)

# ---------------------------------------------------------------------------------------
# Descriptions: read the leading noun phrase of each sentence.
# ---------------------------------------------------------------------------------------

# Skipped at the start of a phrase ("Stores the raw API key").
DESC_LEADING: frozenset[str] = _words(
    "the a an this these its their our column field stores stored contains holds keeps"
)
# End the phrase: what follows is a complement, not the subject.
DESC_BREAKS: frozenset[str] = _words(
    "for to from in on at by via into per as when where which that who whose if after"
    " before until since while than so but because whether"
    " used sent issued generated returned provided given supplied obtained"
    " is are was were be been will can may must should"
    " the a an this these its their"
)
# "<modifier> of X" is about X ("Encrypted copy of the refresh token"), "<hash> of X" is a
# hash of X ("Hash of the API key"); "<noun> of X" is about the noun ("ID of the key").
DESC_OF: frozenset[str] = _words("of with")
# "..., including X": X is part of what the column holds ("Raw header value, including
# Authorization"): a subject of its own.
DESC_INCLUDES: frozenset[str] = _words("including containing holding carrying incl")
# "<noun> of <secret>" with one of these nouns says the column is ABOUT a secret, which
# clears even a credential-like name ("ID of the API key", "Resource name of a secret").
DESC_METADATA: frozenset[str] = _words(
    "id ids identifier name names kind type types count number length size version"
    " status state expiry expiration date time timestamp reference path location prefix"
    " suffix fingerprint label"
)
DESC_AND: frozenset[str] = _words("and or")
# A negated subject ("Never the plaintext password") says the secret is NOT there.
DESC_NEGATIONS: frozenset[str] = _words("not never no without non none nor excluding except")
# "<secret> is/are <removed>" says the secret is not there ("secrets are stripped").
DESC_COPULAS: frozenset[str] = _words("is are was were be been")
DESC_REMOVED: frozenset[str] = _words(
    "stripped removed redacted masked excluded omitted dropped scrubbed truncated"
)

# ---------------------------------------------------------------------------------------
# Code
# ---------------------------------------------------------------------------------------

# "OAuth" first: the brand's casing would otherwise split into "o" + "auth".
_WORD_RE = re.compile(r"[oO]Auth|[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def split_words(name: str) -> tuple[str, ...]:
    """Lower-case words of an identifier in any casing: snake, camel, Pascal, UPPER, kebab.

    >>> split_words("OAuth2RefreshToken")
    ('oauth', '2', 'refresh', 'token')
    """
    return tuple(m.group().lower() for m in _WORD_RE.finditer(name))


@lru_cache(maxsize=4096)
def _unglue(word: str) -> tuple[str, ...] | None:
    """Split a glued lower-case word into the fewest GLUE_PARTS, or None."""
    if word in GLUE_PARTS:
        return (word,)
    best: tuple[str, ...] | None = None
    for cut in range(len(word) - 2, 1, -1):
        head = word[:cut]
        if head not in GLUE_PARTS:
            continue
        rest = _unglue(word[cut:])
        if rest is not None and (best is None or len(rest) + 1 < len(best)):
            best = (head, *rest)
    return best


def canonical_words(word: str) -> tuple[str, ...]:
    if word in _KNOWN or word.isdigit() or len(word) < 5:
        return (SYNONYMS.get(word, word),)
    parts = _unglue(word)
    if parts is None:
        return (word,)
    return tuple(SYNONYMS.get(p, p) for p in parts)


@lru_cache(maxsize=16384)
def phrase(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Catalog words of one identifier, and the word each came from (for messages)."""
    words: list[str] = []
    raws: list[str] = []
    for raw in split_words(text):
        for word in canonical_words(raw):
            words.append(word)
            raws.append(raw)
    return tuple(words), tuple(raws)
