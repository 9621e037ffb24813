"""What the CA remembers and decides: accounts, nonces, orders, authorizations, challenges.

After ``pki.py`` and ``ca_records.py`` in the reading order, before ``ca.py`` (which only turns HTTP
requests into calls here and answers).  Every decision of RFC 8555 §7 that is
not about bytes on the wire lives in this file: nonce bookkeeping (§6.5),
account lookup (§7.3), order creation with one authorization per identifier
and its challenges (§7.4, §7.5), how a challenge's verdict moves the
authorization and the order (the tables of ``objects.py``), the CSR check at
finalize, expiry, a per-account rate limit, and the account's later life:
a new key (keyChange, §7.3.5) and revocation (§7.6).

Pure apart from the ``pki`` signing: the clock (``now``) and the source of
random tokens (``random_token``) are parameters, so tests can expire an order
or predict a token.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

from cryptography import x509

from . import challenges as ch
from . import jws as jose
from .ca_records import REVOCATION_REASONS, Account, Authorization, Challenge, Issued, Order, stamp
from .jwk import b64url_decode, key_from_jwk, public_jwk, thumbprint
from .objects import AUTHORIZATION, CHALLENGE, ORDER, order_event
from .pki import Authority, csr_names
from .problems import Problem


class CaState:
    """The whole CA's memory; ``base`` is its URL, ``issuers`` its DNS-PERSIST-01 issuer names."""

    def __init__(
        self,
        base: str,
        authority: Authority,
        *,
        now: Callable[[], dt.datetime],
        random_token: Callable[[], str] = lambda: secrets.token_urlsafe(32),
        issuers: tuple[str, ...] = ("ca.wirelab.test",),
        order_lifetime: dt.timedelta = dt.timedelta(hours=1),
        orders_per_hour: int = 300,
        challenge_types: tuple[str, ...] = (ch.HTTP01, ch.DNS01, ch.DNS_PERSIST01),
    ) -> None:
        self.base, self.authority, self.now, self.random_token = base, authority, now, random_token
        self.issuers, self.order_lifetime, self.orders_per_hour = (
            list(issuers),
            order_lifetime,
            orders_per_hour,
        )
        self.challenge_types = challenge_types
        self.nonces: set[str] = set()
        self.accounts: dict[str, Account] = {}
        self.by_thumbprint: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self.authzs: dict[str, Authorization] = {}
        self.challenges: dict[str, Challenge] = {}
        self.certs: dict[str, bytes] = {}
        self.issued: dict[int, Issued] = {}  # by serial number, for revocation
        self._serial = 0

    def _id(self) -> str:
        self._serial += 1
        return str(self._serial)

    # §6.5: a nonce is good for exactly one request.
    def new_nonce(self) -> str:
        nonce = self.random_token()
        self.nonces.add(nonce)
        return nonce

    def use_nonce(self, nonce: object) -> None:
        if not isinstance(nonce, str) or nonce not in self.nonces:
            raise Problem("badNonce", f"nonce {nonce!r} was never issued or is already used")
        self.nonces.discard(nonce)

    # §7.3: the key is the account; the same key again finds the same account.
    def new_account(self, jwk: dict, payload: dict) -> tuple[Account, bool]:
        thumb = thumbprint(jwk)
        if thumb in self.by_thumbprint:
            return self.by_thumbprint[thumb], False
        if payload.get("onlyReturnExisting"):
            raise Problem("accountDoesNotExist", "no account has this key")
        if payload.get("termsOfServiceAgreed") is not True:
            raise Problem("userActionRequired", "agree to the terms of service (termsOfServiceAgreed: true)")
        contact = payload.get("contact", [])
        if not isinstance(contact, list) or not all(
            isinstance(c, str) and c.startswith("mailto:") for c in contact
        ):
            raise Problem("unsupportedContact", "contacts must be a list of mailto: URLs")
        account_id = self._id()
        account = Account(account_id, f"{self.base}/acme/acct/{account_id}", jwk, contact)
        self.accounts[account_id] = account
        self.by_thumbprint[thumb] = account
        return account, True

    def account_for_kid(self, kid: object) -> Account:
        prefix = f"{self.base}/acme/acct/"
        account = (
            self.accounts.get(kid.removeprefix(prefix))
            if isinstance(kid, str) and kid.startswith(prefix)
            else None
        )
        if account is None:
            raise Problem("accountDoesNotExist", f"no account at {kid!r}")
        if account.status != "valid":
            raise Problem("unauthorized", f"the account is {account.status}")
        return account

    # §7.4: an order, one authorization per name, each offering every challenge type.
    def new_order(self, account: Account, payload: dict) -> Order:
        identifiers = payload.get("identifiers")
        if not isinstance(identifiers, list) or not identifiers:
            raise Problem("malformed", "an order needs a non-empty list of identifiers")
        names = []
        for ident in identifiers:
            if not isinstance(ident, dict) or ident.get("type") != "dns":
                raise Problem("unsupportedIdentifier", f"only dns identifiers, not {ident!r}")
            name = str(ident.get("value", "")).lower().rstrip(".")
            labels = name.split(".")
            if len(labels) < 2 or not all(
                lbl and len(lbl) < 64 and lbl.replace("-", "").isalnum() for lbl in labels
            ):
                raise Problem("rejectedIdentifier", f"{name!r} is not a DNS name this CA issues for")
            names.append(name)
        now = self.now()
        recent = [t for t in account.order_times if now - t < dt.timedelta(hours=1)]
        if len(recent) >= self.orders_per_hour:
            raise Problem(
                "rateLimited", f"{self.orders_per_hour} new orders per account per hour; retry later"
            )
        account.order_times = [*recent, now]
        order_id = self._id()
        expires = now + self.order_lifetime
        authzs = [self._authorization(account, name, expires) for name in dict.fromkeys(names)]
        order = Order(order_id, account, list(dict.fromkeys(names)), expires, authzs)
        for authz in authzs:
            authz.order = order
        self.orders[order_id] = order
        return order

    def _authorization(self, account: Account, domain: str, expires: dt.datetime) -> Authorization:
        authz = Authorization(self._id(), domain, account, expires)
        for kind in self.challenge_types:
            chall = Challenge(self._id(), kind, self.random_token(), authz)
            authz.challenges.append(chall)
            self.challenges[chall.id] = chall
        self.authzs[authz.id] = authz
        return authz

    def expire(self, order: Order) -> None:
        """An order past ``expires`` becomes invalid, and so do its unfinished authorizations (§7.1.3)."""
        if self.now() < order.expires:
            return
        if ORDER.moves.get((order.status, "expire")):
            order.status = ORDER.next(order.status, "expire")
            order.error = Problem("malformed", "the order expired before it was finalized").document()
        for authz in order.authzs:
            if authz.status == "pending":
                authz.status = AUTHORIZATION.next(authz.status, "expire")

    # §7.5.1: the client says it is ready; the CA validates (elsewhere) and reports here.
    def respond(self, account: Account, chall: Challenge) -> bool:
        """True if a validation should start now (a second 'ready' while processing starts none)."""
        self.check_owner(account, chall.authz.account)
        if chall.authz.order:
            self.expire(chall.authz.order)
        if chall.authz.status != "pending" or chall.status != "pending":
            return False
        chall.status = CHALLENGE.next(chall.status, "respond")
        return True

    def deactivate(self, authz: Authorization, payload: dict) -> None:
        """§7.5.2: ``{"status": "deactivated"}`` gives up an authorization (and so its order)."""
        if payload != {"status": "deactivated"}:
            raise Problem("malformed", 'the only update to an authorization is {"status": "deactivated"}')
        authz.status = AUTHORIZATION.next(authz.status, "deactivate")
        order = authz.order
        if order is not None and order.status == "pending" and order_event([a.status for a in order.authzs]):
            order.status = ORDER.next(order.status, "authz_failed")
            order.error = Problem("unauthorized", f"authorization for {authz.domain} deactivated").document()

    def key_authorization(self, chall: Challenge) -> str:
        return ch.key_authorization(chall.token, chall.authz.account.thumbprint)

    def record(self, chall: Challenge, verdict: ch.Verdict) -> None:
        """Move the challenge, its authorization and its order on the validator's verdict."""
        chall.status = CHALLENGE.next(chall.status, "pass" if verdict.valid else "fail")
        authz = chall.authz
        if verdict.valid:
            chall.validated = stamp(self.now())
        else:
            chall.error = Problem(verdict.problem, verdict.detail).document()
        if authz.status == "pending":
            authz.status = AUTHORIZATION.next(
                authz.status, "challenge_valid" if verdict.valid else "challenge_invalid"
            )
        order = authz.order
        if order is not None and order.status == "pending":
            event = order_event([a.status for a in order.authzs])
            if event:
                order.status = ORDER.next(order.status, event)
                if event == "authz_failed":
                    order.error = Problem(verdict.problem, f"{authz.domain}: {verdict.detail}").document()

    # §7.4: finalize with a CSR naming exactly the order's identifiers.
    def finalize(self, account: Account, order: Order, csr_der: bytes) -> None:
        self.check_owner(account, order.account)
        self.expire(order)
        if order.status != "ready":
            raise Problem("orderNotReady", f"the order is {order.status}, not ready")
        try:
            csr = x509.load_der_x509_csr(csr_der)
        except ValueError as error:
            raise Problem("badCSR", f"not a DER CSR: {error}") from None
        if not csr.is_signature_valid:
            raise Problem("badCSR", "the CSR's self-signature does not verify")
        asked, ordered = csr_names(csr), set(order.names)
        if asked != ordered:
            raise Problem("badCSR", f"the CSR names {sorted(asked)}, the order {sorted(ordered)}")
        if thumbprint_of_csr_key(csr) == account.thumbprint:
            raise Problem("badCSR", "the certificate key must not be the account key")
        order.status = ORDER.next(order.status, "finalize")
        leaf = self.authority.issue(csr, order.names, self.now())
        order.certificate = self.authority.chain_pem(leaf)
        self.issued[leaf.serial_number] = Issued(leaf.serial_number, leaf, account)
        self.certs[order.id] = order.certificate
        order.status = ORDER.next(order.status, "issued")

    # §7.3.5: a JWS inside the JWS.  The outer one is signed by the old key (the account's, checked
    # by the caller); the inner one by the new key, naming the account and the old key.  An attacker
    # holding only the old key cannot sign the inner one; holding only the new key, not the outer.
    def change_key(self, account: Account, inner: jose.Jws, outer_url: str) -> None:
        if "jwk" not in inner.protected:
            raise Problem("malformed", "the inner JWS of keyChange carries the new key as 'jwk'")
        if "nonce" in inner.protected:
            raise Problem("malformed", "the inner JWS of keyChange must not carry a nonce")
        try:
            new_key = key_from_jwk(inner.protected["jwk"])
        except (ValueError, KeyError, TypeError) as error:
            raise Problem("badPublicKey", str(error)) from None
        try:
            jose.verify(inner, new_key, url=outer_url)  # same url as the outer JWS, signed by the new key
        except jose.JwsError as error:
            raise Problem(error.problem, f"inner JWS: {error.detail}") from None
        payload = inner.json()
        if payload.get("account") != account.url:
            raise Problem("unauthorized", f"the inner JWS names account {payload.get('account')!r}")
        try:
            old = thumbprint(payload["oldKey"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise Problem("malformed", "the inner JWS's payload needs oldKey, a JWK") from None
        if old != account.thumbprint:
            raise Problem("unauthorized", "oldKey is not the account's current key")
        new = thumbprint(inner.protected["jwk"])
        holder = self.by_thumbprint.get(new)
        if holder is not None:
            raise Problem(
                "malformed", "the new key already belongs to an account", status=409, location=holder.url
            )
        del self.by_thumbprint[old]
        account.use_key(inner.protected["jwk"])
        self.by_thumbprint[new] = account

    # §7.6: revoke by the account that ordered it (or one holding valid authorizations for
    # every name in it), or by anyone holding the certificate's private key (a jwk request).
    def revoke(self, account: Account | None, jwk: dict | None, payload: dict) -> Issued:
        try:
            der = b64url_decode(str(payload["certificate"]))
            cert = x509.load_der_x509_certificate(der)
        except (KeyError, ValueError) as error:
            raise Problem("malformed", f"certificate is not base64url DER: {error}") from None
        issued = self.issued.get(cert.serial_number)
        if issued is None or issued.certificate != cert:
            raise Problem("malformed", "this CA did not issue that certificate")
        reason = payload.get("reason", 0)
        if reason not in REVOCATION_REASONS or isinstance(reason, bool):
            raise Problem(
                "badRevocationReason", f"reason {reason!r} is not one of {sorted(REVOCATION_REASONS)}"
            )
        if account is not None:
            names = csr_names_of(cert)
            proven = {a.domain for a in self.authzs.values() if a.account is account and a.status == "valid"}
            if issued.account is not account and not names <= proven:
                raise Problem("unauthorized", "the certificate was issued to another account")
        elif jwk is None or thumbprint(jwk) != thumbprint(public_jwk(cert.public_key())):
            raise Problem("unauthorized", "the request is not signed by the certificate's key")
        if issued.revoked is not None:
            raise Problem("alreadyRevoked", f"revoked already ({REVOCATION_REASONS[issued.revoked]})")
        issued.revoked = reason
        return issued

    def check_owner(self, account: Account, owner: Account) -> None:
        if account is not owner:
            raise Problem("unauthorized", "this resource belongs to another account")

    # The JSON each resource is served as (§7.1.2-§7.1.4).
    def order_resource(self, order: Order) -> dict:
        self.expire(order)
        doc = {
            "status": order.status,
            "expires": stamp(order.expires),
            "identifiers": [{"type": "dns", "value": n} for n in order.names],
            "authorizations": [f"{self.base}/acme/authz/{a.id}" for a in order.authzs],
            "finalize": f"{self.base}/acme/order/{order.id}/finalize",
        }
        if order.certificate:
            doc["certificate"] = f"{self.base}/acme/cert/{order.id}"
        if order.error:
            doc["error"] = order.error
        return doc

    def authz_resource(self, authz: Authorization) -> dict:
        if authz.order:
            self.expire(authz.order)
        return {
            "status": authz.status,
            "expires": stamp(authz.expires),
            "identifier": {"type": "dns", "value": authz.domain},
            "challenges": [c.resource(self.base, self.issuers) for c in authz.challenges],
        }


def csr_names_of(cert: x509.Certificate) -> set[str]:
    """The DNS names a certificate is for (its subjectAltName)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return set(san.get_values_for_type(x509.DNSName))


def thumbprint_of_csr_key(csr: x509.CertificateSigningRequest) -> str | None:
    try:
        return thumbprint(public_jwk(csr.public_key()))
    except (ValueError, TypeError):
        return None
