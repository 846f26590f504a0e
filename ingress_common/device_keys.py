"""A device's own key: an Ed25519 pair made on the box, and the short-lived JWTs it signs.

The private key never leaves the device (`load_or_create`: mode 0600, created once). The
device proves it holds the key by signing each token itself (`sign_token`): EdDSA, `sub` =
its device id, `aud` = `edge-audio-ingress`, `exp` at most `MAX_LIFETIME_S` ahead. The
token's header carries the public key (`jwk`, RFC 7515) and its RFC 7638 thumbprint
(`kid`), so that a gateway that does not know the key yet can still check the signature
and ask the fleet to enroll it (`verify_self_signed`). Whether the key is *admitted* is the
fleet's decision (the identity topic), never the token's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingress_common.auth import DEVICE_AUDIENCE, AuthError, decode_checked
from ingress_common.identifiers import is_id

MAX_LIFETIME_S = 300
"""A self-signed token is good for 5 minutes at most: a copied one soon stops working."""
TOKEN_LIFETIME_S = 240
"""What the agent asks for, under the bound with room for clock skew."""
LEEWAY_S = 30
MAX_CLAIM_CHARS = 256
"""hostname, agent version and each capture device name, as a gateway stores them."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(raw_public_key: bytes) -> dict[str, str]:
    """The public JWK of a raw 32-byte Ed25519 key (RFC 8037)."""
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw_public_key)}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, with no whitespace."""
    required = {name: jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()
    return _b64url(hashlib.sha256(canonical).digest())


_PKCS8_ED25519_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
"""PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410): the key file
is the standard PEM that openssl reads, written without a crypto library's parser."""


@dataclass(frozen=True)
class DeviceKey:
    """The device's private key (its 32-byte seed), with its public JWK and thumbprint.

    Signing uses PyNaCl (libsodium): in the agent it costs about 1 MiB of RSS, where
    `cryptography` (with PyJWT) would cost 8.5 MiB of a 50 MiB budget."""

    seed: bytes
    jwk: dict[str, str]

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.jwk)

    @classmethod
    def from_seed(cls, seed: bytes) -> DeviceKey:
        import nacl.signing

        verify_key = nacl.signing.SigningKey(seed).verify_key
        return cls(seed, public_jwk(bytes(verify_key)))

    @classmethod
    def load_or_create(cls, path: Path) -> DeviceKey:
        """The key in `path` (PEM, PKCS#8), made there first if the file does not exist
        (mode 0600, created exclusively: two starts never make two keys)."""
        if not path.exists():
            pem = ("-----BEGIN PRIVATE KEY-----\n"
                   + base64.b64encode(_PKCS8_ED25519_PREFIX + os.urandom(32)).decode()
                   + "\n-----END PRIVATE KEY-----\n")
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # made by another start just now: read that one
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(pem)
        text = path.read_text()
        body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
        try:
            der = base64.b64decode(body, validate=True)
        except ValueError:
            der = b""
        if len(der) != 48 or not der.startswith(_PKCS8_ED25519_PREFIX):
            raise ValueError(f"{path} does not hold an Ed25519 private key (PKCS#8 PEM)")
        return cls.from_seed(der[16:])

    def sign_token(self, device_id: str, claims: dict[str, Any] | None = None,
                   lifetime_s: int = TOKEN_LIFETIME_S, now: float | None = None) -> str:
        """A JWT (JWS compact, RFC 7515) for `device_id`, signed with this key; `claims`
        adds what the device says of itself (hostname, agent version, capture devices, a
        join code)."""
        import nacl.signing

        issued = int(time.time() if now is None else now)
        payload = {**(claims or {}), "sub": device_id, "aud": DEVICE_AUDIENCE, "iat": issued,
                   "exp": issued + min(lifetime_s, MAX_LIFETIME_S), "jti": str(uuid.uuid4())}
        header = {"alg": "EdDSA", "typ": "JWT", "kid": self.thumbprint, "jwk": self.jwk}
        signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode())
                                 for part in (header, payload))
        signature = nacl.signing.SigningKey(self.seed).sign(signing_input.encode()).signature
        return f"{signing_input}.{_b64url(signature)}"


@dataclass(frozen=True)
class SelfSigned:
    """A token whose signature its own header's key checks: the device holds that key."""

    device_id: str
    thumbprint: str
    jwk: dict[str, str]
    claims: dict[str, Any]

    def claim(self, name: str) -> str:
        """A string claim the device makes of itself, cut to `MAX_CLAIM_CHARS` ('' if absent)."""
        value = self.claims.get(name)
        return value[:MAX_CLAIM_CHARS] if isinstance(value, str) else ""

    def claim_list(self, name: str, most: int = 8) -> list[str]:
        value = self.claims.get(name)
        if not isinstance(value, list):
            return []
        return [str(item)[:MAX_CLAIM_CHARS] for item in value[:most]]


def is_self_signed(header: dict[str, Any]) -> bool:
    """A token that carries its own key (`jwk`): the device's, not the operator's."""
    return "jwk" in header


def verify_self_signed(token: str, audience: str = DEVICE_AUDIENCE,
                       now: float | None = None) -> SelfSigned:
    """Check that the token is signed by the key in its header, that `kid` is that key's
    thumbprint, and its claims: EdDSA only, `aud`, `sub` a device id, `exp` no more than
    `MAX_LIFETIME_S` ahead. Raises AuthError with a message safe to show the client."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError("malformed token") from None
    if header.get("alg") != "EdDSA":
        raise AuthError("a device's own key signs with EdDSA only")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" \
            or not isinstance(jwk.get("x"), str):
        raise AuthError("the token's jwk is not an Ed25519 public key")
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}
    if header.get("kid") != thumbprint(jwk):
        raise AuthError("the token's kid is not its key's thumbprint")
    try:
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise AuthError("the token's jwk is not an Ed25519 public key") from None
    claims = decode_checked(token, key, ["EdDSA"], audience, leeway_s=LEEWAY_S)
    current = time.time() if now is None else now
    if float(claims["exp"]) > current + MAX_LIFETIME_S + LEEWAY_S:
        raise AuthError(f"a self-signed token may live {MAX_LIFETIME_S} s at most")
    subject = str(claims["sub"])
    if not is_id(subject):
        raise AuthError("token's sub is not a device id")
    return SelfSigned(subject, header["kid"], jwk, claims)


def code_hash(code: str) -> str:
    """How a join code is stored and compared: SHA-256, hex. Codes are 128 random bits, so
    a hash without salt is as good as a password hash would be, and comparable anywhere."""
    return hashlib.sha256(code.strip().encode()).hexdigest()
