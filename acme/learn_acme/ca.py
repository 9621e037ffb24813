"""The ACME CA's HTTP face (RFC 8555 §7) on FastAPI: every request is a JWS, every answer has a nonce.

After ``validation.py`` in the reading order.  The resources::

    GET  /directory                    the URLs of everything below (§7.1.1)
    HEAD /acme/new-nonce               a fresh Replay-Nonce (§7.2)
    POST /acme/new-account             signed with "jwk": the key becomes the account (§7.3)
    POST /acme/new-order               identifiers in, order + authorizations out (§7.4)
    POST /acme/authz/{id}              POST-as-GET: the authorization and its challenges (§7.5);
                                       {"status": "deactivated"} gives it up (§7.5.2)
    POST /acme/chall/{id}              "{}": I am ready, go and validate (§7.5.1); Link rel="up" to the authz
    POST /acme/order/{id}              POST-as-GET: poll the order
    POST /acme/order/{id}/finalize     {"csr": b64url(DER)} (§7.4)
    POST /acme/cert/{id}               POST-as-GET: the PEM chain (§7.4.2)
    POST /acme/key-change              a JWS inside a JWS: the account moves to a new key (§7.3.5)
    POST /acme/revoke-cert             {"certificate", "reason"}, by the account or the cert's key (§7.6)
    GET  /root.pem                     the root, for the lab's clients to trust (not ACME)

Each POST goes through :meth:`Ca.authenticate`: parse the JWS, spend its
nonce (a reused one is ``badNonce``, answered with a fresh nonce so the
client can retry), find the key (``jwk`` for new-account, the ``kid``
account otherwise), check the signature and that ``url`` is this URL.
Errors are problem documents (``problems.py``).  Validation runs as a
background task, so "ready" answers at once with ``processing``.

    python -m learn_acme.ca --port 0 --http01-port 5002 [--dns-server 127.0.0.1:5053]
        [--http01-host HOST] [--base-url http://acme-ca:14000]   (compose: another container)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from wirelab_common.asgi_server import TracedServer, config, run_server
from wirelab_common.server_cli import add_server_options
from wirelab_common.wiretrace import Trace

from . import challenges as ch
from . import jws as jose
from .ca_state import Account, CaState, Challenge
from .jwk import b64url_decode, key_from_jwk
from .pki import Authority
from .problems import CONTENT_TYPE, Problem
from .validation import Validator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Ca:
    def __init__(
        self, state: CaState, validator: Validator, trace: Trace, *, check_signatures: bool = True
    ) -> None:
        self.state, self.validator, self.trace = state, validator, trace
        self.check_signatures = check_signatures  # False only for the demo's --no-signature-check
        self.tasks: set[asyncio.Task] = set()

    def headers(self) -> dict[str, str]:
        return {
            "Replay-Nonce": self.state.new_nonce(),
            "Cache-Control": "no-store",
            "Link": f'<{self.state.base}/directory>;rel="index"',
        }

    def answer(
        self,
        body: dict | bytes,
        status: int = 200,
        location: str | None = None,
        media: str = "application/json",
        up: str | None = None,
    ) -> Response:
        headers = self.headers()
        if location:
            headers["Location"] = location
        if up:  # §7.5.1: a challenge links to its authorization
            headers["Link"] += f', <{up}>;rel="up"'
        if isinstance(body, bytes):
            return Response(body, status, headers, media_type=media)
        return JSONResponse(body, status, headers)

    def problem(self, problem: Problem) -> Response:
        self.trace.sent(f"{problem.status} {problem.type}: {problem.detail}")
        headers = self.headers()
        if problem.location:
            headers["Location"] = problem.location
        return JSONResponse(problem.document(), problem.status, headers, media_type=CONTENT_TYPE)

    async def authenticate(
        self, request: Request, *, new_account: bool = False, jwk_allowed: bool = False
    ) -> tuple[jose.Jws, Account | None]:
        """The verified JWS of ``request`` and its account (None if signed with a ``jwk``).

        ``new_account``: the header must carry ``jwk``; ``jwk_allowed``: it may carry
        either (revokeCert by the certificate's own key, §7.6); otherwise ``kid``.
        """
        if request.headers.get("content-type") != "application/jose+json":
            raise Problem("malformed", "requests must be application/jose+json (RFC 8555 §6.2)")
        try:
            parsed = jose.parse(await request.body())
        except jose.JwsError as error:
            raise Problem(error.problem, error.detail) from None
        self.state.use_nonce(parsed.protected.get("nonce"))
        account = None
        if jwk_allowed and "jwk" in parsed.protected:
            new_account = True  # the same checks: the key comes with the request
        if new_account:
            if "jwk" not in parsed.protected:
                raise Problem("malformed", "new-account is signed with 'jwk', not 'kid' (RFC 8555 §7.3)")
            try:
                key = key_from_jwk(parsed.protected["jwk"])
            except (ValueError, KeyError, TypeError) as error:
                raise Problem("badPublicKey", str(error)) from None
        else:
            if "kid" not in parsed.protected:
                raise Problem("malformed", "this request is signed with 'kid', the account URL")
            account = self.state.account_for_kid(parsed.protected["kid"])
            key = account.key  # parsed once, when the account was created
        url = f"{self.state.base}{request.url.path}"
        try:
            if self.check_signatures:
                jose.verify(parsed, key, url=url)
        except jose.JwsError as error:
            raise Problem(error.problem, error.detail) from None
        who = "jwk" if account is None else parsed.protected["kid"].rsplit("/acme/", 1)[-1]  # acct/N
        self.trace.received(
            f"POST {request.url.path} ({who}, "
            f"{parsed.protected['alg']}, nonce {parsed.protected['nonce'][:8]}...)"
        )
        return parsed, account

    def start_validation(self, chall: Challenge) -> None:
        task = asyncio.create_task(self.validate(chall))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def validate(self, chall: Challenge) -> None:
        domain, expected = chall.authz.domain, self.state.key_authorization(chall)
        if chall.type == ch.HTTP01:
            self.trace.sent(f"GET http://{domain}{ch.http01_path(chall.token)} (validating)")
            verdict = await self.validator.http01(domain, chall.token, expected)
        else:
            name = ch.dns01_name(domain) if chall.type == ch.DNS01 else ch.persist_name(domain)
            self.trace.sent(f"DNS TXT? {name} (validating)")
            found = await self.validator.txt(name)
            if isinstance(found, ch.Verdict):
                verdict = found
            elif chall.type == ch.DNS01:
                verdict = ch.judge_dns01(ch.dns01_txt(expected), found)
            else:
                verdict = ch.judge_persist(
                    self.state.issuers, chall.authz.account.url, found, now=int(self.state.now().timestamp())
                )
        before = chall.authz.status
        self.state.record(chall, verdict)
        self.trace.state(
            f"authz {chall.authz.id} {domain} ({chall.type}): {before} -> {chall.authz.status}: "
            f"{verdict.detail}"
        )


def create_app(ca: Ca) -> FastAPI:
    app = FastAPI(title="wirelab ACME CA", docs_url=None, redoc_url=None, openapi_url=None)
    state = ca.state

    @app.exception_handler(Problem)
    async def on_problem(request: Request, problem: Problem) -> Response:
        return ca.problem(problem)

    @app.get("/directory")
    async def directory() -> Response:
        b = state.base
        return JSONResponse(
            {
                "newNonce": f"{b}/acme/new-nonce",
                "newAccount": f"{b}/acme/new-account",
                "newOrder": f"{b}/acme/new-order",
                "revokeCert": f"{b}/acme/revoke-cert",
                "keyChange": f"{b}/acme/key-change",
                "meta": {"termsOfService": f"{b}/terms", "caaIdentities": state.issuers},
            }
        )

    @app.api_route("/acme/new-nonce", methods=["HEAD", "GET"])
    async def new_nonce(request: Request) -> Response:
        return Response(status_code=200 if request.method == "HEAD" else 204, headers=ca.headers())

    @app.get("/root.pem")
    async def root() -> Response:
        return Response(state.authority.root_pem(), media_type="application/x-pem-file")

    @app.post("/acme/new-account")
    async def new_account(request: Request) -> Response:
        parsed, _ = await ca.authenticate(request, new_account=True)
        account, created = state.new_account(parsed.protected["jwk"], parsed.json())
        if created:
            ca.trace.state(f"account {account.id} created ({account.jwk['kty']} key)")
        return ca.answer(account.resource(), 201 if created else 200, account.url)

    @app.post("/acme/new-order")
    async def new_order(request: Request) -> Response:
        parsed, account = await ca.authenticate(request)
        order = state.new_order(account, parsed.json())
        ca.trace.state(f"order {order.id} for {', '.join(order.names)}: pending")
        return ca.answer(state.order_resource(order), 201, f"{state.base}/acme/order/{order.id}")

    def lookup(table: dict, key: str, what: str):
        if key not in table:
            raise Problem("malformed", f"no {what} {key}")
        return table[key]

    @app.post("/acme/authz/{authz_id}")
    async def authz(authz_id: str, request: Request) -> Response:
        parsed, account = await ca.authenticate(request)
        found = lookup(state.authzs, authz_id, "authorization")
        state.check_owner(account, found.account)
        if not parsed.post_as_get:  # §7.5.2: the only update a client may send
            state.deactivate(found, parsed.json())
            ca.trace.state(f"authz {found.id} {found.domain}: {found.status}")
        return ca.answer(state.authz_resource(found))

    @app.post("/acme/chall/{chall_id}")
    async def challenge(chall_id: str, request: Request) -> Response:
        parsed, account = await ca.authenticate(request)
        chall = lookup(state.challenges, chall_id, "challenge")
        if not parsed.post_as_get and state.respond(account, chall):
            ca.trace.state(f"challenge {chall.id} ({chall.type}) pending -> processing")
            ca.start_validation(chall)
        state.check_owner(account, chall.authz.account)
        return ca.answer(
            chall.resource(state.base, state.issuers), up=f"{state.base}/acme/authz/{chall.authz.id}"
        )

    @app.post("/acme/order/{order_id}")
    async def order(order_id: str, request: Request) -> Response:
        _, account = await ca.authenticate(request)
        found = lookup(state.orders, order_id, "order")
        state.check_owner(account, found.account)
        return ca.answer(state.order_resource(found))

    @app.post("/acme/order/{order_id}/finalize")
    async def finalize(order_id: str, request: Request) -> Response:
        parsed, account = await ca.authenticate(request)
        found = lookup(state.orders, order_id, "order")
        try:
            csr = b64url_decode(str(parsed.json().get("csr", "")))
        except ValueError as error:
            raise Problem("badCSR", f"csr is not base64url: {error}") from None
        state.finalize(account, found, csr)
        ca.trace.state(f"order {found.id}: ready -> processing -> valid (certificate issued)")
        return ca.answer(state.order_resource(found), 200, f"{state.base}/acme/order/{found.id}")

    @app.post("/acme/cert/{order_id}")
    async def certificate(order_id: str, request: Request) -> Response:
        _, account = await ca.authenticate(request)
        found = lookup(state.orders, order_id, "certificate")
        state.check_owner(account, found.account)
        if found.certificate is None:
            raise Problem("orderNotReady", "no certificate yet")
        return ca.answer(found.certificate, media="application/pem-certificate-chain")

    @app.post("/acme/key-change")
    async def key_change(request: Request) -> Response:
        parsed, account = await ca.authenticate(request)
        try:
            inner = jose.parse(parsed.payload)
        except jose.JwsError as error:
            raise Problem("malformed", f"the keyChange payload is not a JWS: {error.detail}") from None
        old = account.jwk["kty"]
        state.change_key(account, inner, parsed.protected["url"])
        ca.trace.state(f"account {account.id}: key changed ({old} -> {account.jwk['kty']} key)")
        return ca.answer(account.resource(), 200, account.url)

    @app.post("/acme/revoke-cert")
    async def revoke_cert(request: Request) -> Response:
        parsed, account = await ca.authenticate(request, jwk_allowed=True)
        issued = state.revoke(account, parsed.protected.get("jwk"), parsed.json())
        by = f"account {account.id}" if account else "the certificate's own key"
        ca.trace.state(f"certificate {issued.serial:x} revoked by {by}, reason {issued.revoked}")
        return ca.answer(b"", 200, media="text/plain")  # §7.6: 200 and no body

    return app


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="learn_acme.ca", description=__doc__.split("\n")[0])
    add_server_options(parser, port=14000)
    parser.add_argument(
        "--http01-port", type=int, default=80, help="where HTTP-01 tokens are fetched (127.0.0.1)"
    )
    parser.add_argument(
        "--http01-host",
        default="127.0.0.1",
        help="host HTTP-01 tokens are fetched from, whatever the name (default 127.0.0.1; compose: "
        "the web server's service name)",
    )
    parser.add_argument(
        "--base-url",
        help="the URL clients reach the CA at, used in the directory and checked against each JWS "
        "'url' (default http://HOST:PORT as listening; compose: http://acme-ca:14000)",
    )
    parser.add_argument("--dns-server", help="HOST:PORT asked for DNS-01 and DNS-PERSIST-01 TXT records")
    parser.add_argument(
        "--order-lifetime", type=float, default=3600.0, help="seconds before an order expires"
    )
    parser.add_argument("--orders-per-hour", type=int, default=300, help="new orders per account per hour")
    parser.add_argument("--root-out", help="write the root certificate (PEM) here once started")
    parser.add_argument(
        "--no-signature-check",
        action="store_true",
        help="(demo only) accept any signature: shows what the JWS check protects",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("ca", verbose=args.verbose, quiet=args.quiet)
    dns_server = None
    if args.dns_server:
        host, _, port = args.dns_server.rpartition(":")
        dns_server = (host, int(port))
    state = CaState(
        "",
        Authority.create(utcnow()),
        now=utcnow,
        order_lifetime=dt.timedelta(seconds=args.order_lifetime),
        orders_per_hour=args.orders_per_hour,
    )
    ca = Ca(
        state,
        Validator(args.http01_port, dns_server, http01_host=args.http01_host),
        trace,
        check_signatures=not args.no_signature_check,
    )

    def describe(host: str, port: int) -> list[str]:
        state.base = args.base_url.rstrip("/") if args.base_url else f"http://{host}:{port}"
        if args.root_out:
            with open(args.root_out, "wb") as out:
                out.write(state.authority.root_pem())
        return [f"directory {state.base}/directory", f"root {state.authority.root.subject.rfc4514_string()}"]

    await TracedServer(config(create_app(ca), args.host, args.port), trace, describe).serve()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run_server(lambda: serve(args), args.loop)


if __name__ == "__main__":
    main()
