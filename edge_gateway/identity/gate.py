"""Who a connecting device is, and whether the fleet admits it: the one check before an
audio stream or a health report (docs/security.md, "Device identities").

Two kinds of token, both possibly on:
- **operator-signed** (`GATEWAY_AUTH_PUBLIC_KEYS`): checked against the operator's keys,
  as before;
- **self-signed** by the device's own key (`GATEWAY_ENROLLMENT=on`): the token carries its
  public key; the gateway checks the signature with it, then asks the identity topic what
  the fleet decided about that device id:

  | the fleet's record for the id | the same key | another key |
  |---|---|---|
  | none | ask to join: `enrollment_pending` | (as "none") |
  | accepted | admitted | `unknown_key` (shown to the operator as a conflict) |
  | rejected | `rejected` | ask to join: `enrollment_pending` |
  | revoked | `revoked` | ask to join: `enrollment_pending` |

With enrollment on, a revocation applies to a device id whatever its token: an
operator-signed device revoked in the console is refused as well.
"""

from __future__ import annotations

from edge_gateway.identity.enrollment import EnrollmentDesk
from edge_gateway.identity.follower import IdentityFollower, IdentityNotRead, TooManyNewDevices
from ingress_common.auth import AuthError, TokenVerifier
from ingress_common.device_keys import SelfSigned, is_self_signed, verify_self_signed
from ingress_common.identity_records import ACCEPTED, REJECTED, REVOKED, DeviceIdentity
from ingress_common.refusals import (
    AdmissionRefused,
    DeviceRejected,
    DeviceRevoked,
    EnrollmentBusy,
    EnrollmentPending,
    IdentityUnavailable,
    Unauthorized,
    UnknownKey,
)

LOOKUP_TIMEOUT_S = 3.0
"""How long a connection waits for its device's identity to be read from Kafka."""


class DeviceGate:
    def __init__(self, verifier: TokenVerifier | None,
                 identities: IdentityFollower | None = None,
                 desk: EnrollmentDesk | None = None,
                 lookup_timeout_s: float = LOOKUP_TIMEOUT_S) -> None:
        """`identities` and `desk` together turn enrollment on."""
        self._verifier = verifier
        self._identities = identities
        self._desk = desk
        self._lookup_timeout_s = lookup_timeout_s

    @property
    def enabled(self) -> bool:
        return self._verifier is not None or self._identities is not None

    def admit(self, token: str | None) -> str | None:
        """The device id the token proves (None: authentication is off). Raises an
        AdmissionRefused that says why not."""
        if not self.enabled:
            return None
        if token is None:
            raise Unauthorized("no device token")
        try:
            return self._admit(token)
        except AuthError as exc:
            raise Unauthorized(str(exc)) from None

    def _admit(self, token: str) -> str:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if is_self_signed(header):
            if self._identities is None:
                raise AuthError("a device's own key is not accepted here (enrollment is off)")
            self._refuse_if_busy(token)
            return self._admit_own_key(verify_self_signed(token))
        if self._verifier is None:
            raise AuthError("operator-signed tokens are not accepted here "
                            "(GATEWAY_AUTH_PUBLIC_KEYS is not set)")
        device_id = self._verifier.verify(token).device_id
        if self._identities is not None:
            identity = self._lookup(device_id)
            if identity is not None and identity.status == REVOKED:
                raise DeviceRevoked("an operator revoked this device")
            if identity is None:
                self._identities.keep(device_id)  # so that a revocation reaches its streams
        return device_id

    def _refuse_if_busy(self, token: str) -> None:
        """A new device while this gateway reads too many: refused before its signature is
        checked (a flood of fresh keys is refused at the least cost; refusing grants
        nothing, so the claim need not be proven)."""
        import jwt

        assert self._identities is not None
        try:
            claimed = str(jwt.decode(token, options={"verify_signature": False}).get("sub", ""))
        except jwt.PyJWTError:
            return  # the full check says why
        if self._identities.too_busy_for(claimed):
            raise EnrollmentBusy("this gateway is reading many new devices at once; nothing "
                                 "was written, retry later")

    def _admit_own_key(self, device: SelfSigned) -> str:
        assert self._desk is not None
        identity = self._lookup(device.device_id)
        if identity is not None and identity.thumbprint == device.thumbprint:
            if identity.status == ACCEPTED:
                self._desk.answered(device.device_id)
                return device.device_id
            self._desk.answered(device.device_id)
            if identity.status == REVOKED:
                raise DeviceRevoked("an operator revoked this device's key; only a new key "
                                    "may ask to join again")
            if identity.status == REJECTED:
                raise DeviceRejected("an operator turned this key away; only a new key may "
                                     "ask to join again")
        if identity is not None and identity.status == ACCEPTED:
            self._desk.ask(device)  # shown to the operator as a conflict
            raise UnknownKey("this device id is enrolled with another key")
        self._desk.ask(device)
        raise EnrollmentPending("this device's key waits for an operator to accept it; "
                                f"its thumbprint is {device.thumbprint}; nothing was published")

    def _lookup(self, device_id: str) -> DeviceIdentity | None:
        assert self._identities is not None
        try:
            return self._identities.lookup(device_id, self._lookup_timeout_s)
        except TooManyNewDevices as exc:
            raise EnrollmentBusy(f"{exc}; nothing was written, retry later") from None
        except IdentityNotRead as exc:
            raise IdentityUnavailable(f"{exc}; nothing was published, retry later") from None


__all__ = ["AdmissionRefused", "DeviceGate"]
