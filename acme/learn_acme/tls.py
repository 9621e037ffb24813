"""The certificate at work: a TLS server (uvicorn) with the issued chain; clients trusting only our root.

After ``responder.py`` in the reading order; ``demo.py`` act 3 uses it.
:func:`serve_https` runs a one-page FastAPI site on uvicorn with the key and
chain the client obtained.  :func:`verify_chain` is the check a browser
makes, with ``cryptography``'s X.509 path validation: the leaf's signature by
the intermediate, the intermediate's by a root in the trust store, validity
dates, and the hostname against subjectAltName.  :func:`s_client` and
:func:`curl` ask two peers nobody here wrote to make the same decision:
``openssl s_client -msg -verify_return_error`` prints every handshake
message it sends and receives, and ``curl --cacert`` fetches the page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import subprocess
from pathlib import Path

import uvicorn
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

PAGE = "hello over HTTPS, certificate by the wirelab ACME CA\n"


def site() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=PlainTextResponse)
    async def index() -> str:
        return PAGE

    return app


async def serve_https(
    chain: Path, key: Path, host: str = "127.0.0.1", port: int = 0
) -> tuple[uvicorn.Server, asyncio.Task, int]:
    """Start uvicorn with TLS (default: a free loopback port); returns (server, its task, port)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    cfg = uvicorn.Config(
        site(),
        ssl_certfile=str(chain),
        ssl_keyfile=str(key),
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(cfg)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    return server, task, sock.getsockname()[1]


def verify_chain(chain_pem: bytes, root_pem: bytes, hostname: str, now: dt.datetime) -> str:
    """Path validation as a browser does it; returns the chain's subjects, or raises VerificationError."""
    leaf, *intermediates = x509.load_pem_x509_certificates(chain_pem)
    root = x509.load_pem_x509_certificate(root_pem)
    verifier = PolicyBuilder().store(Store([root])).time(now).build_server_verifier(x509.DNSName(hostname))
    path = verifier.verify(leaf, intermediates)
    return " <- ".join(c.subject.rfc4514_string() for c in path)


def s_client(port: int, hostname: str, cafile: Path | None) -> subprocess.CompletedProcess:
    """``openssl s_client`` with handshake messages shown (-msg) and failure on a bad chain."""
    argv = [
        "openssl",
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        "-servername",
        hostname,
        "-verify_hostname",
        hostname,
        "-verify_return_error",
        "-msg",
        "-brief",
    ]
    argv += ["-CAfile", str(cafile)] if cafile else ["-CApath", "/nonexistent"]
    return subprocess.run(argv, input="", capture_output=True, text=True, timeout=20)


def curl(port: int, hostname: str, cafile: Path | None) -> subprocess.CompletedProcess:
    argv = [
        "curl",
        "-sS",
        "--max-time",
        "10",
        "--resolve",
        f"{hostname}:{port}:127.0.0.1",
        f"https://{hostname}:{port}/",
    ]
    if cafile:
        argv[1:1] = ["--cacert", str(cafile)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=20)


def handshake_lines(output: str) -> list[str]:
    """The handshake lines of ``s_client -msg`` (``>>> TLS 1.3, Handshake [length 00b8], ClientHello``)."""
    return [
        line.strip()
        for line in output.splitlines()
        if line.startswith((">>>", "<<<")) and "Handshake" in line
    ]


def context_trusting(root: Path) -> ssl.SSLContext:
    """A Python client context whose only trust anchor is our root."""
    return ssl.create_default_context(cafile=str(root))


__all__ = [
    "PAGE",
    "VerificationError",
    "context_trusting",
    "curl",
    "handshake_lines",
    "s_client",
    "serve_https",
    "verify_chain",
]
