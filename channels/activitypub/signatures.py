"""HTTP Signatures as the fediverse uses them (draft-cavage-http-signatures-12).

Mastodon, GoToSocial, Misskey and Fedify all accept this older draft (not RFC 9421): a
``Signature`` header naming a ``keyId``, the signed header list and an RSA-SHA256 signature
(``rsa-sha256``, or ``hs2019`` whose algorithm the key decides). A POST signs
``(request-target) host date digest content-type`` and carries ``Digest: SHA-256=<base64>``.
The PyPI packages for "HTTP message signatures" implement RFC 9421 only, so the few lines of
the draft are here, on top of ``cryptography``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

POST_HEADERS = ("(request-target)", "host", "date", "digest", "content-type")
GET_HEADERS = ("(request-target)", "host", "date", "accept")
MAX_SKEW = timedelta(hours=1)
_PARAM = re.compile(r'\s*([a-zA-Z]+)\s*=\s*"([^"]*)"\s*(?:,|$)')


class SignatureError(ValueError):
    """The request's signature is missing, malformed, stale or does not verify; the text
    says which, for the 401 answer."""


@dataclass(frozen=True)
class SignatureParams:
    key_id: str
    algorithm: str
    headers: tuple[str, ...]
    signature: bytes


def new_private_key() -> str:
    """A fresh RSA-2048 key (what Mastodon uses), as PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()


def public_pem(private_pem: str) -> str:
    """The SPKI PEM of a private key, as the actor document publishes it."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def digest(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def http_date(now: datetime) -> str:
    return format_datetime(now.astimezone(UTC), usegmt=True)


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    *,
    key_id: str,
    private_pem: str,
    now: datetime,
    body: bytes | None = None,
) -> dict[str, str]:
    """Return ``headers`` plus ``Host``, ``Date``, ``Digest`` (with a body) and ``Signature``."""
    parts = urlsplit(url)
    out = {k.lower(): v for k, v in headers.items()}
    out["host"] = parts.netloc
    out["date"] = http_date(now)
    names: tuple[str, ...] = GET_HEADERS
    if body is not None:
        out["digest"] = digest(body)
        names = POST_HEADERS
    names = tuple(n for n in names if n == "(request-target)" or n in out)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    text = _signing_string(method, target or "/", out, names)
    raw = _private_key(private_pem).sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    out["signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(names)}",'
        f'signature="{base64.b64encode(raw).decode()}"'
    )
    return out


def parse(headers: Mapping[str, str]) -> SignatureParams:
    """The parameters of the ``Signature`` header (or ``Authorization: Signature ...``)."""
    raw = headers.get("signature")
    if raw is None:
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("signature "):
            raise SignatureError("no Signature header")
        raw = auth[len("signature ") :]
    params = {m.group(1).lower(): m.group(2) for m in _PARAM.finditer(raw)}
    if "keyid" not in params or "signature" not in params:
        raise SignatureError("Signature header lacks keyId or signature")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in ("rsa-sha256", "hs2019"):
        raise SignatureError(f"signature algorithm {algorithm} is not supported")
    try:
        signature = base64.b64decode(params["signature"], validate=True)
    except ValueError:
        raise SignatureError("signature is not base64") from None
    names = tuple(params.get("headers", "date").lower().split())
    return SignatureParams(params["keyid"], algorithm, names, signature)


def verify(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    params: SignatureParams,
    public_key_pem: str,
    now: datetime,
) -> None:
    """Check date, digest and the signature itself; raise SignatureError saying what failed.

    ``headers`` must have lower-case names; ``target`` is the path with its query.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    _check_fresh(lower, params, now)
    if method.upper() == "POST":
        if "digest" not in params.headers:
            raise SignatureError("a POST must sign its Digest header")
        _check_digest(lower.get("digest", ""), body)
    missing = [n for n in params.headers if n not in lower and not n.startswith("(")]
    if missing:
        raise SignatureError(f"signed header(s) missing: {', '.join(missing)}")
    text = _signing_string(method, target, lower, params.headers)
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except ValueError:
        raise SignatureError("the sender's public key is not a PEM key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("only RSA keys are supported")
    try:
        key.verify(params.signature, text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureError("signature does not verify") from None


@functools.lru_cache(maxsize=8)
def _private_key(private_pem: str) -> rsa.RSAPrivateKey:
    """Loaded once: loading validates the key, which costs ~50x a signature."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("only RSA keys can sign")
    return key


def _check_fresh(headers: Mapping[str, str], params: SignatureParams, now: datetime) -> None:
    if "date" not in params.headers and "(created)" not in params.headers:
        raise SignatureError("the signature must cover Date")
    raw = headers.get("date")
    if raw is None:
        raise SignatureError("no Date header")
    try:
        sent = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        raise SignatureError("Date header is not an HTTP date") from None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    if abs(now - sent) > MAX_SKEW:
        raise SignatureError(f"Date {raw} is more than an hour from now")


def _check_digest(header: str, body: bytes) -> None:
    for item in header.split(","):
        algo, _, value = item.strip().partition("=")
        if algo.lower() == "sha-256":
            if value != digest(body).partition("=")[2]:
                raise SignatureError("Digest does not match the body")
            return
    raise SignatureError("no SHA-256 Digest header")


def _signing_string(
    method: str, target: str, headers: Mapping[str, str], names: tuple[str, ...]
) -> str:
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {target}")
        elif name.startswith("("):
            raise SignatureError(f"signed pseudo-header {name} is not supported")
        else:
            lines.append(f"{name}: {headers[name]}")
    return "\n".join(lines)
