"""The ACME client, from scratch on the same JWS layer: register, order, prove, finalize, download.

After ``ca.py`` in the reading order.  One :class:`AcmeClient` per account
key.  Every request is a POST of a JWS (``jws.sign``) carrying the last
``Replay-Nonce`` the CA sent; on ``badNonce`` it retries once with the
fresh nonce that came with the error, as RFC 8555 §6.5 asks.  Waiting for the
CA (an authorization leaving ``pending``, an order leaving ``processing``)
is polling with a bound, ending with the CA's own error when it fails.

Solving a challenge is the caller's job (publish the key authorization,
then :meth:`AcmeClient.ready`): the demo's HTTP-01 responder is
``responder.py``; DNS records are published by whoever runs the zone.
"""

from __future__ import annotations

import asyncio

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wirelab_common.wiretrace import Trace

from . import challenges as ch
from . import jws as jose
from .jwk import PrivateKey, b64url, b64url_decode, public_jwk, thumbprint
from .problems import Problem

POLL_FIRST, POLL_MAX = 0.01, 1.0  # seconds between polls: first, and at most


class AcmeError(Exception):
    def __init__(self, problem: Problem, url: str) -> None:
        super().__init__(f"{url}: {problem}")
        self.problem = problem


def make_csr(names: list[str], key: ec.EllipticCurvePrivateKey) -> bytes:
    """A DER CSR for ``names`` (CN = the first, all in subjectAltName), signed by the certificate key."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)


class AcmeClient:
    def __init__(self, directory_url: str, key: PrivateKey, http: httpx.AsyncClient, trace: Trace) -> None:
        self.directory_url, self.key, self.http, self.trace = directory_url, key, http, trace
        self.directory: dict = {}
        self.nonce: str | None = None
        self.account_url: str | None = None

    @property
    def thumbprint(self) -> str:
        return thumbprint(public_jwk(self.key))

    def key_authorization(self, token: str) -> str:
        return ch.key_authorization(token, self.thumbprint)

    async def start(self) -> None:
        self.directory = (await self.http.get(self.directory_url)).raise_for_status().json()
        response = await self.http.head(self.directory["newNonce"])
        self.nonce = response.headers["Replay-Nonce"]

    async def post(
        self, url: str, payload: dict | None, *, use_jwk: bool = False, retries: int = 1
    ) -> httpx.Response:
        """POST a JWS of ``payload`` (None: POST-as-GET); a badNonce is retried with its fresh nonce."""
        body = jose.sign(
            self.key, payload, url=url, nonce=self.nonce, kid=None if use_jwk else self.account_url
        )
        what = "POST-as-GET" if payload is None else f"POST {payload}"
        self.trace.sent(
            f"{what[:70]} {url.rsplit('/acme/', 1)[-1]}",
            [f"protected {b64url_decode(body['protected']).decode()}"],
        )
        response = await self.http.post(url, json=body, headers={"Content-Type": "application/jose+json"})
        self.nonce = response.headers.get("Replay-Nonce", self.nonce)
        if response.status_code >= 400:
            problem = Problem.from_document(response.json())
            self.trace.received(f"{response.status_code} {problem}")
            if problem.type == "badNonce" and retries > 0:
                return await self.post(url, payload, use_jwk=use_jwk, retries=retries - 1)
            raise AcmeError(problem, url)
        is_json = "json" in response.headers.get("content-type", "") and response.content
        status = response.json().get("status") if is_json else None
        self.trace.received(
            f"{response.status_code}"
            + (f" status={status}" if status else f" {response.headers.get('content-type')}")
        )
        return response

    async def new_account(self, contact: list[str] = ()) -> str:
        response = await self.post(
            self.directory["newAccount"],
            {"termsOfServiceAgreed": True, "contact": list(contact)},
            use_jwk=True,
        )
        self.account_url = response.headers["Location"]
        return self.account_url

    async def new_order(self, names: list[str]) -> tuple[str, dict]:
        response = await self.post(
            self.directory["newOrder"], {"identifiers": [{"type": "dns", "value": n} for n in names]}
        )
        return response.headers["Location"], response.json()

    async def get(self, url: str) -> dict:
        return (await self.post(url, None)).json()

    async def ready(self, challenge_url: str) -> dict:
        return (await self.post(challenge_url, {})).json()

    async def wait(self, url: str, until: set[str], *, timeout: float = 10.0) -> dict:
        """Poll ``url`` until its status is in ``until`` (or a final state), within ``timeout`` seconds.

        The pause between polls starts short (a validation on loopback takes
        milliseconds) and doubles up to POLL_MAX; a ``Retry-After`` from the CA
        (§7.5.1, in seconds) overrides it.
        """
        pause = POLL_FIRST
        async with asyncio.timeout(timeout):
            while True:
                response = await self.post(url, None)
                resource = response.json()
                if resource["status"] in until | {"invalid", "expired", "revoked", "deactivated"}:
                    return resource
                retry_after = response.headers.get("Retry-After", "")
                await asyncio.sleep(float(retry_after) if retry_after.isdigit() else pause)
                pause = min(pause * 2, POLL_MAX)

    async def finalize(self, order: dict, names: list[str], cert_key: ec.EllipticCurvePrivateKey) -> dict:
        return (await self.post(order["finalize"], {"csr": b64url(make_csr(names, cert_key))})).json()

    async def certificate(self, url: str) -> bytes:
        return (await self.post(url, None)).content

    async def key_change(self, new_key: PrivateKey) -> None:
        """§7.3.5: the inner JWS (new key, no nonce) names the account and the old key; the outer
        JWS (old key, kid) carries it.  From then on the account signs with ``new_key``."""
        url = self.directory["keyChange"]
        inner = jose.sign(
            new_key, {"account": self.account_url, "oldKey": public_jwk(self.key)}, url=url, nonce=None
        )
        await self.post(url, inner)
        self.key = new_key

    async def revoke(self, certificate_pem: bytes, reason: int | None = None, *, key=None) -> None:
        """§7.6: revoke the leaf of ``certificate_pem``; ``key``: sign with the certificate's own key
        (a ``jwk`` request, no account needed) instead of the account's."""
        leaf = x509.load_pem_x509_certificate(certificate_pem)
        payload: dict = {"certificate": b64url(leaf.public_bytes(serialization.Encoding.DER))}
        if reason is not None:
            payload["reason"] = reason
        if key is None:
            await self.post(self.directory["revokeCert"], payload)
            return
        account_key, self.key = self.key, key
        try:
            await self.post(self.directory["revokeCert"], payload, use_jwk=True)
        finally:
            self.key = account_key

    async def issue(
        self, names: list[str], publish, cert_key: ec.EllipticCurvePrivateKey, kind: str = ch.HTTP01
    ) -> bytes:
        """The whole dance for ``names`` with challenge ``kind``; ``publish(domain, challenge)`` answers it.

        Returns the PEM chain; raises :class:`AcmeError` with the CA's problem if any step fails.
        """
        order_url, order = await self.new_order(names)
        for authz_url in order["authorizations"]:
            authz = await self.get(authz_url)
            if authz["status"] == "valid":
                continue
            chall = next((c for c in authz["challenges"] if c["type"] == kind), None)
            if chall is None:
                raise AcmeError(Problem("unsupportedIdentifier", f"the CA offers no {kind}"), authz_url)
            await publish(authz["identifier"]["value"], chall)
            await self.ready(chall["url"])
            authz = await self.wait(authz_url, {"valid"})
            if authz["status"] != "valid":
                failed = next((c for c in authz["challenges"] if c.get("error")), {})
                raise AcmeError(
                    Problem.from_document(failed.get("error", {"detail": authz["status"]})), authz_url
                )
        order = await self.wait(order_url, {"ready"})
        if order["status"] != "ready":
            raise AcmeError(Problem.from_document(order.get("error", {})), order_url)
        await self.finalize(order, names, cert_key)
        order = await self.wait(order_url, {"valid"})
        if order["status"] != "valid":
            raise AcmeError(Problem.from_document(order.get("error", {})), order_url)
        return await self.certificate(order["certificate"])
