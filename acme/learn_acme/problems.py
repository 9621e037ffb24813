"""Errors as problem documents (RFC 7807), with ACME's error types (RFC 8555 §6.7).

Every ACME error is a JSON body of type ``application/problem+json``::

    {"type": "urn:ietf:params:acme:error:badNonce", "detail": "...", "status": 400}

The client reacts to the type, not to the text: ``badNonce`` means "retry
with the fresh nonce in this response's Replay-Nonce header" (§6.5), which
is why every error response carries one.  Pure.
"""

from __future__ import annotations

NAMESPACE = "urn:ietf:params:acme:error:"

# The types this CA answers with, and the HTTP status it uses for each.
STATUS = {
    "accountDoesNotExist": 400,
    "alreadyRevoked": 400,
    "badCSR": 400,
    "badNonce": 400,
    "badPublicKey": 400,
    "badRevocationReason": 400,
    "badSignatureAlgorithm": 400,
    "caa": 403,
    "compound": 403,
    "connection": 400,
    "dns": 400,
    "externalAccountRequired": 400,
    "incorrectResponse": 403,
    "invalidContact": 400,
    "malformed": 400,
    "orderNotReady": 403,
    "rateLimited": 429,
    "rejectedIdentifier": 400,
    "serverInternal": 500,
    "tls": 400,
    "unauthorized": 403,
    "unsupportedContact": 400,
    "unsupportedIdentifier": 400,
    "userActionRequired": 403,
}
CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """One ACME error: its short type (``badNonce``), a detail for humans, optional subproblems.

    A plain exception (not a frozen dataclass: raising sets ``__traceback__`` on it).
    """

    def __init__(
        self,
        type: str,
        detail: str,
        subproblems: tuple[Problem, ...] = (),
        *,
        status: int | None = None,
        location: str | None = None,
    ) -> None:
        if type not in STATUS:
            raise ValueError(f"{type!r} is not an RFC 8555 §6.7 error type")
        super().__init__(type, detail)
        self.type, self.detail, self.subproblems = type, detail, subproblems
        # A few answers need their own status and a Location: keyChange to a key in use is
        # 409 Conflict naming the account that has it (§7.3.5).
        self._status, self.location = status, location

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.type, self.detail) == (other.type, other.detail)

    __hash__ = Exception.__hash__

    @property
    def status(self) -> int:
        return self._status or STATUS[self.type]

    def document(self) -> dict:
        doc: dict = {"type": NAMESPACE + self.type, "detail": self.detail, "status": self.status}
        if self.subproblems:
            doc["subproblems"] = [p.document() for p in self.subproblems]
        return doc

    @classmethod
    def from_document(cls, doc: dict) -> Problem:
        short = str(doc.get("type", "")).removeprefix(NAMESPACE)
        return cls(short if short in STATUS else "serverInternal", str(doc.get("detail", "")))

    def __str__(self) -> str:
        return f"{self.type}: {self.detail}"
