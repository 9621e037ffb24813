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
   and an RS256 request, beside josepy (certbot's JOSE library:
   ``JWS.json_loads`` + ``verify`` of the same bytes, the anchor) and the bare
   ``cryptography`` signature check (the floor: what parsing and JSON cost on
   top).  Without josepy installed the row says so and the rest still runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from learn_acme import jws
from learn_acme.client import AcmeClient
from learn_acme.pebble_ca import running_pebble
from learn_acme.responder import Responder
from wirelab_common.bench_report import report
from wirelab_common.errors import SetupError
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    rate: float  # certificates/s, wall clock
    ca_ms: float  # CPU milliseconds the CA process spent per certificate
    client_ms: float  # CPU milliseconds of this process (client + HTTP-01 responder) per certificate


async def issue_many(
    directory: str, verify: ssl.SSLContext | bool, web: Responder, count: int, ca_pid: int
) -> Run:
    async with httpx.AsyncClient(timeout=30, trust_env=False, verify=verify) as http:
        client = AcmeClient(
            directory, ec.generate_private_key(ec.SECP256R1()), http, Trace("bench", quiet=True)
        )
        await client.start()
        await client.new_account()

        async def publish(domain: str, chall: dict) -> None:
            web.tokens[chall["token"]] = client.key_authorization(chall["token"])

        start, ca_cpu, own_cpu = time.perf_counter(), cpu_seconds(ca_pid), time.process_time()
        for i in range(count):
            chain = await client.issue(
                [f"host{i}.wirelab.test"], publish, ec.generate_private_key(ec.SECP256R1())
            )
            assert chain.count(b"BEGIN CERTIFICATE") >= 2
        return Run(
            count / (time.perf_counter() - start),
            1000 * (cpu_seconds(ca_pid) - ca_cpu) / count,
            1000 * (time.process_time() - own_cpu) / count,
        )


async def ours(count: int) -> Run:
    web = Responder(Trace("web", quiet=True))
    await web.start()
    ca = start_server(
        [sys.executable, "-m", "learn_acme.ca", "--port", "0", "-q", "--http01-port", str(web.port)]
    )
    try:
        return await issue_many(f"{ca.url}/directory", False, web, count, ca.pid)
    finally:
        ca.stop()
        await web.close()


async def pebble(count: int, workdir: Path) -> Run | str:
    web = Responder(Trace("web", quiet=True))
    await web.start()
    try:
        with running_pebble(workdir, web.port) as peer:
            verify = ssl.create_default_context(cafile=str(peer.root))
            return await issue_many(peer.directory, verify, web, count, peer.pid)
    except SetupError as error:
        return str(error)
    finally:
        await web.close()


try:
    import josepy
except ImportError:  # the bench says so instead of failing
    josepy = None


def jws_rate_row(name: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, seconds: float):
    """(alg, ours/s, josepy/s or None, bare/s) for one key: our parse + verify, josepy's, the bare check."""
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

    theirs = None
    if josepy is not None:
        jwk = josepy.JWKEC(key=public) if name == "ES256" else josepy.JWKRSA(key=public)

        def with_josepy() -> None:
            if not josepy.JWS.json_loads(body).verify(jwk):
                raise AssertionError("josepy rejects the signature")

        with_josepy()
        theirs = rate(with_josepy, seconds)
    ours()
    return name, rate(ours, seconds), theirs, rate(bare, seconds)


def jws_rates(seconds: float = 1.0) -> list[tuple[str, float, float | None, float]]:
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
    mine = await ours(args.count)
    with tempfile.TemporaryDirectory(prefix="bench-acme-") as tmp:
        peer = await pebble(args.count, Path(tmp))
    print(f"certificates/s end to end, HTTP-01, {args.count} in a row, one client")
    print("(and CPU ms per certificate: the CA's process; this one, the client and the responder):")
    row = "  {:8} {:8.1f}/s   CA cpu {:5.1f} ms   client cpu {:5.1f} ms"
    print(row.format("our CA", mine.rate, mine.ca_ms, mine.client_ms))
    if isinstance(peer, str):
        print(f"  pebble   not measured: {peer}")
    else:
        print(row.format("pebble", peer.rate, peer.ca_ms, peer.client_ms))
        print(f"  ours/pebble = {mine.rate / peer.rate:.2f}x (target >= 1.0x)")
        report("acme", "certificates issued/s end to end", mine.rate / peer.rate, 1.0,
               anchor=f"pebble as the CA, same client, {args.count} certificates")
    print("JWS verifications/s (parse + verify), beside josepy and the bare signature check:")
    if josepy is None:
        print("  josepy   not measured: josepy is not installed (pip install josepy)")
    for name, mine, theirs, bare in jws_rates():
        vs = f"josepy {theirs:7.0f}/s  ours/josepy {mine / theirs:.2f}x" if theirs else "josepy -"
        floor = f"bare cryptography {bare:7.0f}/s  ours/bare {mine / bare:.2f}x"
        print(f"  {name}  ours {mine:7.0f}/s   {vs}   {floor}")
        if theirs:
            report("acme", f"JWS verifications {name} vs josepy", mine / theirs, None, anchor="josepy")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30)
    asyncio.run(main(parser.parse_args()))
