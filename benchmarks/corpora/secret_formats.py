"""Fake secrets in the right format, for the values corpus and the catalog's examples.

Every generator takes a seeded `random.Random` and returns a string that has the shape,
prefix and (where the format has one) checksum of the real thing, and is not a real
credential: the random part is drawn here. The facts (prefixes, lengths, alphabets,
checksums) are the vendors' published token formats, summarised in the catalog entries
(auditor/detect/catalog.yaml) that detect them.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import string
from collections.abc import Callable

ALNUM = string.ascii_letters + string.digits
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
HEX = "0123456789abcdef"
B64URL = ALNUM + "-_"
B64 = ALNUM + "+/"


def pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def base62_checksum(body: str) -> str:
    """GitHub's and npm's token checksum: CRC32 of the random part, base62, 6 digits."""
    crc = binascii.crc32(body.encode("ascii"))
    digits = ""
    while crc:
        crc, rest = divmod(crc, 62)
        digits = BASE62[rest] + digits
    return digits.rjust(6, "0")


def github_classic(rng: random.Random, prefix: str = "ghp_") -> str:
    body = pick(rng, ALNUM, 30)
    return prefix + body + base62_checksum(body)


def npm(rng: random.Random) -> str:
    body = pick(rng, ALNUM, 30)
    return "npm_" + body + base62_checksum(body)


def github_fine_grained(rng: random.Random) -> str:
    return f"github_pat_{pick(rng, ALNUM, 22)}_{pick(rng, ALNUM, 59)}"


def pypi(rng: random.Random) -> str:
    # A macaroon: base64url of b"\x02\x01\x08pypi.org" ... the identifier and caveats.
    raw = b"\x02\x01\x08pypi.org\x02" + bytes(rng.getrandbits(8) for _ in range(120))
    return "pypi-" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def dockerhub(rng: random.Random) -> str:
    return "dckr_pat_" + pick(rng, B64URL, 27)


def twilio_api_key_sid(rng: random.Random) -> str:
    return "SK" + pick(rng, HEX, 32)


def twilio_auth_token(rng: random.Random) -> str:
    return pick(rng, HEX, 32)


def sendgrid(rng: random.Random) -> str:
    return f"SG.{pick(rng, B64URL, 22)}.{pick(rng, B64URL, 43)}"


def mailgun(rng: random.Random) -> str:
    # The "key-" format; current keys (32-8-8 hex) have no fixed part, so they are left
    # to the assignment detectors and planted as generic secrets.
    return "key-" + pick(rng, HEX, 32)


def mailchimp(rng: random.Random) -> str:
    return f"{pick(rng, HEX, 32)}-us{rng.randint(1, 21)}"


def shopify(rng: random.Random) -> str:
    return rng.choice(("shpat_", "shpca_", "shppa_", "shpss_")) + pick(rng, "0123456789abcdef", 32)


def atlassian(rng: random.Random) -> str:
    return "ATATT3xFfGF0" + pick(rng, B64URL, 170) + "=" + pick(rng, "0123456789ABCDEF", 8)


def vault(rng: random.Random) -> str:
    return rng.choice(("hvs.", "hvb.")) + pick(rng, B64URL, 90)


def terraform_cloud(rng: random.Random) -> str:
    return f"{pick(rng, ALNUM, 14)}.atlasv1.{pick(rng, ALNUM, 67)}"


def databricks(rng: random.Random) -> str:
    return "dapi" + pick(rng, HEX, 32) + rng.choice(("", "-2", "-3"))


def huggingface(rng: random.Random) -> str:
    return rng.choice(("hf_", "api_org_")) + pick(rng, string.ascii_letters, 34)


def google_client_secret(rng: random.Random) -> str:
    return "GOCSPX-" + pick(rng, B64URL, 28)


def digitalocean(rng: random.Random) -> str:
    return rng.choice(("dop_v1_", "doo_v1_", "dor_v1_")) + pick(rng, HEX, 64)


def linear(rng: random.Random) -> str:
    return "lin_api_" + pick(rng, ALNUM, 40)


def postman(rng: random.Random) -> str:
    return f"PMAK-{pick(rng, HEX, 24)}-{pick(rng, HEX, 34)}"


def grafana(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"glsa_{pick(rng, ALNUM, 32)}_{pick(rng, HEX, 8)}"
    payload = {"o": str(rng.randint(10**5, 10**6)), "n": "stack-x", "k": pick(rng, ALNUM, 24)}
    return "glc_" + base64.b64encode(json.dumps(payload).encode()).decode()


def newrelic(rng: random.Random) -> str:
    return "NRAK-" + pick(rng, string.ascii_uppercase + string.digits, 27)


def doppler(rng: random.Random) -> str:
    return "dp.pt." + pick(rng, ALNUM, 43)


def telegram_bot(rng: random.Random) -> str:
    return f"{rng.randint(10**8, 10**10 - 1)}:AA{pick(rng, B64URL, 33)}"


def age_secret_key(rng: random.Random) -> str:
    return "AGE-SECRET-KEY-1" + pick(rng, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)


def groq(rng: random.Random) -> str:
    return "gsk_" + pick(rng, ALNUM, 52)


def replicate(rng: random.Random) -> str:
    return "r8_" + pick(rng, ALNUM, 37)


def square(rng: random.Random) -> str:
    return rng.choice(("sq0atp-", "sq0csp-")) + pick(rng, B64URL, 22 if rng.random() < 0.5 else 43)


def airtable(rng: random.Random) -> str:
    return f"pat{pick(rng, ALNUM, 14)}.{pick(rng, HEX, 64)}"


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "github-token": github_classic,
    "github-fine-grained": github_fine_grained,
    "npm-token": npm,
    "pypi-token": pypi,
    "dockerhub-token": dockerhub,
    "twilio-api-key": twilio_api_key_sid,
    "sendgrid-api-key": sendgrid,
    "mailgun-api-key": mailgun,
    "mailchimp-api-key": mailchimp,
    "shopify-token": shopify,
    "atlassian-api-token": atlassian,
    "vault-token": vault,
    "terraform-cloud-token": terraform_cloud,
    "databricks-token": databricks,
    "huggingface-token": huggingface,
    "google-oauth-client-secret": google_client_secret,
    "digitalocean-token": digitalocean,
    "linear-api-key": linear,
    "postman-api-key": postman,
    "grafana-token": grafana,
    "newrelic-api-key": newrelic,
    "doppler-token": doppler,
    "telegram-bot-token": telegram_bot,
    "age-secret-key": age_secret_key,
    "groq-api-key": groq,
    "replicate-api-token": replicate,
    "square-token": square,
    "airtable-token": airtable,
}


# ---------------------------------------------------------------------------------------
# The catalog's older formats (Google, AWS, Azure, Slack, Stripe, OpenAI...), same rules.
# ---------------------------------------------------------------------------------------

PEM_KINDS = (
    "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY",
    "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK",
    "SSH2 ENCRYPTED PRIVATE KEY",
)  # fmt: skip


def pem_private_key(rng: random.Random, kind: str | None = None) -> str:
    kind = kind or rng.choice(PEM_KINDS)
    lines = [pick(rng, B64, 64) for _ in range(rng.randint(3, 6))]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


def gcp_service_account_key(rng: random.Random) -> str:
    project = "acme-" + pick(rng, string.ascii_lowercase, 6)
    key = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": pick(rng, HEX, 40),
        "private_key": pem_private_key(rng, "PRIVATE KEY") + "\n",
        "client_email": f"etl@{project}.iam.gserviceaccount.com",
        "client_id": str(rng.randint(10**20, 10**21)),
    }
    return json.dumps(key)


def google_api_key(rng: random.Random) -> str:
    return "AIza" + pick(rng, B64URL, 35)


def google_access_token(rng: random.Random) -> str:
    return "ya29.a0" + pick(rng, B64URL, rng.randint(60, 160))


def google_refresh_token(rng: random.Random) -> str:
    return "1//0" + pick(rng, B64URL, rng.randint(60, 100))


def aws_access_key_id(rng: random.Random) -> str:
    return rng.choice(("AKIA", "ASIA")) + pick(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)


def aws_secret_access_key(rng: random.Random) -> str:
    return pick(rng, ALNUM + "/+", 40)


def azure_client_secret(rng: random.Random) -> str:
    return pick(rng, ALNUM, 3) + str(rng.randint(0, 9)) + "Q~" + pick(rng, ALNUM + "_~.-", 34)


def azure_storage_key(rng: random.Random) -> str:
    return pick(rng, B64, 86) + "=="


def gitlab(rng: random.Random) -> str:
    return rng.choice(("glpat-", "gldt-", "glrt-")) + pick(rng, B64URL, 20)


def slack_token(rng: random.Random) -> str:
    return (
        f"{rng.choice(('xoxb', 'xoxp'))}-{rng.randint(10**11, 10**12)}-"
        f"{rng.randint(10**12, 10**13)}-{pick(rng, ALNUM, 24)}"
    )


def slack_webhook(rng: random.Random) -> str:
    upper = string.ascii_uppercase + string.digits
    return (
        f"https://hooks.slack.com/services/T{pick(rng, upper, 10)}/B{pick(rng, upper, 10)}/"
        f"{pick(rng, ALNUM, 24)}"
    )


def stripe(rng: random.Random) -> str:
    return f"{rng.choice(('sk', 'rk'))}_{rng.choice(('live', 'test'))}_{pick(rng, ALNUM, 32)}"


def anthropic(rng: random.Random) -> str:
    return "sk-ant-api03-" + pick(rng, B64URL, 93) + "AA"


def openai(rng: random.Random) -> str:
    return "sk-proj-" + pick(rng, B64URL, 120)


def jwt(rng: random.Random) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header = part({"alg": rng.choice(("HS256", "RS256")), "typ": "JWT"})
    payload = part({"sub": "svc-" + pick(rng, ALNUM, 8), "iat": 1795000000, "exp": 1795003600})
    return f"{header}.{payload}.{pick(rng, B64URL, 43)}"


def basic_auth(rng: random.Random) -> str:
    user = rng.choice(("etl", "deploy-bot", "svc_loader", "api"))
    password = pick(rng, ALNUM, 6) + rng.choice("!-_#") + pick(rng, ALNUM, 8)
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def opaque_token(rng: random.Random) -> str:
    return pick(rng, ALNUM, rng.choice((32, 40, 48)))


def password(rng: random.Random) -> str:
    words = ("Harbor", "Quartz", "Maple", "Falcon", "Cobalt", "Willow", "Ember", "Tundra")
    return rng.choice(words) + str(rng.randint(10, 99)) + rng.choice("!#-_.") + pick(rng, ALNUM, 6)


def signed_url_signature(rng: random.Random) -> str:
    return pick(rng, HEX, 256)


GENERATORS.update(
    {
        "gcp-service-account-key": gcp_service_account_key,
        "pem-private-key": pem_private_key,
        "google-api-key": google_api_key,
        "google-oauth-access-token": google_access_token,
        "google-oauth-refresh-token": google_refresh_token,
        "aws-access-key-id": aws_access_key_id,
        "aws-secret-access-key": aws_secret_access_key,
        "azure-client-secret": azure_client_secret,
        "azure-storage-key": azure_storage_key,
        "gitlab-token": gitlab,
        "slack-token": slack_token,
        "slack-webhook": slack_webhook,
        "stripe-secret-key": stripe,
        "anthropic-api-key": anthropic,
        "openai-api-key": openai,
        "jwt": jwt,
        "authorization-basic": basic_auth,
        "authorization-bearer": opaque_token,
        "url-credentials": password,
        "password-assignment": password,
        "secret-assignment": opaque_token,
        "signed-url": signed_url_signature,
    }
)
