"""Ed25519 keys and compact JWS (RFC 7515, alg EdDSA per RFC 8037) for license certificates.

Keys, in the order they are used:

* `LICENSE_SIGNING_KEYS` (setting / environment): one PEM (PKCS#8 Ed25519 private key), several
  PEMs concatenated, or a JSON list of PEMs. The first key signs; every listed key is published
  in the JWKS. To rotate, put the new key first and keep the old ones listed for as long as
  certificates they signed must verify. Literal `\\n` sequences (one-line env values) are
  accepted.
* Otherwise a key generated on first use and stored in the `SigningKey` table (development and
  tests), unless `LICENSE_SIGNING_KEY_AUTOGENERATE` is false (production), in which case signing
  fails loudly. Stored keys stay published even when configured keys take over, so their
  certificates keep verifying.

Key ids are RFC 7638 JWK thumbprints, so the same key always has the same `kid`."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from licensing.models import SigningKey

ALG = "EdDSA"
_PEM = re.compile(r"-----BEGIN PRIVATE KEY-----.+?-----END PRIVATE KEY-----", re.S)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(raw_public: bytes) -> str:
    """RFC 7638 thumbprint of an Ed25519 public key (required members, sorted, no spaces)."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw_public)},
        separators=(",", ":"),
        sort_keys=True,
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class PublicKey:
    kid: str
    key: Ed25519PublicKey

    def jwk(self) -> dict:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(_raw_public(self.key)),
            "kid": self.kid,
            "use": "sig",
            "alg": ALG,
        }


@dataclass(frozen=True)
class PrivateKey:
    kid: str
    key: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.kid, self.key.public_key())


def _load_pem(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("LICENSE_SIGNING_KEYS: every key must be an Ed25519 key.")
    return PrivateKey(thumbprint(_raw_public(key.public_key())), key)


@functools.lru_cache(maxsize=8)
def _parse_configured(value: str) -> tuple[PrivateKey, ...]:
    value = value.strip()
    if not value:
        return ()
    if value.startswith("["):
        pems = json.loads(value)
        if not isinstance(pems, list) or not all(isinstance(p, str) for p in pems):
            raise ImproperlyConfigured("LICENSE_SIGNING_KEYS: a JSON list must hold PEM strings.")
    else:
        pems = _PEM.findall(value.replace("\\n", "\n"))
        if not pems:
            raise ImproperlyConfigured("LICENSE_SIGNING_KEYS: no PEM private key found.")
    return tuple(_load_pem(p.replace("\\n", "\n")) for p in pems)


def configured_keys() -> tuple[PrivateKey, ...]:
    value = settings.LICENSE_SIGNING_KEYS
    if isinstance(value, list | tuple):
        value = json.dumps(list(value))
    return _parse_configured(value)


def _stored_keys():
    return list(SigningKey.objects.order_by("-created_at", "-pk"))


def _generate_stored() -> PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    raw = _raw_public(key.public_key())
    kid = thumbprint(raw)
    # Two processes racing here each store a key; both are published, the newest signs.
    SigningKey.objects.create(kid=kid, private_key_pem=pem, public_key_b64=b64url(raw))
    return PrivateKey(kid, key)


def signing_key() -> PrivateKey:
    """The key that signs new certificates."""
    configured = configured_keys()
    if configured:
        return configured[0]
    for row in _stored_keys():
        if row.retired_at is None:
            return _load_pem(row.private_key_pem)
    if not settings.LICENSE_SIGNING_KEY_AUTOGENERATE:
        raise ImproperlyConfigured(
            "No license signing key: set LICENSE_SIGNING_KEYS (Ed25519 PEM) in the environment."
        )
    return _generate_stored()


def published_keys() -> list[PublicKey]:
    """Every key whose signatures we vouch for: configured ones, then stored ones."""
    keys = [k.public for k in configured_keys()]
    seen = {k.kid for k in keys}
    for row in _stored_keys():
        if row.kid not in seen:
            raw = b64url_decode(row.public_key_b64)
            keys.append(PublicKey(row.kid, Ed25519PublicKey.from_public_bytes(raw)))
            seen.add(row.kid)
    return keys


def jwks() -> dict:
    return {"keys": [k.jwk() for k in published_keys()]}


def _json(data: dict) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def jws_sign(claims: dict) -> tuple[str, str]:
    """Compact JWS of `claims` (JSON); returns (token, kid)."""
    key = signing_key()
    header = {"alg": ALG, "kid": key.kid, "typ": "JWT"}
    signing_input = f"{b64url(_json(header))}.{b64url(_json(claims))}"
    signature = key.key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}", key.kid


class InvalidToken(Exception):
    """A well-formed token that is not ours (unknown key, bad signature): a verdict, not an
    input error."""


class MalformedToken(InvalidToken):
    """Not a compact EdDSA JWS at all (bad encoding, a header that is not an object, a `kid`
    that is not a string, another algorithm, oversized): the caller sent bad input."""


# A certificate lists every version of a dataset; far below the API's body limit.
MAX_TOKEN_CHARS = 100_000
MAX_HEADER_CHARS = 1_024


def _decode_header(segment: str) -> dict:
    if len(segment) > MAX_HEADER_CHARS:
        raise MalformedToken("The JWS header is too large.")
    try:
        header = json.loads(b64url_decode(segment))
    except (ValueError, RecursionError) as exc:
        raise MalformedToken("Malformed JWS header (not base64url-encoded JSON).") from exc
    if not isinstance(header, dict):
        raise MalformedToken("The JWS header is not a JSON object.")
    if header.get("alg") != ALG:
        raise MalformedToken(f"Unsupported algorithm; certificates are signed with {ALG}.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 128:
        raise MalformedToken("The JWS header's `kid` must be a key id string.")
    return header


def jws_verify(token: str) -> tuple[dict, dict]:
    """(header, claims) of a compact JWS signed by one of our published keys; InvalidToken
    with the reason otherwise (MalformedToken when it is not an EdDSA compact JWS at all)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise MalformedToken("Not a compact JWS (too large).")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise MalformedToken("Not a compact JWS (three dot-separated parts expected).")
    header = _decode_header(parts[0])
    try:
        signature = b64url_decode(parts[2])
        payload = b64url_decode(parts[1])
    except ValueError as exc:
        raise MalformedToken("Malformed JWS encoding.") from exc
    keys = {k.kid: k for k in published_keys()}
    key = keys.get(header["kid"])
    if key is None:
        raise InvalidToken("Signed with an unknown key (kid not in our JWKS).")
    try:
        key.key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except InvalidSignature as exc:
        raise InvalidToken("The signature does not match the certificate's content.") from exc
    try:
        claims = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise InvalidToken("The payload is not JSON.") from exc
    if not isinstance(claims, dict):
        raise InvalidToken("The payload is not a JSON object.")
    return header, claims
