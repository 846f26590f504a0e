"""Device provisioning: a signing key pair for the operator, and a JWT per device.

The private key stays with the operator (never on the gateway); the gateway gets the public
key (`GATEWAY_AUTH_PUBLIC_KEYS`), each device gets its token (`AGENT_TOKEN_FILE`).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

KEY_ALGORITHMS = ("ES256", "EdDSA", "RS256")
_TTL = re.compile(r"^(\d+)([smhd]?)$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """"3600", "90m", "12h", "30d" → seconds."""
    match = _TTL.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a duration like 3600, 90m, 12h or 30d, not {text!r}")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def generate_key_pair(algorithm: str = "ES256") -> tuple[bytes, bytes]:
    """(private key PEM, public key PEM) for `algorithm`."""
    private_key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    if algorithm == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "EdDSA":
        private_key = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "RS256":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise ValueError(f"algorithm must be one of {', '.join(KEY_ALGORITHMS)}")
    private_pem = private_key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem, public_pem


def write_key_pair(directory: Path, name: str, algorithm: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    if private_path.exists():
        raise FileExistsError(f"{private_path} exists; refusing to overwrite a signing key")
    private_pem, public_pem = generate_key_pair(algorithm)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path


def issue_token(private_key_pem: bytes, device_id: str, ttl_s: int, audience: str,
                issuer: str | None = None, now: float | None = None) -> str:
    if not device_id.strip():
        raise ValueError("the device id must not be empty")
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = "ES256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = "EdDSA"
    elif isinstance(key, rsa.RSAPrivateKey):
        algorithm = "RS256"
    else:
        raise ValueError("unsupported private key type")
    issued = int(time.time() if now is None else now)
    claims = {"sub": device_id, "aud": audience, "iat": issued, "nbf": issued,
              "exp": issued + ttl_s, "jti": str(uuid.uuid4())}
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, key, algorithm=algorithm)
