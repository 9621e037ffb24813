"""Pebble, Let's Encrypt's ACME test server, as a second CA for our client (tests and benchmark).

Not part of the lesson's reading order: the harness that lets a CA nobody
here wrote judge our client.  :func:`running_pebble` starts
``pebble-challtestsrv`` as pebble's DNS (it answers every A query with
127.0.0.1, so pebble's HTTP-01 fetch lands on our responder) and ``pebble``
itself, with an HTTPS certificate for ``localhost`` from a throwaway
authority of ours whose root the client then trusts.  Every order is
validated for real (``PEBBLE_AUTHZREUSE=0``) and without pebble's random
delays (``PEBBLE_VA_NOSLEEP=1``); pebble's random rejection of nonces is off
(``PEBBLE_WFE_NONCEREJECT=0``) so runs are comparable, though our client
would retry them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wirelab_common.errors import SetupError
from wirelab_common.ports import free_port
from wirelab_common.processes import start_process

from .client import make_csr
from .pki import Authority


@dataclass
class Pebble:
    directory: str  # https://localhost:PORT/dir
    root: Path  # the root that signed pebble's HTTPS certificate
    pid: int = 0  # pebble's process (the benchmark reads its CPU time)


@contextlib.contextmanager
def running_pebble(workdir: Path, http01_port: int) -> Iterator[Pebble]:
    if not (shutil.which("pebble") and shutil.which("pebble-challtestsrv")):
        raise SetupError("pebble not found on PATH", "apt-get install pebble")
    now = dt.datetime.now(dt.UTC)
    authority = Authority.create(now, name="pebble API")
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = authority.issue(x509.load_der_x509_csr(make_csr(["localhost"], key)), ["localhost"], now)
    (workdir / "pebble-cert.pem").write_bytes(authority.chain_pem(leaf))
    (workdir / "pebble-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    root = workdir / "pebble-root.pem"
    root.write_bytes(authority.root_pem())
    api, mgmt, tls_port, dns_port, chall_mgmt = (free_port() for _ in range(5))
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{api}",
            "managementListenAddress": f"127.0.0.1:{mgmt}",
            "certificate": str(workdir / "pebble-cert.pem"),
            "privateKey": str(workdir / "pebble-key.pem"),
            "httpPort": http01_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (workdir / "pebble.json").write_text(json.dumps(config))
    # challtestsrv as DNS only: its own challenge servers are off (empty addresses).
    dns = start_process(
        [
            "pebble-challtestsrv",
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
            "-dns01",
            f"127.0.0.1:{dns_port}",
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            f"127.0.0.1:{chall_mgmt}",
        ],
        name="challtestsrv",
        ready_port=chall_mgmt,
    )
    try:
        env = {
            **os.environ,
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_AUTHZREUSE": "0",
            "PEBBLE_WFE_NONCEREJECT": "0",
        }
        server = start_process(
            ["pebble", "-config", str(workdir / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns_port}"],
            name="pebble",
            env=env,
            ready_port=api,
        )
        try:
            yield Pebble(f"https://localhost:{api}/dir", root, server.pid)
        finally:
            server.stop()
    finally:
        dns.stop()
