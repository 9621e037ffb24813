"""acme benchmark: certificates issued per second end to end, our CA beside pebble with the same client.

    make bench-acme                    (or: python bench/bench_acme.py [--count N])

1. End to end: our client (``learn_acme.client``) registers once, then for N
   certificates in a row: new order, POST-as-GET the authorization, serve the
   HTTP-01 key authorization, say ready, poll until valid, finalize with a new
   P-256 CSR, poll, download the chain.  Against our CA (``learn_acme.ca``,
   ``-q``), then against pebble (Debian ``pebble``, Let's Encrypt's test CA,
   with ``pebble-challtestsrv`` answering its DNS lookups with 127.0.0.1,
   ``PEBBLE_VA_NOSLEEP=1``, ``PEBBLE_AUTHZREUSE=0``: every order validates,
   as ours does).  Pebble's API is HTTPS, ours plain HTTP: see the README.
2. JWS verifications per second: ``jws.parse`` + ``jws.verify`` of an ES256
   and an RS256 request, beside the bare ``cryptography`` signature check of
   the same bytes (the floor: what parsing and JSON cost on top).  josepy
   (the target's anchor) is not in the dev lock yet, so it is not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from learn_acme import jws
from learn_acme.client import AcmeClient
from learn_acme.pebble_ca import running_pebble
from learn_acme.responder import Responder
from wirelab_common.errors import SetupError
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace


async def issue_many(directory: str, verify: ssl.SSLContext | bool, web: Responder, count: int) -> float:
    async with httpx.AsyncClient(timeout=30, trust_env=False, verify=verify) as http:
        client = AcmeClient(
            directory, ec.generate_private_key(ec.SECP256R1()), http, Trace("bench", quiet=True)
        )
        await client.start()
        await client.new_account()

        async def publish(domain: str, chall: dict) -> None:
            web.tokens[chall["token"]] = client.key_authorization(chall["token"])

        start = time.perf_counter()
        for i in range(count):
            chain = await client.issue(
                [f"host{i}.wirelab.test"], publish, ec.generate_private_key(ec.SECP256R1())
            )
            assert chain.count(b"BEGIN CERTIFICATE") >= 2
        return count / (time.perf_counter() - start)


async def ours(count: int) -> float:
    web = Responder(Trace("web", quiet=True))
    await web.start()
    ca = start_server(
        [sys.executable, "-m", "learn_acme.ca", "--port", "0", "-q", "--http01-port", str(web.port)]
    )
    try:
        return await issue_many(f"{ca.url}/directory", False, web, count)
    finally:
        ca.stop()
        await web.close()


async def pebble(count: int, workdir: Path) -> float | str:
    web = Responder(Trace("web", quiet=True))
    await web.start()
    try:
        with running_pebble(workdir, web.port) as peer:
            verify = ssl.create_default_context(cafile=str(peer.root))
            return await issue_many(peer.directory, verify, web, count)
    except SetupError as error:
        return str(error)
    finally:
        await web.close()


def jws_rate_row(name: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, seconds: float):
    """(alg, ours/s, bare/s) for one key: our parse + verify, and the bare signature check."""
    body = json.dumps(
        jws.sign(key, {"identifiers": [{"type": "dns", "value": "a.test"}]}, url="u", nonce="n", kid="k")
    ).encode()
    public, parsed = key.public_key(), jws.parse(body)
    if name == "ES256":
        der = jws.encode_dss_signature(
            int.from_bytes(parsed.signature[:32], "big"), int.from_bytes(parsed.signature[32:], "big")
        )

        def bare() -> None:
            public.verify(der, parsed.signing_input, ec.ECDSA(hashes.SHA256()))
    else:

        def bare() -> None:
            public.verify(parsed.signature, parsed.signing_input, padding.PKCS1v15(), hashes.SHA256())

    def ours() -> None:
        jws.verify(jws.parse(body), public, url="u")

    return name, rate(ours, seconds), rate(bare, seconds)


def jws_rates(seconds: float = 1.0) -> list[tuple[str, float, float]]:
    return [
        jws_rate_row("ES256", ec.generate_private_key(ec.SECP256R1()), seconds),
        jws_rate_row("RS256", rsa.generate_private_key(65537, 2048), seconds),
    ]


def rate(fn, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            fn()
        count += 50
    return count / (time.perf_counter() - start)


async def main(args: argparse.Namespace) -> None:
    print(f"# python bench/bench_acme.py --count {args.count}")
    ours_rate = await ours(args.count)
    with tempfile.TemporaryDirectory(prefix="bench-acme-") as tmp:
        pebble_rate = await pebble(args.count, Path(tmp))
    print(f"certificates/s end to end, HTTP-01, {args.count} in a row, one client:")
    print(f"  our CA   {ours_rate:8.1f}/s")
    if isinstance(pebble_rate, str):
        print(f"  pebble   not measured: {pebble_rate}")
    else:
        print(
            f"  pebble   {pebble_rate:8.1f}/s   ours/pebble = {ours_rate / pebble_rate:.2f}x (target >= 1.0x)"
        )
    print("JWS verifications/s (parse + verify) beside the bare signature check:")
    for name, mine, bare in jws_rates():
        print(f"  {name}    ours {mine:9.0f}/s   bare cryptography {bare:9.0f}/s   ratio {mine / bare:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30)
    asyncio.run(main(parser.parse_args()))
