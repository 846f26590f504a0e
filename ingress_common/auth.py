"""Device authentication: JWTs signed by the operator's key, checked before the upgrade.

Off unless `auth_public_keys` names a PEM file (one or more public keys) or a JWKS file.
A token must be signed with an asymmetric algorithm (RS256, ES256, EdDSA; never HS* or
none), carry `exp`, `sub` and the configured `aud`. `sub` is the device id: it overrides any
device_id the client sends. Tokens are taken from, in order of preference:

1. `Authorization: Bearer <jwt>`;
2. `Sec-WebSocket-Protocol`: an offered subprotocol `bearer.<jwt>` (browsers cannot set
   headers); the server selects `edge-audio.v1`;
3. a `token` query parameter: least preferred, because query strings end up in proxy logs.

The gateway never logs a token, and a refusal never says more than which check failed.
PyJWT and cryptography are imported only when authentication is on (they cost ~8 MiB).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUBPROTOCOL = "edge-audio.v1"
DEVICE_AUDIENCE = "edge-audio-ingress"
OPERATOR_AUDIENCE = "edge-audio-console"
"""Operator tokens (edge-console) carry another audience than device tokens: neither is
ever accepted where the other is."""
BEARER_SUBPROTOCOL_PREFIX = "bearer."
DEFAULT_ALGORITHMS = ("RS256", "ES256", "EdDSA")
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                   "ES256", "ES384", "ES512", "EdDSA"})


class AuthError(Exception):
    """The request carries no acceptable token. The message is safe to show the client."""


class BadSignature(AuthError):
    """The token is not signed by the key it was checked with (another key may fit)."""


def decode_checked(token: str, key: Any, algorithms: list[str], audience: str,
                   issuer: str | None = None, leeway_s: float = 30.0) -> dict[str, Any]:
    """The token's claims, checked with `key`: signature, `exp`, `sub`, `aud` (and `iss`
    when given). Every failure is an AuthError that names the check, never the token."""
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=algorithms,
                                            audience=audience, issuer=issuer, leeway=leeway_s,
                                            options={"require": ["exp", "sub", "aud"]})
    except jwt.InvalidSignatureError:
        raise BadSignature("token signature not valid") from None
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidAudienceError:
        raise AuthError("token audience not accepted") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token lacks the {exc.claim} claim") from None
    except jwt.PyJWTError:
        raise AuthError("token not valid") from None
    return claims


@dataclass(frozen=True)
class Device:
    device_id: str


class TokenVerifier:
    def __init__(self, keys: list[Any], keys_by_kid: Mapping[str, Any], audience: str,
                 algorithms: tuple[str, ...], issuer: str | None = None,
                 leeway_s: float = 30.0) -> None:
        unsafe = set(algorithms) - ASYMMETRIC_ALGORITHMS
        if unsafe:
            raise ValueError(f"only asymmetric JWT algorithms are accepted, not {sorted(unsafe)}")
        if not keys and not keys_by_kid:
            raise ValueError("no public keys")
        self._keys = keys
        self._keys_by_kid = dict(keys_by_kid)
        self.audience = audience
        self.algorithms = algorithms
        self.issuer = issuer
        self.leeway_s = leeway_s

    @classmethod
    def from_file(cls, path: Path, audience: str, algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
                  issuer: str | None = None, leeway_s: float = 30.0) -> TokenVerifier:
        """A JWKS file (JSON) or a PEM file with one or more public keys."""
        import jwt
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        text = path.read_text()
        if text.lstrip().startswith("{"):
            jwks = jwt.PyJWKSet.from_dict(json.loads(text))
            by_kid = {key.key_id: key.key for key in jwks.keys if key.key_id}
            unnamed = [key.key for key in jwks.keys if not key.key_id]
            return cls(unnamed, by_kid, audience, algorithms, issuer, leeway_s)
        blocks = [f"-----BEGIN{block}" for block in text.split("-----BEGIN")[1:]]
        keys = [load_pem_public_key(block.encode()) for block in blocks]
        return cls(keys, {}, audience, algorithms, issuer, leeway_s)

    def verify(self, token: str) -> Device:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if header.get("alg") not in self.algorithms:
            raise AuthError("token algorithm not accepted")
        kid = header.get("kid")
        candidates = ([self._keys_by_kid[kid]] if kid in self._keys_by_kid
                      else self._keys or list(self._keys_by_kid.values()))
        for key in candidates:
            try:
                claims = decode_checked(token, key, list(self.algorithms), self.audience,
                                        self.issuer, self.leeway_s)
            except BadSignature:
                continue
            subject = str(claims["sub"]).strip()
            if not subject:
                raise AuthError("token has an empty sub")
            return Device(subject)
        raise AuthError("token signature not valid")


def token_from_request(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The first token found, in order of preference; header names are case-insensitive."""
    headers = {name.lower(): value for name, value in headers.items()}
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    for offered in headers.get("sec-websocket-protocol", "").split(","):
        offered = offered.strip()
        if offered.startswith(BEARER_SUBPROTOCOL_PREFIX):
            return offered[len(BEARER_SUBPROTOCOL_PREFIX):]
    return query.get("token") or None
