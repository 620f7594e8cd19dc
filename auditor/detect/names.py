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

Structure and type come first. A RECORD is a container, never a credential itself: its
leaves are judged one by one. Numbers, booleans, dates and times cannot hold a secret. A
nested leaf is judged by its own name; its parent counts only when the leaf's name is
generic: made of modifiers only (`credentials.value`, `secrets.primary`), or a bare word
whose one-word parent qualifies it (`api.key`, `oauth.refresh`). So `labels.key`,
`mediadrm_decryption.key` and `ssl_resumed_session.key` are map keys, not secret keys.

Decisions worth knowing:
- hashes of secrets are credential material (`password_hash`, `hashed_api_key`,
  "bcrypt password hash"): a password hash can be cracked offline, and a tenant dataset
  is no place for either. `Verdict.hashed` says so; callers pass `allow_hashes` (globs on
  the column name, e.g. `*_key_hash` for lookup hashes of random API keys) to accept
  some, or `count_hashes=False` where only the secret itself matters.
- masks, prefixes and public halves are not credentials (`api_key_prefix`, `public_key`);
  nor are counters about them (`num_saved_passwords`, `token_count`).
- `token_type` is not a credential: it holds the OAuth type name ("Bearer").
- plural `tokens` is LLM/NLP usage unless a secret qualifier says otherwise
  (`oauth_tokens`).
- opaque ciphertext with no other name (`ciphertext`, `encrypted_value`) is a credential:
  this platform encrypts columns only to hold credentials.
- a top-level column named only for how a value is stored (`value`, `data`, `blob`, or a
  bare `hash`/`lookup_hash`) holds what its table is named for: `data` in `credentials`,
  `value` in `secret_store`, `hash` in `api_keys` (a hash, see above), `value` in
  `verification` (better-auth's one-time codes). A token table keeps its token in a `token`
  column and describes it in the others (next-auth's `VerificationToken.value`), so only a
  bare hash there (`OAuthToken.hash`) holds the token.
- a description decides when the name does not: it flags a neutral name (`blob` "Base64
  of the service account key JSON", `headers.value` "Raw header value, including
  Authorization") and clears a credential-like one when it says the column is the id,
  name, kind, count... of a secret ("ID of the API key", "Resource name of a secret").
  It cannot flag a name that already says it is metadata (`api_key_id`, `token_kind`).

The tables below are the whole catalog and the code only walks them; they are public so
that other detectors (SQL pushdown, DLP) can compile the same catalog.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum, StrEnum
from fnmatch import fnmatchcase
from functools import lru_cache

from auditor.detect.values import redact_secrets
from auditor.detect.vocabulary import (
    CIPHER_WORDS,
    COMMON_VETOES,
    DESC_AND,
    DESC_BREAKS,
    DESC_COPULAS,
    DESC_INCLUDES,
    DESC_LEADING,
    DESC_METADATA,
    DESC_NEGATIONS,
    DESC_OF,
    DESC_REMOVED,
    HASH_PURPOSES,
    HASH_WORDS,
    HEAD_RULES,
    MODIFIERS,
    NON_SECRET_TYPES,
    PAYLOAD_WORDS,
    SYNONYMS,
    TABLE_CONTAINERS,
    TABLE_SECRETS,
    TOKEN_VETOES,
    HeadRule,
    canonical_words,
    phrase,
    split_words,
)
from auditor.model import canonical_type

__all__ = [
    "CIPHER_WORDS",
    "COMMON_VETOES",
    "HASH_WORDS",
    "HEAD_RULES",
    "MODIFIERS",
    "NON_SECRET_TYPES",
    "SYNONYMS",
    "TOKEN_VETOES",
    "HeadRule",
    "Signal",
    "Verdict",
    "classify_column",
    "split_words",
]


class Signal(StrEnum):
    """What decided a verdict."""

    NAME = "name"  # the column's words
    DESCRIPTION = "description"  # the description's leading noun phrase
    TYPE = "type"  # a type that cannot hold a secret
    STRUCTURE = "structure"  # a RECORD container


@dataclass(frozen=True)
class Verdict:
    """Whether a column holds a credential, why, and which keyword and signal decided it."""

    credential: bool
    reason: str  # human readable; names the column, words and signal, never a value
    keyword: str | None  # the matched keyword (e.g. "token", "api_key"), if any
    signal: Signal = Signal.NAME
    hashed: bool = False  # a hash of the secret rather than the secret itself


_DESC_TOKEN_RE = re.compile(r"[A-Za-z0-9_'\-]+|[^\sA-Za-z0-9_'\-]")
_SENTENCE_RE = re.compile(r"[.!?;\n]")
_TYPE_RE = re.compile(r"[A-Z0-9_]+")


class _Kind(Enum):
    CREDENTIAL = "credential"
    HASHED = "hashed"  # a hash of a secret: credential material
    VETOED = "vetoed"  # a secret word, made harmless by a veto word
    UNQUALIFIED = "unqualified"  # a head that needs a qualifier it lacks
    OTHER_HEAD = "other"  # the head is some other noun
    NOTHING = "nothing"  # only modifiers, or no words


@dataclass(frozen=True)
class _Judgement:
    kind: _Kind
    keyword: str | None = None  # the secret keyword (CREDENTIAL, HASHED, VETOED)
    head: str | None = None  # the deciding head word
    other: str | None = None  # veto, qualifier or hash word involved, for messages
    from_table: bool = False  # a generic name whose table says what it holds


def _judge(
    words: tuple[str, ...], segments: tuple[int, ...], table: tuple[str, ...] = ()
) -> _Judgement:
    """Walk back from the last word to the head and apply its HEAD_RULES entry. `table`:
    the words of the table's name, which may qualify a bare top-level head."""
    for i in range(len(words) - 1, -1, -1):
        word = words[i]
        rule = HEAD_RULES.get(word)
        if rule is not None:
            veto = _veto(rule, words, segments, i)
            if veto is not None:
                return _Judgement(_Kind.VETOED, word, word, veto)
            keyword = word
            if rule.needs is not None:
                qualifier = _qualifier(rule.needs, words, segments, i, table)
                if qualifier is None:
                    if word in MODIFIERS:  # `payload_json`: not a key file, just JSON
                        continue
                    return _Judgement(_Kind.UNQUALIFIED, None, word, words[i - 1] if i else None)
                keyword = f"{qualifier}_{word}"
            hashed = _hash_before(words, segments, i)
            if hashed is not None:
                return _Judgement(_Kind.HASHED, keyword, word, hashed)
            return _Judgement(_Kind.CREDENTIAL, keyword, word)
        if word in MODIFIERS or word.isdigit():
            continue
        if word in HASH_WORDS and i:  # `password_hash`, `token_sha256`: a hash of the head
            inner = _judge(words[:i], segments[:i], table)
            if inner.kind in (_Kind.CREDENTIAL, _Kind.HASHED):
                return _Judgement(_Kind.HASHED, inner.keyword, inner.head, word)
        if word in HASH_WORDS and _generic(  # `hash`, `lookup_hash` in `api_keys`
            tuple(w for w in words[:i] if w not in HASH_PURPOSES), segments
        ):
            held = _table_secret(table, hashed=True)
            if held is not None:
                return _Judgement(_Kind.HASHED, held.keyword, held.head, word, from_table=True)
        return _Judgement(_Kind.OTHER_HEAD, None, word)
    cipher = next((w for w in words if w in CIPHER_WORDS), None)
    if cipher is not None:
        return _Judgement(_Kind.CREDENTIAL, cipher, cipher)
    held = _table_secret(table) if words and _generic(words, segments) else None
    if held is not None:  # `data` in `credentials`, `value` in `secret_store`
        return _Judgement(held.kind, held.keyword, held.head, held.other, from_table=True)
    return _Judgement(_Kind.NOTHING)


def _generic(words: tuple[str, ...], segments: tuple[int, ...]) -> bool:
    """A top-level name made only of payload words (`value`, `data`, `encrypted_blob`, or
    nothing before a hash word): it says how a value is stored, not what it is."""
    return not any(segments) and all(w in PAYLOAD_WORDS or w.isdigit() for w in words)


@lru_cache(maxsize=4096)
def _table_words(table: str) -> tuple[str, ...]:
    """A table's name as catalog words, without version marks (`oauth_codes_v1`,
    `credentials_v2`): what the table-name rules read."""
    return tuple(w for w in phrase(table)[0] if not w.isdigit() and w != "v")


@lru_cache(maxsize=4096)
def _table_secret(table: tuple[str, ...], *, hashed: bool = False) -> _Judgement | None:
    """The secret a table's rows are, when its name says so: `credentials`, `api_keys`,
    `secret_store` (a store, vault or list of secrets), `verification` (one-time codes).
    Its generic columns hold it; `hashed`: for a hash column."""
    words = table
    while words and words[-1] in TABLE_CONTAINERS:
        words = words[:-1]  # `secret_store`
    if words in TABLE_SECRETS:
        return _Judgement(_Kind.CREDENTIAL, TABLE_SECRETS[words], words[-1])
    if not words:
        return None
    found = _judge(words, (0,) * len(words))
    if found.kind not in (_Kind.CREDENTIAL, _Kind.HASHED):
        return None
    if found.head in ("token", "tokens") and not hashed:
        # A token table keeps its token in a `token` column (next-auth's
        # VerificationToken, OAuth token tables); its other generic columns describe it.
        # A bare `hash` there is the token, stored hashed.
        return None
    return found


def _veto(rule: HeadRule, words: tuple[str, ...], segments: tuple[int, ...], i: int) -> str | None:
    # Same segment only: a parent named `output` may still hold an access token.
    for j in range(i - 1, -1, -1):
        if segments[j] != segments[i]:
            break
        if words[j] in COMMON_VETOES or words[j] in rule.vetoes:
            return words[j]
    return None


def _hash_before(words: tuple[str, ...], segments: tuple[int, ...], i: int) -> str | None:
    """A hash word before the head in its segment (`hashed_password`), if any."""
    for j in range(i - 1, -1, -1):
        if segments[j] != segments[i]:
            break
        if words[j] in HASH_WORDS:
            return words[j]
    return None


def _qualifier(
    needs: frozenset[str],
    words: tuple[str, ...],
    segments: tuple[int, ...],
    i: int,
    table: tuple[str, ...] = (),
) -> str | None:
    """The word that qualifies the head at `i`: the nearest word before it in its segment
    (only modifiers between), or, for a leaf that is the bare head, a parent segment that
    is one qualifying word (`api.key`, `oauth.refresh`; not `mediadrm_decryption.key`),
    or for a top-level bare head, the table's name when it ends in the same head
    (`code` in `oauth_codes`, `key` in `ApiKey`)."""
    j = i - 1
    while j >= 0 and segments[j] == segments[i]:
        if words[j] in needs:
            return words[j]
        if words[j] not in MODIFIERS and not words[j].isdigit():
            return None
        j -= 1
    if j != i - 1:  # only a bare leaf takes its parent's word (not `db.primary_key`)
        return None
    if j < 0:
        return _table_qualifier(needs, words[i], table)
    parent = [
        words[k]
        for k in range(j, -1, -1)
        if segments[k] == segments[j] and words[k] not in MODIFIERS and not words[k].isdigit()
    ]
    return parent[0] if len(parent) == 1 and parent[0] in needs else None


def _table_qualifier(needs: frozenset[str], head: str, table: tuple[str, ...]) -> str | None:
    if len(table) < 2 or table[-1] != head:
        return None
    for word in reversed(table[:-1]):
        if word in needs:
            return word
        if word not in MODIFIERS:
            return None
    return None


@lru_cache(maxsize=16384)  # tenant datasets repeat the same column paths
def _path_phrase(path: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]:
    words: list[str] = []
    raws: list[str] = []
    segments: list[int] = []
    for index, segment in enumerate(path.split(".")):
        seg_words, seg_raws = phrase(segment)
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


# ---------------------------------------------------------------------------------------
# Descriptions
# ---------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)  # templates and tenant datasets repeat the same descriptions
def _description_judgement(description: str) -> _Judgement | None:
    """The first credential (or hash of one) in the leading noun phrases."""
    for words in _description_phrases(description):
        judgement = _judge(words, (0,) * len(words))
        if judgement.kind in (_Kind.CREDENTIAL, _Kind.HASHED):
            return judgement
    return None


def _description_phrases(description: str) -> list[tuple[str, ...]]:
    """The subject noun phrases of every sentence of a description."""
    return [found for sentence in _SENTENCE_RE.split(description) for found in _subjects(sentence)]


def _desc_words(piece: str) -> list[str]:
    return [w for raw in split_words(piece) for w in canonical_words(raw)]


def _subjects(sentence: str) -> list[tuple[str, ...]]:
    """The conjuncts before the first break word ("Username and password for X"), and
    what the sentence says is included ("..., including Authorization")."""
    subjects: list[tuple[str, ...]] = []
    current: list[str] = []
    pieces = _DESC_TOKEN_RE.findall(sentence)
    included = _included(pieces)
    for index, piece in enumerate(pieces):
        lower = piece.lower()
        words = _desc_words(piece)
        if any(w in DESC_NEGATIONS for w in words):
            return []
        if lower in DESC_AND or piece == "/":
            subjects.append(tuple(current))
            current = []
        elif not words or lower in DESC_INCLUDES:  # punctuation ends the subject
            break
        elif lower in DESC_OF:
            if all(w in MODIFIERS or w.isdigit() for w in current):
                current = []  # "copy of X", "base64 of X" is X
            elif current[-1] in HASH_WORDS:
                current = [current[-1]]  # "hash of X" is a hash of X: X + hash
                rest = _subjects(" ".join(pieces[index + 1 :]))
                return [*subjects, *((*r, "hash") for r in rest[:1]), *included]
            else:
                break
        elif not current and lower in DESC_LEADING:
            continue
        elif lower in DESC_BREAKS:
            following = pieces[index + 1].lower() if index + 1 < len(pieces) else ""
            if lower in DESC_COPULAS and following in DESC_REMOVED | DESC_NEGATIONS:
                return []  # "secrets are stripped", "the password is never stored"
            if lower in DESC_COPULAS and following == "hashed" and current:
                return [*subjects, (*current, "hash"), *included]
            break
        elif current and lower.endswith("ed") and lower.isalpha() and lower not in MODIFIERS:
            # A participle after the subject starts a complement ("key uploaded by").
            if lower in DESC_REMOVED:
                return []
            if lower == "hashed":  # "Password hashed with bcrypt"
                return [*subjects, (*current, "hash"), *included]
            return [*subjects, tuple(current), *included]
        else:
            current.extend(words)
    subjects.append(tuple(current))
    return [s for s in subjects if s] + included


def _included(pieces: list[str]) -> list[tuple[str, ...]]:
    """Phrases after "including"/"containing": the Authorization header counts there."""
    found: list[tuple[str, ...]] = []
    for index, piece in enumerate(pieces):
        if piece.lower() not in DESC_INCLUDES:
            continue
        phrase: list[str] = []
        for after in pieces[index + 1 :]:
            words = _desc_words(after)
            if not phrase and after.lower() in DESC_LEADING:
                continue
            if not words or after.lower() in DESC_BREAKS | DESC_AND:
                break
            phrase.extend(words)
        if phrase and phrase[-1] in ("authorization", "authorisation"):
            phrase.append("header")  # the header's name stands for its value
        if phrase:
            found.append(tuple(phrase))
    return found


@lru_cache(maxsize=8192)
def _description_clears(description: str) -> str | None:
    """The metadata noun when the description's first phrase is "<noun> of <secret>"
    ("ID of the API key", "Resource name of a secret in Secret Manager")."""
    sentence = _SENTENCE_RE.split(description, maxsplit=1)[0]
    current: list[str] = []
    pieces = _DESC_TOKEN_RE.findall(sentence)
    for index, piece in enumerate(pieces):
        lower = piece.lower()
        if not current and lower in DESC_LEADING:
            continue
        if lower == "of":
            noun = next((w for w in reversed(current) if w not in MODIFIERS), None)
            if noun in DESC_METADATA:
                rest_words = tuple(_desc_words(" ".join(pieces[index + 1 :])))
                rest = _judge(rest_words, (0,) * len(rest_words))
                return noun if rest.kind is not _Kind.NOTHING else None
            return None
        words = _desc_words(piece)
        if not words or len(current) > 4:
            return None
        current.extend(words)
    return None


def _quote(text: str, limit: int = 60) -> str:
    # Secrets redacted before the cut: a description may hold one, and a cut one would
    # no longer be recognised.
    text = redact_secrets(text)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# ---------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------


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
        inner = _inner_credential(words, segments)
        if inner is not None:
            cut, keyword = inner
            tail = "_".join(dict.fromkeys(raws[cut:]))
            return (
                f"name {name} is metadata about credential keyword {keyword!r} ({tail!r}),"
                " not the secret"
            )
    return f"no credential keyword in name {name}"


def _inner_credential(words: tuple[str, ...], segments: tuple[int, ...]) -> tuple[int, str] | None:
    """Where a name that ends in another noun names a credential (`api_key_id`)."""
    for cut in range(len(words) - 1, 0, -1):
        inner = _judge(words[:cut], segments[:cut])
        if inner.kind is _Kind.CREDENTIAL and inner.head in HEAD_RULES and inner.keyword:
            return cut, inner.keyword
    return None


def _credential_verdict(
    path: str,
    judgement: _Judgement,
    signal: Signal,
    found_by: str,
    *,
    count_hashes: bool,
    allow_hashes: Collection[str],
) -> Verdict:
    keyword = judgement.keyword
    if judgement.kind is not _Kind.HASHED:
        return Verdict(True, f"{found_by} credential keyword {keyword!r}", keyword, signal)
    what = f"{found_by} a hash ({judgement.other!r}) of credential keyword {keyword!r}"
    if not count_hashes:
        return Verdict(False, f"{what}: hashes are not counted here", None, signal, hashed=True)
    leaf = path.rsplit(".", 1)[-1].lower()
    allowed = next((g for g in allow_hashes if fnmatchcase(leaf, g.lower())), None)
    if allowed is not None:
        reason = f"{what}: a lookup hash the rule allows ({allowed!r})"
        return Verdict(False, reason, None, signal, hashed=True)
    reason = f"{what}: a hash of a secret is credential material"
    return Verdict(True, reason, keyword, signal, hashed=True)


def classify_column(
    path: str,
    type_name: str | None = None,
    description: str | None = None,
    *,
    count_hashes: bool = True,
    allow_hashes: Collection[str] = (),
    table: str | None = None,
) -> Verdict:
    """Whether the column at dotted `path` holds a credential value (or its hash).

    `allow_hashes`: globs on the leaf name (`*_key_hash`) of hash columns to accept;
    `count_hashes=False` accepts every hash (a check about plaintext secrets only);
    `table`: the table's name, which may qualify a bare top-level column (`code` in
    `oauth_codes`).
    """
    base = _base_type(type_name)
    if base in NON_SECRET_TYPES:
        return Verdict(False, f"{base} column cannot hold a secret", None, Signal.TYPE)
    if base == "STRUCT":
        reason = f"RECORD {path!r} is a container: its leaves are judged on their own"
        return Verdict(False, reason, None, Signal.STRUCTURE)

    words, raws, segments = _path_phrase(path)
    judgement = _judge(words, segments, _table_words(table) if table else ())
    if judgement.kind in (_Kind.CREDENTIAL, _Kind.HASHED):
        cleared = _description_clears(description) if description else None
        if cleared is not None and judgement.kind is _Kind.CREDENTIAL:
            reason = (
                f"name {path!r} has credential keyword {judgement.keyword!r}, but description"
                f" {_quote(description or '')} says it is the {cleared} of one, not the secret"
            )
            return Verdict(False, reason, None, Signal.DESCRIPTION)
        keyword = judgement.keyword
        if judgement.from_table:  # the generic name stands for what the table's rows are
            found_by = f"generic name {path!r} in table {table!r} is"
            if judgement.kind is _Kind.CREDENTIAL:
                reason = (
                    f"generic name {path!r} holds what table {table!r} is named for:"
                    f" credential keyword {keyword!r}"
                )
                return Verdict(True, reason, keyword, Signal.NAME)
        else:
            written = raws[len(words) - 1 - words[::-1].index(judgement.head or "")]
            aside = f" (written {written!r})" if judgement.head != written else ""
            qualifier = (keyword or "").partition("_")[0]
            if table and qualifier and qualifier not in words:
                aside += f" (qualified by table name {table!r})"
            found_by = f"name {path!r}{aside} has"
            if judgement.kind is _Kind.CREDENTIAL:
                reason = f"name {path!r} matches credential keyword {keyword!r}{aside}"
                return Verdict(True, reason, keyword, Signal.NAME)
        return _credential_verdict(
            path,
            judgement,
            Signal.NAME,
            found_by,
            count_hashes=count_hashes,
            allow_hashes=allow_hashes,
        )

    name_is_neutral = judgement.kind in (_Kind.NOTHING, _Kind.UNQUALIFIED) or (
        judgement.kind is _Kind.OTHER_HEAD and _inner_credential(words, segments) is None
    )
    if description and name_is_neutral:
        found = _description_judgement(description)
        if found is not None:
            found_by = f"description {_quote(description)} names"
            return _credential_verdict(
                path,
                found,
                Signal.DESCRIPTION,
                found_by,
                count_hashes=count_hashes,
                allow_hashes=allow_hashes,
            )
    return Verdict(False, _name_reason(path, judgement, words, raws, segments), None)
