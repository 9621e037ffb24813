"""The CA's records: an account, a challenge, an authorization, an order, an issued certificate.

Plain data (RFC 8555 §7.1's objects as the CA keeps them), read before ``ca_state.py``,
which makes every decision about them.  ``resource()`` is how an object is served as JSON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509

from . import challenges as ch
from .jwk import key_from_jwk, thumbprint


def stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Account:
    id: str
    url: str
    jwk: dict
    contact: list[str]
    status: str = "valid"
    order_times: list[dt.datetime] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.use_key(self.jwk)

    def use_key(self, jwk: dict) -> None:
        """The account's key, parsed once (not on every request it signs) with its thumbprint."""
        self.jwk, self.key, self.thumbprint = jwk, key_from_jwk(jwk), thumbprint(jwk)

    def resource(self) -> dict:
        return {"status": self.status, "contact": self.contact, "orders": self.url + "/orders"}


@dataclass
class Challenge:
    id: str
    type: str
    token: str
    authz: Authorization
    status: str = "pending"
    error: dict | None = None
    validated: str | None = None

    def resource(self, base: str, issuers: list[str]) -> dict:
        doc = {"type": self.type, "url": f"{base}/acme/chall/{self.id}", "status": self.status}
        if self.type == ch.DNS_PERSIST01:
            doc["issuer-domain-names"] = issuers  # no token: the record names the account instead
        else:
            doc["token"] = self.token
        if self.validated:
            doc["validated"] = self.validated
        if self.error:
            doc["error"] = self.error
        return doc


@dataclass
class Authorization:
    id: str
    domain: str
    account: Account
    expires: dt.datetime
    status: str = "pending"
    challenges: list[Challenge] = field(default_factory=list)
    order: Order | None = None


@dataclass
class Order:
    id: str
    account: Account
    names: list[str]
    expires: dt.datetime
    authzs: list[Authorization]
    status: str = "pending"
    error: dict | None = None
    certificate: bytes | None = None


@dataclass
class Issued:
    """A certificate this CA signed, who ordered it, and whether it is revoked (the reason code)."""

    serial: int
    certificate: x509.Certificate
    account: Account
    revoked: int | None = None


# RFC 5280 §5.3.1 CRLReason codes a subscriber may give (Let's Encrypt's choice): unspecified,
# keyCompromise, affiliationChanged, superseded, cessationOfOperation.  6 (certificateHold) and
# the CA-side reasons are refused with badRevocationReason; 7 is unassigned.
REVOCATION_REASONS = {
    0: "unspecified",
    1: "keyCompromise",
    3: "affiliationChanged",
    4: "superseded",
    5: "cessationOfOperation",
}
