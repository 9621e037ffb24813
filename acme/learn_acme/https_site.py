"""A web site that gets its own certificate at start: ACME client, HTTP-01 responder, HTTPS.

Beside the lesson (the demo does the same steps with narration): this is
what docker-compose.yml runs as ``acme-web``, a server that, like a site
using certbot or Caddy, answers HTTP-01 on its "port 80", orders a
certificate for its name from the CA, then serves HTTPS with the chain::

    python -m learn_acme.https_site --directory http://acme-ca:14000/directory --name www.wirelab.test \\
        --host 0.0.0.0 --http01-port 5002 --port 8443

Ready line (``= site listening on https://HOST:PORT``) once HTTPS is up with
the issued chain; the responder keeps answering on ``--http01-port``.  The
CA's root is fetched from ``/root.pem`` beside the directory and written to
``--root-out`` if given, for clients to trust.  SIGTERM/SIGINT: exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wirelab_common.errors import SetupError
from wirelab_common.event_loop import run_server
from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace

from .client import AcmeClient, AcmeError
from .responder import Responder
from .tls import serve_https

START_TRIES = 30  # the CA may still be starting (compose starts everything at once): 1 s apart


async def obtain(
    args: argparse.Namespace, trace: Trace, web: Responder, http: httpx.AsyncClient
) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    client = AcmeClient(args.directory, ec.generate_private_key(ec.SECP256R1()), http, trace.child("client"))
    for attempt in range(START_TRIES):
        try:
            await client.start()
            break
        except httpx.HTTPError as error:
            if attempt == START_TRIES - 1:
                raise SetupError(
                    f"no ACME directory at {args.directory}: {error!r}", "start the CA first"
                ) from None
            await asyncio.sleep(1)
    await client.new_account()

    async def publish(domain: str, chall: dict) -> None:
        web.tokens[chall["token"]] = client.key_authorization(chall["token"])

    cert_key = ec.generate_private_key(ec.SECP256R1())
    try:
        chain = await client.issue([args.name], publish, cert_key)
    except AcmeError as error:
        raise SetupError(
            f"no certificate for {args.name}: {error.problem}", "is the CA's --http01-host this server?"
        ) from None
    return chain, cert_key


async def serve(args: argparse.Namespace) -> None:
    trace = Trace("site", verbose=args.verbose, quiet=args.quiet)
    web = Responder(trace.child("web"))
    await web.start(args.host, args.http01_port)
    async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
        chain, cert_key = await obtain(args, trace, web, http)
        root = (await http.get(args.directory.rsplit("/", 1)[0] + "/root.pem")).raise_for_status().content
    if args.root_out:
        Path(args.root_out).write_bytes(root)
    with tempfile.TemporaryDirectory(prefix="acme-site-") as tmp:
        chain_path, key_path = Path(tmp) / "chain.pem", Path(tmp) / "key.pem"
        chain_path.write_bytes(chain)
        key_path.write_bytes(
            cert_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        server, task, port = await serve_https(chain_path, key_path, args.host, args.port)
        trace.state(f"certificate for {args.name} installed; HTTP-01 responder on :{web.port}")
        announce(trace, f"https://{args.host}:{port}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.should_exit = True
        await task
    await web.close()
    trace.state("stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_acme.https_site",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--directory", required=True, help="the CA's directory URL")
    parser.add_argument("--name", default="www.wirelab.test", help="the name to get a certificate for")
    add_server_options(parser, port=8443, loop=False)  # --port: HTTPS with the issued chain; --host: both
    parser.add_argument("--http01-port", type=int, default=5002, help="the HTTP-01 responder's port")
    parser.add_argument("--root-out", help="write the CA's root certificate (PEM) here")
    args = parser.parse_args(argv)
    run_server(lambda: serve(args))


if __name__ == "__main__":
    main()
