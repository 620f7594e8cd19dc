"""Signed reports: who made a report, proved with an Ed25519 signature over its exact bytes.

A report's integrity checks (fingerprints, summary) are only self-consistency: anyone can
drop every FAIL and recompute them. A signature binds the bytes to a key. What is signed is
a small message, not the report (so a Cloud KMS key can sign it without receiving the report):

    auditor-signature/1\\n{"content_sha256":...,"format":...,"key_id":...,"signed_at":...,...}

the canonical JSON (sorted keys, no spaces) of every field of the signature block but the
signature itself. `content_sha256` is the SHA-256 of the report without its signature:

- HTML: the page ends with `<script type="application/json" id="report-signature">BLOCK`
  `</script>\\n</body>\\n</html>\\n`; the content is the page with BLOCK empty. The page shows
  who signed (signer, key id, time) in its own signed text.
- JSON: the report ends with `,\\n  "signature": BLOCK\\n}\\n` (BLOCK on one line); the
  content is the report without that member, ending `\\n}\\n`.
- Any other file (CSV): BLOCK is in FILE.sig beside it; the content is the file.

Verification needs the signer's public key from elsewhere (a PEM file, or the Cloud KMS key
version's public key): a signature checked only against the key it carries would prove
nothing, since whoever edits a report can sign it again with a key of their own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditor.errors import InputError, UsageError
from auditor.report.reader import read_report_bytes
from auditor.report.summary import iso_utc

FORMAT = "auditor-signature/1"
ALGORITHM = "ed25519"
HTML_SLOT = '<script type="application/json" id="report-signature">'
HTML_END = "</script>\n</body>\n</html>\n"
JSON_MEMBER = ',\n  "signature": '
JSON_END = "\n}\n"
DETACHED_SUFFIX = ".sig"
_KEY_ID = re.compile(r"^ed25519:[0-9a-f]{64}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Embedding(StrEnum):
    """Where a file keeps its signature."""

    HTML = "html"
    JSON = "json"
    DETACHED = "detached"


def embedding_for(path: Path) -> Embedding:
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return Embedding.HTML
    if suffix == ".json":
        return Embedding.JSON
    return Embedding.DETACHED


def key_id(public: Ed25519PublicKey) -> str:
    """`ed25519:` and the SHA-256 of the raw 32-byte public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"{ALGORITHM}:{hashlib.sha256(raw).hexdigest()}"


@dataclass(frozen=True)
class SignerInfo:
    """Who signs: a name they give (shown, not proved), the key that proves it, and the
    Cloud KMS key version when the key lives there."""

    signer: str
    public_key: Ed25519PublicKey
    kms_key: str | None = None

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    @property
    def public_key_text(self) -> str:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode("ascii")


class Signer(Protocol):
    @property
    def info(self) -> SignerInfo: ...

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of `message`."""
        ...


class KeyFileSigner:
    """An Ed25519 private key from a PEM file (PKCS#8, unencrypted: `openssl genpkey
    -algorithm ed25519`). The key never leaves this object; only signatures do."""

    def __init__(self, path: Path, signer: str | None = None) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(str(path), f"cannot read the signing key: {exc.strerror}") from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            # The library's message names the format problem, never the key material.
            raise InputError(str(path), f"not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise InputError(str(path), "the signing key must be an Ed25519 key")
        self._key = key
        self._info = SignerInfo(signer or f"key file {path.name}", key.public_key())

    @property
    def info(self) -> SignerInfo:
        return self._info

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


@dataclass(frozen=True)
class Signature:
    """The signature block a report carries."""

    signer: str
    key_id: str
    public_key: str  # base64 of the raw key: which key signed, not a reason to trust it
    signed_at: str
    content_sha256: str
    signature: str  # base64
    kms_key: str | None = None

    def fields(self) -> dict[str, str]:
        """Every signed field (all but the signature), as written."""
        out = {
            "format": FORMAT,
            "algorithm": ALGORITHM,
            "signer": self.signer,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signed_at": self.signed_at,
            "content_sha256": self.content_sha256,
        }
        if self.kms_key is not None:
            out["kms_key"] = self.kms_key
        return out

    def to_dict(self) -> dict[str, str]:
        return {**self.fields(), "signature": self.signature}

    def text(self) -> str:
        """The block on one line, ASCII, with no `<`, `>` or `&` (safe in a <script>)."""
        text = json.dumps(self.to_dict(), ensure_ascii=True, separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    def message(self) -> bytes:
        return message(self.fields())


def message(fields: dict[str, str]) -> bytes:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return f"{FORMAT}\n{canonical}".encode("ascii")


def sign_digest(content_sha256: str, signer: Signer, signed_at: datetime) -> Signature:
    """Sign content whose SHA-256 is `content_sha256` (hex)."""
    info = signer.info
    unsigned = Signature(
        signer=info.signer,
        key_id=info.key_id,
        public_key=info.public_key_text,
        signed_at=iso_utc(signed_at),
        content_sha256=content_sha256,
        signature="",
        kms_key=info.kms_key,
    )
    raw = signer.sign(unsigned.message())
    signature = replace(unsigned, signature=base64.b64encode(raw).decode("ascii"))
    if not verify_signature(signature, [info.public_key]):  # a signer that signs wrongly
        raise UsageError(f"the signature made with {info.key_id} does not verify")
    return signature


# --- embedding ----------------------------------------------------------------------------


def sign_html(chunks: Iterable[str], signer: Signer, signed_at: datetime) -> Iterable[str]:
    """The page's chunks (ending just before the signature slot's content is due: the page
    must end with HTML_SLOT), then the signature block and the end of the page."""
    digest = hashlib.sha256()
    last = ""
    for chunk in chunks:
        digest.update(chunk.encode("utf-8"))
        last = (last + chunk)[-len(HTML_SLOT) :]
        yield chunk
    if last != HTML_SLOT:
        raise ValueError("the page must end with the signature slot before it is signed")
    digest.update(HTML_END.encode("utf-8"))
    yield sign_digest(digest.hexdigest(), signer, signed_at).text()
    yield HTML_END


def sign_json(text: str, signer: Signer, signed_at: datetime) -> str:
    """A JSON report with its signature member added (refused if it already has one)."""
    body = text.rstrip()
    if not body.endswith("}"):
        raise UsageError("not a JSON object: cannot sign it as a JSON report")
    if _split_json(text)[1] is not None:
        raise UsageError("the report is signed already")
    body = body[:-1].rstrip()
    content = body + JSON_END
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    block = sign_digest(digest, signer, signed_at).text()
    return body + JSON_MEMBER + block + JSON_END


def detached(data: bytes, signer: Signer, signed_at: datetime) -> str:
    """The text of FILE.sig for a file holding `data`."""
    return sign_digest(hashlib.sha256(data).hexdigest(), signer, signed_at).text() + "\n"


def _split_html(text: str) -> tuple[str, str | None]:
    """(content, block text) of a page; block None when the page has no signature slot."""
    at = text.find(HTML_SLOT)
    if at < 0:
        return text, None
    if text.find(HTML_SLOT, at + 1) >= 0:
        raise _Refused("the page has two signature slots")
    start = at + len(HTML_SLOT)
    if not text.endswith(HTML_END) or len(text) - len(HTML_END) < start:
        raise _Refused("the signature slot is not where a signed page ends")
    return text[:start] + HTML_END, text[start : len(text) - len(HTML_END)]


def _split_json(text: str) -> tuple[str, str | None]:
    if not text.endswith(JSON_END):
        return text, None
    at = text.rfind(JSON_MEMBER)
    block = text[at + len(JSON_MEMBER) : len(text) - len(JSON_END)] if at >= 0 else ""
    if at < 0 or "\n" in block or not block.startswith("{"):
        return text, None
    return text[:at] + JSON_END, block


# --- verification -------------------------------------------------------------------------


class _Refused(Exception):
    """Why a file's signature cannot be checked (its layout is wrong)."""


class Outcome(StrEnum):
    VERIFIED = "verified"
    UNSIGNED = "unsigned"
    FAILED = "failed"


@dataclass(frozen=True)
class Verification:
    outcome: Outcome
    reason: str
    signature: Signature | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.VERIFIED


def _parse_block(text: str) -> Signature:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _Refused(f"the signature block is not JSON: {exc}") from None
    required = {"format", "algorithm", "signer", "key_id", "public_key", "signed_at",
                "content_sha256", "signature"}  # fmt: skip
    if not isinstance(data, dict) or not required <= data.keys():
        raise _Refused("the signature block lacks fields")
    if set(data) - required - {"kms_key"} or not all(isinstance(v, str) for v in data.values()):
        raise _Refused("the signature block has unknown or non-text fields")
    if data["format"] != FORMAT or data["algorithm"] != ALGORITHM:
        raise _Refused(f"unknown signature format {data['format']!r}/{data['algorithm']!r}")
    if not _KEY_ID.match(data["key_id"]) or not _SHA256.match(data["content_sha256"]):
        raise _Refused("the signature block's key id or content hash is malformed")
    return Signature(
        signer=data["signer"],
        key_id=data["key_id"],
        public_key=data["public_key"],
        signed_at=data["signed_at"],
        content_sha256=data["content_sha256"],
        signature=data["signature"],
        kms_key=data.get("kms_key"),
    )


def verify_signature(signature: Signature, trusted: Sequence[Ed25519PublicKey]) -> bool:
    """Whether a trusted key made this signature over the block's fields."""
    try:
        raw = base64.b64decode(signature.signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    for key in trusted:
        if key_id(key) != signature.key_id:
            continue
        try:
            key.verify(raw, signature.message())
        except InvalidSignature:
            return False
        return True
    return False


def verify_file(path: Path, trusted: Sequence[Ed25519PublicKey]) -> Verification:
    """Check a report file's signature against trusted public keys (InputError when the
    file cannot be read)."""
    if not trusted:
        raise UsageError("verification needs the signer's public key (--public-key)")
    data = read_report_bytes(path)
    embedding = embedding_for(path)
    try:
        if embedding is Embedding.DETACHED:
            sig_path = path.with_name(path.name + DETACHED_SUFFIX)
            if not sig_path.exists():
                return Verification(Outcome.UNSIGNED, f"no signature: {sig_path.name} is missing")
            content, block = data, read_report_bytes(sig_path).decode("utf-8", "replace").strip()
        else:
            text = data.decode("utf-8", "replace")
            split: Callable[[str], tuple[str, str | None]] = (
                _split_html if embedding is Embedding.HTML else _split_json
            )
            content_text, maybe = split(text)
            if maybe is None:
                return Verification(Outcome.UNSIGNED, "the report carries no signature")
            content, block = content_text.encode("utf-8"), maybe
        signature = _parse_block(block)
    except _Refused as exc:
        return Verification(Outcome.FAILED, str(exc))
    return _judge(signature, hashlib.sha256(content).hexdigest(), trusted)


def _judge(
    signature: Signature, content_sha256: str, trusted: Sequence[Ed25519PublicKey]
) -> Verification:
    known = {key_id(k) for k in trusted}
    if signature.key_id not in known:
        return Verification(
            Outcome.FAILED,
            f"signed with {signature.key_id}, which is not a trusted key "
            f"(trusted: {', '.join(sorted(known))})",
            signature,
        )
    if content_sha256 != signature.content_sha256:
        return Verification(
            Outcome.FAILED,
            f"the content was changed after signing (SHA-256 {content_sha256}, signed "
            f"{signature.content_sha256})",
            signature,
        )
    if not verify_signature(signature, trusted):
        return Verification(Outcome.FAILED, "the signature does not match its fields", signature)
    return Verification(Outcome.VERIFIED, "the signature is valid", signature)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (SubjectPublicKeyInfo, as `openssl pkey
    -pubout` and Cloud KMS getPublicKey write it)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read the public key: {exc.strerror}") from None
    return public_key_from_pem(data, str(path))


def public_key_from_pem(data: bytes, source: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise InputError(source, f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(source, "the public key must be an Ed25519 key")
    return key


def describe(verification: Verification) -> str:
    """One paragraph for the terminal."""
    sig = verification.signature
    if sig is None:
        return f"{verification.outcome.value.upper()}: {verification.reason}"
    who = f"signer {sig.signer!r}, key {sig.key_id}"
    if sig.kms_key:
        who += f" (Cloud KMS {sig.kms_key})"
    return (
        f"{verification.outcome.value.upper()}: {verification.reason}\n"
        f"  {who}, signed at {sig.signed_at}\n  content SHA-256 {sig.content_sha256}"
    )


def info_fields(info: SignerInfo) -> dict[str, Any]:
    """What a page shows about its signer (in its own signed text)."""
    return {"signer": info.signer, "key_id": info.key_id, "kms_key": info.kms_key}


__all__ = [
    "DETACHED_SUFFIX",
    "HTML_END",
    "HTML_SLOT",
    "Ed25519PublicKey",
    "Embedding",
    "KeyFileSigner",
    "Outcome",
    "Signature",
    "Signer",
    "SignerInfo",
    "Verification",
    "describe",
    "detached",
    "embedding_for",
    "key_id",
    "load_public_key",
    "public_key_from_pem",
    "sign_digest",
    "sign_html",
    "sign_json",
    "verify_file",
]
