"""Is a column credential-like? Judged from its dotted path, its type and its description.

A column is a credential when it holds a secret VALUE (plain or encrypted), not when it
only talks about one: `api_key` is, `api_key_id`, `password_last_rotated_at` and
`token_count` are not.

How it decides. The path is split into words (`run_config.source.access_token` ->
run config source access token) and read as one English noun compound: its HEAD, the last
word that is not a mere modifier such as `value` or `encrypted`, says what the column
holds. A head listed in HEAD_RULES is a credential when its qualifier (the words just
before it) allows it: `token` needs nothing but is vetoed by `page`; `key` needs `api`,
`private`, `signing`... A non-modifier word after the secret word (`_id`, `_at`, `_count`,
`_hash`) makes the column metadata about the secret. Descriptions are read the same way,
on the leading noun phrase of each sentence ("Hash of the API key" has head `hash`).

Decisions worth knowing:
- hashes, masks and prefixes of secrets are not credentials (`password_hash`): they are
  one-way or partial; a policy that wants them can match the head words itself.
- `token_type` is not a credential: it holds the OAuth type name ("Bearer").
- plural `tokens` is LLM/NLP usage unless a secret qualifier says otherwise
  (`oauth_tokens`).
- opaque ciphertext with no other name (`ciphertext`, `encrypted_value`) is a credential:
  this platform encrypts columns only to hold credentials.
- a credential-like NAME is never cleared by its description: descriptions go stale and
  the name is what readers and GenAI tools see.

The tables below are the whole catalog and the code only walks them; they are public so
that other detectors (SQL pushdown, DLP) can compile the same catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from auditor.model import canonical_type

__all__ = [
    "CIPHER_WORDS",
    "COMMON_VETOES",
    "HEAD_RULES",
    "MODIFIERS",
    "NON_SECRET_TYPES",
    "SYNONYMS",
    "HeadRule",
    "Verdict",
    "classify_column",
    "split_words",
]


@dataclass(frozen=True)
class Verdict:
    """Whether a column holds a credential, why, and which keyword decided it."""

    credential: bool
    reason: str  # human readable; names the column and the keyword, never a value
    keyword: str | None  # the matched keyword (e.g. "token", "api_key"), if any


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
    " plain plaintext clear cleartext raw b base hex pem der json blob bytes byte bin"
    " binary data str string text txt content contents copy new old prev previous current"
    " curr latest primary secondary backup tmp temp live test prod production sandbox"
    " staging dev kms v confirmation confirm repeat retype"
)

# A name made only of modifiers is a credential if it says it is ciphertext: columns are
# encrypted here only to hold credentials (`encrypted_value BYTES`).
CIPHER_WORDS: frozenset[str] = _words("encrypted enc encr crypted cipher ciphertext wrapped sealed")

# One-way or partial forms of a secret, public halves, and yes/no flags about one: any of
# these before the head (same segment) means the column does not hold the secret
# (`hashed_password`, `has_api_key`, `must_change_password`).
COMMON_VETOES: frozenset[str] = _words(
    "hash hashed sha md5 bcrypt scrypt argon digest salted"
    " masked redacted obfuscated truncated partial"
    " public publishable"
    " has is uses requires require needs must should can allow force"
)

# LLM usage counters (`max_token`), pagination cursors (`next_page_token`) and tokenizer
# specials (`eos_token`) are called tokens but are not secrets.
TOKEN_VETOES: frozenset[str] = _words(
    "input output prompt completion max min total num number cached reasoning context"
    " generated billed billable used remaining limit budget"
    " page pagination continuation next resume sync cursor cancellation cancel idempotency"
    " eos bos pad unk special"
)

# What may qualify a bare `key` as a secret key; everything else (`partition_key`,
# `cache_key`, `kms_key`, `s3_key`) is a lookup key or a KMS resource name.
KEY_QUALIFIERS: frozenset[str] = _words(
    "api private priv secret signing sign encryption decryption access auth authentication"
    " service account sa db database client master hmac ssh license licence app application"
    " shared symmetric session webhook jwt aes encrypted enc wrapped credential admin root"
    " tls ssl cert certificate"
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
    " imap pop mail email keystore truststore"
)

# A `code` is a secret only when it authenticates (`otp_code`, `recovery_codes`), unlike
# `country_code` or `error_code`.
CODE_QUALIFIERS: frozenset[str] = _words(
    "otp totp hotp mfa verification recovery backup auth authorization authentication pin"
    " security access login sms reset"
)

# A `seed` is a secret only when it generates one-time passwords or wallet keys.
SEED_QUALIFIERS: frozenset[str] = _words("otp totp hotp mfa authenticator wallet mnemonic")

# A URL/URI is a secret when its kind embeds user:password or a signature in it
# (DATABASE_URL convention, signed URLs, Slack/Teams webhook URLs).
URL_QUALIFIERS: frozenset[str] = _words(
    "connection conn database db jdbc odbc sqlalchemy mongo mongodb postgres postgresql pg"
    " mysql redis amqp broker signed presigned sas webhook"
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
    "json": HeadRule(needs=_words("sa account keyfile adc")),  # service-account key JSON
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
        " value name hash count type"
    )
) - _words("str pw pin")  # too short to find safely inside another word

# Catalog words are never split as glued words (`passcode` stays whole).
_KNOWN: frozenset[str] = frozenset(
    (*HEAD_RULES, *SYNONYMS, *MODIFIERS, *COMMON_VETOES, *GLUE_PARTS)
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
# "<modifier> of X" is about X ("Encrypted copy of the refresh token"); "<noun> of X" is
# about the noun ("Hash of the API key").
DESC_OF: frozenset[str] = _words("of with containing holding carrying including")
DESC_AND: frozenset[str] = _words("and or")
# A negated subject ("Never the plaintext password") says the secret is NOT there.
DESC_NEGATIONS: frozenset[str] = _words("not never no without non none nor excluding except")
# "<secret> is/are <removed>" says the secret is not there ("secrets are stripped").
DESC_COPULAS: frozenset[str] = _words("is are was were be been")
DESC_REMOVED: frozenset[str] = _words(
    "stripped removed redacted masked excluded omitted dropped scrubbed hashed truncated"
)

# ---------------------------------------------------------------------------------------
# Code
# ---------------------------------------------------------------------------------------

# "OAuth" first: the brand's casing would otherwise split into "o" + "auth".
_WORD_RE = re.compile(r"[oO]Auth|[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_DESC_TOKEN_RE = re.compile(r"[A-Za-z0-9_'\-]+|[^\sA-Za-z0-9_'\-]")
_SENTENCE_RE = re.compile(r"[.!?;\n]")
_TYPE_RE = re.compile(r"[A-Z0-9_]+")


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


def _canonical(word: str) -> tuple[str, ...]:
    if word in _KNOWN or word.isdigit() or len(word) < 5:
        return (SYNONYMS.get(word, word),)
    parts = _unglue(word)
    if parts is None:
        return (word,)
    return tuple(SYNONYMS.get(p, p) for p in parts)


@lru_cache(maxsize=16384)
def _phrase(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Catalog words of one identifier, and the word each came from (for messages)."""
    words: list[str] = []
    raws: list[str] = []
    for raw in split_words(text):
        for word in _canonical(raw):
            words.append(word)
            raws.append(raw)
    return tuple(words), tuple(raws)


class _Kind(Enum):
    CREDENTIAL = "credential"
    VETOED = "vetoed"  # a secret word, made harmless by a veto word
    UNQUALIFIED = "unqualified"  # a head that needs a qualifier it lacks
    OTHER_HEAD = "other"  # the head is some other noun
    NOTHING = "nothing"  # only modifiers, or no words


@dataclass(frozen=True)
class _Judgement:
    kind: _Kind
    keyword: str | None = None  # the secret keyword (CREDENTIAL, VETOED)
    head: str | None = None  # the deciding head word
    other: str | None = None  # veto or qualifier word involved, for messages


def _judge(words: tuple[str, ...], segments: tuple[int, ...]) -> _Judgement:
    """Walk back from the last word to the head and apply its HEAD_RULES entry."""
    for i in range(len(words) - 1, -1, -1):
        word = words[i]
        rule = HEAD_RULES.get(word)
        if rule is not None:
            veto = _veto(rule, words, segments, i)
            if veto is not None:
                return _Judgement(_Kind.VETOED, word, word, veto)
            if rule.needs is None:
                return _Judgement(_Kind.CREDENTIAL, word, word)
            qualifier = _qualifier(rule.needs, words, segments, i)
            if qualifier is not None:
                return _Judgement(_Kind.CREDENTIAL, f"{qualifier}_{word}", word, qualifier)
            if word in MODIFIERS:  # `payload_json`: not a key file, just JSON
                continue
            return _Judgement(_Kind.UNQUALIFIED, None, word, words[i - 1] if i else None)
        if word in MODIFIERS or word.isdigit():
            continue
        return _Judgement(_Kind.OTHER_HEAD, None, word)
    cipher = next((w for w in words if w in CIPHER_WORDS), None)
    if cipher is not None:
        return _Judgement(_Kind.CREDENTIAL, cipher, cipher)
    return _Judgement(_Kind.NOTHING)


def _veto(rule: HeadRule, words: tuple[str, ...], segments: tuple[int, ...], i: int) -> str | None:
    # Same segment only: a parent named `output` may still hold an access token.
    for j in range(i - 1, -1, -1):
        if segments[j] != segments[i]:
            break
        if words[j] in COMMON_VETOES or words[j] in rule.vetoes:
            return words[j]
    return None


def _qualifier(
    needs: frozenset[str], words: tuple[str, ...], segments: tuple[int, ...], i: int
) -> str | None:
    for j in range(i - 1, -1, -1):
        # A parent qualifies only a bare child (`api.key`), not `database.primary_key`.
        if segments[j] != segments[j + 1] and j + 1 != i:
            return None
        if words[j] in needs:
            return words[j]
        if words[j] not in MODIFIERS and not words[j].isdigit():
            return None
    return None


@lru_cache(maxsize=16384)  # tenant datasets repeat the same column paths
def _path_phrase(path: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]:
    words: list[str] = []
    raws: list[str] = []
    segments: list[int] = []
    for index, segment in enumerate(path.split(".")):
        seg_words, seg_raws = _phrase(segment)
        words.extend(seg_words)
        raws.extend(seg_raws)
        segments.extend([index] * len(seg_words))
    return tuple(words), tuple(raws), tuple(segments)


@lru_cache(maxsize=256)
def _base_type(type_name: str | None) -> str | None:
    """Canonical base type: "ARRAY<INT64>" -> INT64, "STRING(64)" -> STRING, "" -> None."""
    if not type_name:
        return None
    upper = type_name.strip().upper()
    while upper.startswith("ARRAY<"):  # an array holds what its elements hold
        upper = upper[len("ARRAY<") :].lstrip()
    match = _TYPE_RE.match(upper)
    return canonical_type(match.group()) if match else None


def _description_judgement(description: str) -> _Judgement | None:
    """The first credential found in the leading noun phrases of the description."""
    for phrase in _description_phrases(description):
        judgement = _judge(phrase, (0,) * len(phrase))
        if judgement.kind is _Kind.CREDENTIAL:
            return judgement
    return None


def _description_phrases(description: str) -> list[tuple[str, ...]]:
    """The subject noun phrases of every sentence of a description."""
    return [
        phrase for sentence in _SENTENCE_RE.split(description) for phrase in _subjects(sentence)
    ]


def _subjects(sentence: str) -> list[tuple[str, ...]]:
    """The conjuncts before the first break word ("Username and password for X")."""
    subjects: list[tuple[str, ...]] = []
    current: list[str] = []
    pieces = _DESC_TOKEN_RE.findall(sentence)
    for index, piece in enumerate(pieces):
        lower = piece.lower()
        words = [w for raw in split_words(piece) for w in _canonical(raw)]
        if any(w in DESC_NEGATIONS for w in words):
            return []
        if lower in DESC_AND or piece == "/":
            subjects.append(tuple(current))
            current = []
        elif not words:  # punctuation ends the subject
            break
        elif lower in DESC_OF:
            if not all(w in MODIFIERS for w in current):
                break
            current = []  # "copy of X" is X
        elif not current and lower in DESC_LEADING:
            continue
        elif lower in DESC_BREAKS:
            following = pieces[index + 1].lower() if index + 1 < len(pieces) else ""
            if lower in DESC_COPULAS and following in DESC_REMOVED | DESC_NEGATIONS:
                return []  # "secrets are stripped", "the password is never stored"
            break
        elif current and lower.endswith("ed") and lower.isalpha() and lower not in MODIFIERS:
            # A participle after the subject starts a complement ("key uploaded by").
            return [] if lower in DESC_REMOVED else [*subjects, tuple(current)]
        else:
            current.extend(words)
    subjects.append(tuple(current))
    return [s for s in subjects if s]


def _quote(text: str, limit: int = 60) -> str:
    # Secrets redacted before the cut: a description may hold one, and a cut one would
    # no longer be recognised. (Imported here: values imports this module.)
    from auditor.detect.values import redact_secrets

    text = redact_secrets(text)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _name_reason(
    path: str,
    judgement: _Judgement,
    words: tuple[str, ...],
    raws: tuple[str, ...],
    segments: tuple[int, ...],
) -> str:
    name = repr(path)
    if judgement.kind is _Kind.VETOED:
        return f"name {name}: {judgement.other!r} makes {judgement.head!r} a non-secret"
    if judgement.kind is _Kind.UNQUALIFIED:
        return f"name {name}: {judgement.head!r} without a secret qualifier is not a credential"
    if judgement.kind is _Kind.OTHER_HEAD:
        # Say which secret the column is about (`api_key_id`), to show it was considered.
        for cut in range(len(words) - 1, 0, -1):
            inner = _judge(words[:cut], segments[:cut])
            if inner.kind is _Kind.CREDENTIAL and inner.head in HEAD_RULES:
                tail = "_".join(dict.fromkeys(raws[cut:]))
                return (
                    f"name {name} is metadata about credential keyword {inner.keyword!r}"
                    f" ({tail!r}), not the secret"
                )
    return f"no credential keyword in name {name}"


def classify_column(
    path: str, type_name: str | None = None, description: str | None = None
) -> Verdict:
    """Whether the column at dotted `path` holds a credential value."""
    base = _base_type(type_name)
    if base in NON_SECRET_TYPES:
        return Verdict(False, f"{base} column cannot hold a secret", None)

    words, raws, segments = _path_phrase(path)
    judgement = _judge(words, segments)
    if judgement.kind is _Kind.CREDENTIAL:
        keyword = judgement.keyword
        written = raws[len(words) - 1 - words[::-1].index(judgement.head or "")]
        aside = f" (written {written!r})" if judgement.head != written else ""
        return Verdict(
            True, f"name {path!r} matches credential keyword {keyword!r}{aside}", keyword
        )

    if description:
        found = _description_judgement(description)
        if found is not None:
            return Verdict(
                True,
                f"description {_quote(description)} names credential keyword {found.keyword!r}",
                found.keyword,
            )
    return Verdict(False, _name_reason(path, judgement, words, raws, segments), None)
