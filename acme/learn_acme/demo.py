"""The acme demo: ``make demo-acme`` (``python -m learn_acme.demo [-v] [--act N]``).

Reading order: read this last; it drives everything else in the folder.

Our CA (``ca.py``) starts as its own process; the domain's web server
(``responder.py``, the "port 80" that HTTP-01 fetches from) and our client
(``client.py``) run here.  For acts 4 and 5 (``demo_dns.py``) the dns/
pattern's servers run too: ``learn_dns.authoritative`` twice (a root that
delegates ``wirelab.test``, and that zone's server) and
``learn_dns.recursive.server``, the resolver the CA asks.  Five acts, each checked:

1. **A certificate by HTTP-01.**  The client registers an ES256 account,
   orders ``www.wirelab.test``, serves the key authorization, says ready; the
   CA fetches it over loopback, the order goes ready, the client finalizes
   with a CSR and downloads the chain (leaf + intermediate).  The demo checks
   the chain the way a browser does: signatures up to our root, dates, and
   the name.
2. **What the CA refuses.**  A reused nonce (``badNonce``, and the error
   carries a fresh nonce that works), a request signed by another key for
   this account (``unauthorized``), a challenge whose token is not served
   (the authorization becomes ``invalid`` with the CA's detail), and a CSR
   for a name the order does not have (``badCSR``).
3. **HTTPS with it.**  uvicorn serves a page with the issued key and chain;
   ``openssl s_client -msg -verify_return_error`` shows the handshake
   messages and verifies chain and hostname against our root only; ``curl
   --cacert`` fetches the page; ``curl`` with the system's roots refuses it.
4. **DNS-01**: the digest of the key authorization in a TXT record.
5. **DNS-PERSIST-01**: one record naming the account; a renewal with no DNS
   change; another account refused (details in ``demo_dns.py``).

Exit 0 when every check passed, 1 when one failed (with what went wrong).
Each switch turns a mechanism off and the act that shows it must then fail:
``--no-http01-response`` (act 1: the web server does not serve the token),
``--no-signature-check`` (act 2: the CA skips the JWS signature check),
``--no-root-trust`` (act 3: the TLS clients are not given our root),
``--no-dns-publish`` (acts 4 and 5: no record is published).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from wirelab_common.errors import CheckFailed, check, require_binary, run_main
from wirelab_common.ports import free_port
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

from . import challenges as ch
from . import jws as jose
from . import tls
from .client import AcmeClient, AcmeError, make_csr
from .demo_dns import DnsActs
from .dns_zone import Zone
from .jwk import b64url
from .responder import Responder

PY = sys.executable
NAME = "www.wirelab.test"
ROOT_NS, ZONE_NS, RESOLVER = "127.54.0.1", "127.54.0.2", "127.54.0.53"  # the dns/ servers' addresses


def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Demo(DnsActs):
    def __init__(
        self,
        args: argparse.Namespace,
        workdir: Path,
        ca_url: str,
        responder: Responder,
        http: httpx.AsyncClient,
        trace: Trace,
    ) -> None:
        self.args, self.workdir, self.ca_url, self.responder, self.http = (
            args,
            workdir,
            ca_url,
            responder,
            http,
        )
        self.trace = trace
        self.client = AcmeClient(
            f"{ca_url}/directory", ec.generate_private_key(ec.SECP256R1()), http, trace.child("client")
        )
        self.cert_key = ec.generate_private_key(ec.SECP256R1())
        self.chain: bytes = b""
        self.root = workdir / "root.pem"

    async def publish_http01(self, domain: str, chall: dict) -> None:
        key_auth = self.client.key_authorization(chall["token"])
        if self.args.no_http01_response:
            self.trace.note(f"--no-http01-response: the web server for {domain} does not serve the token")
            return
        self.responder.tokens[chall["token"]] = key_auth
        self.trace.note(f"serving {ch.http01_path(chall['token'])[:40]}... = token.thumbprint on {domain}")

    async def act_1(self) -> None:
        self.trace.banner("Act 1: a certificate by HTTP-01")
        await self.client.start()
        account = await self.client.new_account(["mailto:admin@wirelab.test"])
        self.trace.note(f"account {account} (key thumbprint {self.client.thumbprint})")
        try:
            self.chain = await self.client.issue([NAME], self.publish_http01, self.cert_key)
        except AcmeError as error:
            raise CheckFailed(f"no certificate for {NAME}: the CA said {error.problem}") from None
        self.root.write_bytes((await self.http.get(f"{self.ca_url}/root.pem")).content)
        check(self.chain.count(b"BEGIN CERTIFICATE") == 2, "the chain should be leaf + intermediate")
        path = tls.verify_chain(self.chain, self.root.read_bytes(), NAME, dt.datetime.now(dt.UTC))
        self.trace.note(f"chain verified against our root: {path}")

    async def raw(self, url: str, body: dict) -> httpx.Response:
        return await self.http.post(
            url, content=json.dumps(body), headers={"Content-Type": "application/jose+json"}
        )

    async def act_2(self) -> None:
        self.trace.banner("Act 2: what the CA refuses")
        if self.client.account_url is None:
            await self.client.start()
            await self.client.new_account()
        c = self.client
        order_url = c.directory["newOrder"]
        # A reused nonce: sign twice with one nonce.
        nonce = (await self.http.head(c.directory["newNonce"])).headers["Replay-Nonce"]
        payload = {"identifiers": [{"type": "dns", "value": "reuse.wirelab.test"}]}
        first = await self.raw(
            order_url, jose.sign(c.key, payload, url=order_url, nonce=nonce, kid=c.account_url)
        )
        second = await self.raw(
            order_url, jose.sign(c.key, payload, url=order_url, nonce=nonce, kid=c.account_url)
        )
        check(first.status_code == 201, f"the first use of a nonce should work, got {first.status_code}")
        check(
            second.status_code == 400 and second.json()["type"].endswith(":badNonce"),
            f"a reused nonce should be badNonce, got {second.status_code} {second.text[:120]}",
        )
        fresh = second.headers["Replay-Nonce"]
        retry = await self.raw(
            order_url, jose.sign(c.key, payload, url=order_url, nonce=fresh, kid=c.account_url)
        )
        check(
            retry.status_code == 201,
            f"the nonce from the badNonce answer should work, got {retry.status_code}",
        )
        self.trace.note("reused nonce -> badNonce; its fresh Replay-Nonce works on the retry")
        # Another key claiming this account.
        thief = rsa.generate_private_key(65537, 2048)
        nonce = retry.headers["Replay-Nonce"]
        stolen = await self.raw(
            order_url, jose.sign(thief, payload, url=order_url, nonce=nonce, kid=c.account_url)
        )
        check(
            stolen.status_code == 403 and stolen.json()["type"].endswith(":unauthorized"),
            f"the CA accepted a request signed by another key for {c.account_url} ({stolen.status_code})",
        )
        self.trace.note(f"RS256 signature by another key, kid {c.account_url} -> unauthorized")
        c.nonce = stolen.headers["Replay-Nonce"]
        # A token nobody serves.
        try:
            await c.issue(["absent.wirelab.test"], self.publish_nothing, self.cert_key)
            raise CheckFailed("an order whose token was never served got a certificate")
        except AcmeError as error:
            check("404" in error.problem.detail, f"the failure should name the 404, got {error.problem}")
            self.trace.note(f"token not served -> authorization invalid: {error.problem}")
        # A CSR for a name the order does not have.
        _, order = await c.new_order(["csr.wirelab.test"])
        authz = await c.get(order["authorizations"][0])
        chall = next(x for x in authz["challenges"] if x["type"] == ch.HTTP01)
        self.responder.tokens[chall["token"]] = c.key_authorization(chall["token"])
        await c.ready(chall["url"])
        await c.wait(order["authorizations"][0], {"valid"})
        try:
            await c.post(order["finalize"], {"csr": b64url(make_csr(["evil.example"], self.cert_key))})
            raise CheckFailed("a CSR for evil.example was accepted for an order of csr.wirelab.test")
        except AcmeError as error:
            check(error.problem.type == "badCSR", f"expected badCSR, got {error.problem}")
            self.trace.note(f"CSR for evil.example on an order for csr.wirelab.test -> {error.problem}")

    async def publish_nothing(self, domain: str, chall: dict) -> None:
        self.trace.note(f"(not serving the token for {domain})")

    async def act_3(self) -> None:
        self.trace.banner("Act 3: HTTPS with the certificate")
        require_binary("openssl", "apt-get install openssl")
        require_binary("curl", "apt-get install curl")
        if not self.chain:
            await self.act_1()
        chain, key = self.workdir / "chain.pem", self.workdir / "key.pem"
        chain.write_bytes(self.chain)
        key.write_bytes(pem_key(self.cert_key))
        server, task, port = await tls.serve_https(chain, key)
        cafile = None if self.args.no_root_trust else self.root
        try:
            probe = await asyncio.to_thread(tls.s_client, port, NAME, cafile)
            for line in tls.handshake_lines(probe.stdout + probe.stderr):
                self.trace.received(f"openssl  {line}")
            check(
                probe.returncode == 0 and "Verification: OK" in probe.stdout + probe.stderr,
                f"openssl s_client did not verify the chain for {NAME}:\n"
                f"{probe.stdout[-300:]}{probe.stderr[-300:]}",
            )
            self.trace.note(
                "Certificate carried leaf + intermediate; CertificateVerify is the server's signature "
                "over the handshake with the leaf's key: proof it holds the key the CA certified"
            )
            self.trace.note(
                f"openssl s_client -verify_return_error: chain and hostname verified (port {port})"
            )
            fetched = await asyncio.to_thread(tls.curl, port, NAME, cafile)
            check(
                fetched.returncode == 0 and fetched.stdout == tls.PAGE,
                f"curl --cacert root.pem failed: {fetched.stderr.strip()}",
            )
            self.trace.received(f"curl     {fetched.stdout.strip()!r}")
            untrusted = await asyncio.to_thread(tls.curl, port, NAME, None)
            check(untrusted.returncode != 0, "curl with the system's roots should refuse our certificate")
            self.trace.note(
                f"curl without our root refuses it: {untrusted.stderr.strip().splitlines()[0][:90]}"
            )
        finally:
            server.should_exit = True
            await task


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="learn_acme.demo", description="ACME: a CA, a client, HTTPS")
    parser.add_argument("-v", "--verbose", action="store_true", help="show JWS headers and detail lines")
    parser.add_argument("--act", type=int, choices=(1, 2, 3, 4, 5), help="run one act only")
    parser.add_argument(
        "--no-http01-response", action="store_true", help="act 1 fails: the token is not served"
    )
    parser.add_argument(
        "--no-signature-check", action="store_true", help="act 2 fails: the CA skips JWS checks"
    )
    parser.add_argument("--no-root-trust", action="store_true", help="act 3 fails: clients lack our root")
    parser.add_argument(
        "--no-dns-publish", action="store_true", help="acts 4 and 5 fail: no record is published"
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    trace = Trace("demo", verbose=args.verbose)
    responder = Responder(trace.child("web"))
    await responder.start()
    started = []
    try:
        with tempfile.TemporaryDirectory(prefix="acme-demo-") as tmp:
            # The dns/ pattern's servers: a root delegating wirelab.test, the zone's own server,
            # and the recursive resolver the CA asks (one port, three loopback addresses).
            port = free_port(ZONE_NS)
            zone = Zone(Path(tmp) / "wirelab.test.zone", "wirelab.test", ns_address=ZONE_NS)
            root = zone.write_root(Path(tmp) / "root.zone", ROOT_NS)
            for host, zone_file, name in ((ROOT_NS, root, "root"), (ZONE_NS, zone.path, "dns")):
                argv = [
                    PY,
                    "-m",
                    "learn_dns.authoritative",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "-q",
                    "--name",
                    name,
                ]
                # the zone's server accepts dns_zone.py's UPDATEs signed with the run's TSIG key
                argv += zone.server_args() if name == "dns" else ["--zone", str(zone_file)]
                started.append(start_server(argv, name=name))
            dns = started[-1]
            resolver = start_server(
                [
                    PY,
                    "-m",
                    "learn_dns.recursive.server",
                    "--host",
                    RESOLVER,
                    "--port",
                    str(port),
                    "--root-hints",
                    ROOT_NS,
                    "--max-ttl",
                    "1",
                ],
                name="resolver",
            )
            started.append(resolver)
            ca_argv = [
                PY,
                "-m",
                "learn_acme.ca",
                "--port",
                "0",
                "--http01-port",
                str(responder.port),
                "--dns-server",
                f"{RESOLVER}:{port}",
            ]
            ca_argv += ["-v"] if args.verbose else []
            ca_argv += ["--no-signature-check"] if args.no_signature_check else []
            ca = start_server(ca_argv, name="ca", echo=True)
            started.append(ca)
            trace.note(
                f"CA {ca.url}/directory; web (HTTP-01) port {responder.port}; wirelab.test served at "
                f"{dns.url}, the CA resolves through the dns/ resolver {resolver.url}"
            )
            async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
                demo = Demo(args, Path(tmp), ca.url, responder, http, trace)
                demo.zone, demo.dns_server = zone, (ZONE_NS, port)
                demo.resolver = resolver
                for number in (args.act,) if args.act else (1, 2, 3, 4, 5):
                    await getattr(demo, f"act_{number}")()
        trace.note("all checks passed")
    finally:
        for proc in reversed(started):
            proc.stop()
        await responder.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
