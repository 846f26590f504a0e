"""A device's own key: made once, read by openssl's standards, and its tokens checked by
the key they carry; every way a token can lie is refused."""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ingress_common.auth import AuthError
from ingress_common.device_keys import (
    MAX_LIFETIME_S,
    DeviceKey,
    public_jwk,
    thumbprint,
    verify_self_signed,
)


def test_the_key_is_made_once_private_and_standard(tmp_path: Path) -> None:
    path = tmp_path / "state" / "device.key"
    key = DeviceKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert DeviceKey.load_or_create(path).thumbprint == key.thumbprint  # read, not remade
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, ed25519.Ed25519PrivateKey)  # what openssl and cryptography read
    raw = loaded.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    assert public_jwk(raw) == key.jwk


def test_thumbprint_is_rfc_7638() -> None:
    # RFC 8037, appendix A.3: the thumbprint of its example Ed25519 key
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_a_token_it_signs_is_checked_by_the_key_it_carries(tmp_path: Path) -> None:
    key = DeviceKey.load_or_create(tmp_path / "k")
    token = key.sign_token("pi-kitchen", {"hostname": "kitchen", "capture_devices": ["hw:1"]})
    device = verify_self_signed(token)
    assert (device.device_id, device.thumbprint) == ("pi-kitchen", key.thumbprint)
    assert device.claim("hostname") == "kitchen" and device.claim_list("capture_devices") == ["hw:1"]
    header = jwt.get_unverified_header(token)
    assert header["kid"] == key.thumbprint and header["alg"] == "EdDSA"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "edge-audio-ingress" and claims["exp"] - claims["iat"] <= MAX_LIFETIME_S


def _forge(token: str, header_change: dict | None = None,
           claims_change: dict | None = None) -> str:
    """The token with its header or claims changed, and its old signature."""
    head_b64, body_b64, signature = token.split(".")
    pad = lambda part: base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))  # noqa: E731
    header = {**json.loads(pad(head_b64)), **(header_change or {})}
    claims = {**json.loads(pad(body_b64)), **(claims_change or {})}
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc(header)}.{enc(claims)}.{signature}"


def _signed_for_an_hour(key: DeviceKey) -> str:
    """What a device could sign if it ignored the bound: a validly signed token good for
    an hour (signed here with cryptography, from the same seed)."""
    now = int(time.time())
    private = ed25519.Ed25519PrivateKey.from_private_bytes(key.seed)
    return jwt.encode({"sub": "pi-kitchen", "aud": "edge-audio-ingress", "iat": now,
                       "exp": now + 3600}, private, algorithm="EdDSA",
                      headers={"kid": key.thumbprint, "jwk": key.jwk})


def test_lies_are_refused(tmp_path: Path) -> None:
    key = DeviceKey.load_or_create(tmp_path / "k")
    other = DeviceKey.load_or_create(tmp_path / "other")
    token = key.sign_token("pi-kitchen")
    with pytest.raises(AuthError, match="signature"):  # claims changed after signing
        verify_self_signed(_forge(token, claims_change={"sub": "pi-hall"}))
    with pytest.raises(AuthError, match="kid"):  # another key's thumbprint as kid
        verify_self_signed(_forge(token, header_change={"kid": other.thumbprint}))
    with pytest.raises(AuthError, match="signature"):  # another key in the header
        verify_self_signed(_forge(token, header_change={"jwk": other.jwk,
                                                         "kid": other.thumbprint}))
    with pytest.raises(AuthError, match="EdDSA"):
        verify_self_signed(_forge(token, header_change={"alg": "none"}))
    with pytest.raises(AuthError, match="300 s at most"):
        verify_self_signed(_signed_for_an_hour(key))
    with pytest.raises(AuthError, match="expired"):
        verify_self_signed(key.sign_token("pi-kitchen", now=time.time() - 3600))
    with pytest.raises(AuthError, match="device id"):
        verify_self_signed(key.sign_token("not a device id!"))
