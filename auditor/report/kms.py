"""Signing with a Cloud KMS asymmetric key (EC_SIGN_ED25519), for the nightly job.

The private key never leaves KMS: `asymmetricSign` gets the short signature message (see
report.signing), never the report. The key version is named as

    gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V

Both calls are checked end to end as Google recommends: CRC32C of what was sent and of what
came back, the key version named in the answer, the algorithm of the public key. Reports
signed here verify with that key version's public key (`gcloud kms keys versions
get-public-key`, or `auditor verify --public-key gcpkms://...`). Calls go through the shared
transport (auditor.gcp): its client, and its retry policy with KMS's limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

import google_crc32c
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.cloud import kms_v1

from auditor.errors import AuditorError, UsageError
from auditor.gcp import retry
from auditor.gcp.clients import NO_RETRY, kms_client
from auditor.gcp.retry import GaveUp, RetryPolicy
from auditor.gcp.wording import describe
from auditor.report.signing import SignerInfo, public_key_from_pem

SCHEME = "gcpkms://"
_VERSION = re.compile(
    r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+/cryptoKeyVersions/[^/]+$"
)
_ED25519 = kms_v1.CryptoKeyVersion.CryptoKeyVersionAlgorithm.EC_SIGN_ED25519


class KmsError(AuditorError):
    """Cloud KMS refused or garbled a call; the message says which and why."""


def is_kms(spec: str) -> bool:
    return spec.startswith(SCHEME)


def key_version(spec: str) -> str:
    name = spec[len(SCHEME) :] if is_kms(spec) else spec
    if not _VERSION.match(name):
        raise UsageError(
            f"not a Cloud KMS key version: {spec!r} (expected {SCHEME}projects/P/locations/L/"
            "keyRings/R/cryptoKeys/K/cryptoKeyVersions/V)"
        )
    return name


def make_kms_client(endpoint: str | None = None) -> kms_v1.KeyManagementServiceClient:
    """A KMS client over REST: Google's endpoint with Application Default Credentials
    (MissingCredentials without them), or `endpoint` (e.g. http://127.0.0.1:8080, recorded
    answers in tests) anonymously."""
    return kms_client(endpoint)


def _crc(data: bytes) -> int:
    return int(google_crc32c.value(data))


def _call(
    what: str, function: Callable[..., Any], policy: RetryPolicy = retry.KMS, **request: Any
) -> Any:
    name = request["name"]
    fetch = partial(function, request=request, retry=NO_RETRY, timeout=policy.timeout)
    try:
        return retry.call(fetch, policy)
    except GaveUp as gave_up:
        reason = describe(gave_up.error, policy.timeout) + gave_up.note
        raise KmsError(f"Cloud KMS {what} on {name}: {reason}") from None


def public_key(client: kms_v1.KeyManagementServiceClient, name: str) -> Ed25519PublicKey:
    """The key version's public key, refused unless it is an intact Ed25519 key."""
    answer = _call("getPublicKey", client.get_public_key, name=name)
    if answer.name and answer.name != name:
        raise KmsError(f"Cloud KMS getPublicKey on {name} answered for {answer.name}")
    if answer.algorithm != _ED25519:
        got = getattr(answer.algorithm, "name", str(answer.algorithm))
        raise KmsError(f"{name} is a {got} key; reports are signed with EC_SIGN_ED25519 keys")
    pem = answer.pem.encode("utf-8")
    if answer.pem_crc32c is not None and int(answer.pem_crc32c) != _crc(pem):
        raise KmsError(f"Cloud KMS getPublicKey on {name}: the PEM was corrupted in transit")
    return public_key_from_pem(pem, f"{SCHEME}{name}")


class KmsSigner:
    """Signs with a Cloud KMS EC_SIGN_ED25519 key version (report.signing.Signer)."""

    def __init__(
        self, client: kms_v1.KeyManagementServiceClient, name: str, signer: str | None = None
    ) -> None:
        self._client = client
        self._name = name
        self._info = SignerInfo(signer or f"Cloud KMS {name}", public_key(client, name), name)

    @property
    def info(self) -> SignerInfo:
        return self._info

    def sign(self, message: bytes) -> bytes:
        answer = _call(
            "asymmetricSign",
            self._client.asymmetric_sign,
            name=self._name,
            data=message,
            data_crc32c=_crc(message),
        )
        if not answer.verified_data_crc32c:
            raise KmsError(f"Cloud KMS asymmetricSign on {self._name}: the data was corrupted")
        if answer.name != self._name:
            raise KmsError(f"Cloud KMS asymmetricSign on {self._name} signed with {answer.name}")
        signature = bytes(answer.signature)
        if answer.signature_crc32c is None or int(answer.signature_crc32c) != _crc(signature):
            raise KmsError(f"Cloud KMS asymmetricSign on {self._name}: the signature was corrupted")
        return signature


__all__ = [
    "SCHEME",
    "KmsError",
    "KmsSigner",
    "is_kms",
    "key_version",
    "make_kms_client",
    "public_key",
]
