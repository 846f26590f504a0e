import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from edge_gateway.provisioning import generate_key_pair, issue_token, parse_ttl
from ingress_common.auth import AuthError, TokenVerifier, token_from_request

AUD = "edge-audio-ingress"


def verifier_for(public_pem: bytes, tmp_path: Path, **kwargs: object) -> TokenVerifier:
    path = tmp_path / "keys.pem"
    path.write_bytes(public_pem)
    return TokenVerifier.from_file(path, AUD, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_a_token_issued_for_a_device_names_that_device(algorithm: str, tmp_path: Path) -> None:
    private, public = generate_key_pair(algorithm)
    token = issue_token(private, "pi-kitchen", 3600, AUD)
    assert verifier_for(public, tmp_path).verify(token).device_id == "pi-kitchen"


def test_expired_wrong_audience_and_foreign_keys_are_refused(tmp_path: Path) -> None:
    private, public = generate_key_pair("ES256")
    verifier = verifier_for(public, tmp_path)
    expired = issue_token(private, "pi", 60, AUD, now=time.time() - 3600)
    with pytest.raises(AuthError, match="expired"):
        verifier.verify(expired)
    with pytest.raises(AuthError, match="audience"):
        verifier.verify(issue_token(private, "pi", 60, "some-other-service"))
    other_private, _ = generate_key_pair("ES256")
    with pytest.raises(AuthError, match="signature"):
        verifier.verify(issue_token(other_private, "pi", 60, AUD))
    with pytest.raises(AuthError, match="malformed"):
        verifier.verify("not-a-jwt")


def test_exp_and_sub_are_required(tmp_path: Path) -> None:
    private, public = generate_key_pair("ES256")
    key = serialization.load_pem_private_key(private, password=None)
    no_exp = jwt.encode({"sub": "pi", "aud": AUD}, key, algorithm="ES256")  # type: ignore[arg-type]
    no_sub = jwt.encode({"aud": AUD, "exp": int(time.time()) + 60}, key,  # type: ignore[arg-type]
                        algorithm="ES256")
    verifier = verifier_for(public, tmp_path)
    with pytest.raises(AuthError, match="exp"):
        verifier.verify(no_exp)
    with pytest.raises(AuthError, match="sub"):
        verifier.verify(no_sub)


def test_symmetric_and_unsigned_tokens_are_refused(tmp_path: Path) -> None:
    """Algorithm confusion: an HS256 token 'signed' with the public key, and alg=none."""
    _, public = generate_key_pair("RS256")
    verifier = verifier_for(public, tmp_path)
    claims = {"sub": "evil", "aud": AUD, "exp": int(time.time()) + 60}
    forged = hs256_by_hand(claims, secret=public)
    unsigned = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    for token in (forged, unsigned):
        with pytest.raises(AuthError, match="algorithm"):
            verifier.verify(token)
    with pytest.raises(ValueError, match="asymmetric"):
        verifier_for(public, tmp_path, algorithms=("HS256",))


def hs256_by_hand(claims: dict[str, object], secret: bytes) -> str:
    """PyJWT refuses to make this token, which is the attack: build it by hand."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    header = json.dumps({"alg": "HS256", "typ": "JWT"}).encode()
    signing_input = f"{b64(header)}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def test_jwks_keys_are_chosen_by_kid(tmp_path: Path) -> None:
    private_a, public_a = generate_key_pair("ES256")
    private_b, public_b = generate_key_pair("ES256")
    jwks = {"keys": []}
    for kid, public in (("a", public_a), ("b", public_b)):
        key = serialization.load_pem_public_key(public)
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))  # type: ignore[arg-type]
        jwks["keys"].append({**jwk, "kid": kid, "alg": "ES256"})
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(jwks))
    verifier = TokenVerifier.from_file(path, AUD)
    key_b = serialization.load_pem_private_key(private_b, password=None)
    token = jwt.encode({"sub": "pi-b", "aud": AUD, "exp": int(time.time()) + 60}, key_b,  # type: ignore[arg-type]
                       algorithm="ES256", headers={"kid": "b"})
    assert verifier.verify(token).device_id == "pi-b"
    wrong_kid = jwt.encode({"sub": "pi-b", "aud": AUD, "exp": int(time.time()) + 60}, key_b,  # type: ignore[arg-type]
                           algorithm="ES256", headers={"kid": "a"})
    with pytest.raises(AuthError):
        verifier.verify(wrong_kid)


def test_token_sources_in_order_of_preference() -> None:
    both = {"authorization": "Bearer H", "Sec-WebSocket-Protocol": "edge-audio.v1, bearer.P"}
    assert token_from_request(both, {"token": "Q"}) == "H"
    assert token_from_request({"Sec-Websocket-Protocol": "edge-audio.v1, bearer.P"}, {}) == "P"
    assert token_from_request({}, {"token": "Q"}) == "Q"
    assert token_from_request({"Authorization": "Basic x"}, {}) is None


def test_ttl_parsing() -> None:
    assert [parse_ttl(t) for t in ("90", "15m", "12h", "30d")] == [90, 900, 43200, 2592000]
    for bad in ("", "0", "-5", "1w", "h"):
        with pytest.raises(ValueError):
            parse_ttl(bad)
