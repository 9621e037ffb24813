"""Peers nobody here wrote: lego and certbot as clients of our CA, pebble as the CA for our client,
``openssl verify`` on the chains.

Each client solves HTTP-01 with its own built-in web server on the port our
CA fetches from; each certificate must then verify against our root alone.
"""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from learn_acme.client import AcmeClient
from learn_acme.pebble_ca import running_pebble
from learn_acme.responder import Responder
from tests.conftest import need_binary
from wirelab_common.ports import free_port
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace

from .conftest import serve_tokens

pytestmark = pytest.mark.differential

NAME = "www.wirelab.test"


@pytest.fixture
def our_ca(tmp_path):
    """Our CA fetching HTTP-01 tokens from a free port that the peer client will listen on."""
    http01 = free_port()
    root = tmp_path / "root.pem"
    ca = start_server(
        [
            sys.executable,
            "-m",
            "learn_acme.ca",
            "--port",
            "0",
            "--http01-port",
            str(http01),
            "--root-out",
            str(root),
        ],
        name="ca",
    )
    yield ca, http01, root
    ca.stop()


def openssl_verify(root: Path, leaf: Path, untrusted: Path | None = None) -> subprocess.CompletedProcess:
    argv = ["openssl", "verify", "-CAfile", str(root), "-verify_hostname", NAME]
    argv += ["-untrusted", str(untrusted)] if untrusted else []
    return subprocess.run([*argv, str(leaf)], capture_output=True, text=True, timeout=20)


@pytest.mark.timeout(120)
def test_lego_gets_a_certificate_from_our_ca(our_ca, tmp_path):
    need_binary("lego", "lego")
    need_binary("openssl", "openssl")
    ca, http01, root = our_ca
    result = subprocess.run(
        [
            "lego",
            "--server",
            f"{ca.url}/directory",
            "--email",
            "admin@wirelab.test",
            "--domains",
            NAME,
            "--http",
            "--http.port",
            f"127.0.0.1:{http01}",
            "--accept-tos",
            "--path",
            str(tmp_path / "lego"),
            "run",
        ],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    certs = tmp_path / "lego" / "certificates"
    verified = openssl_verify(root, certs / f"{NAME}.crt", certs / f"{NAME}.issuer.crt")
    assert verified.returncode == 0, verified.stderr
    assert "(http-01): pending -> valid" in ca.output()
    # lego revokes it with its account key (RFC 8555 §7.6), reason 4 (superseded)
    revoke = [
        "lego",
        "--server",
        f"{ca.url}/directory",
        "--email",
        "admin@wirelab.test",
        "--domains",
        NAME,
        "--path",
        str(tmp_path / "lego"),
        "revoke",
        "--reason",
        "4",
        "--keep",
    ]
    result = subprocess.run(revoke, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ca.wait_line(re.escape("revoked by account 1, reason 4"), 10)
    again = subprocess.run(revoke, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "alreadyRevoked" in again.stdout + again.stderr


def certbot(tmp_path: Path, ca, timeout: float, *args: str) -> subprocess.CompletedProcess:
    """``certbot ARGS`` against our CA, with its config, work and log folders under ``tmp_path``."""
    return subprocess.run(
        ["certbot", *args, "--server", f"{ca.url}/directory", "--config-dir", str(tmp_path / "c"),
         "--work-dir", str(tmp_path / "w"), "--logs-dir", str(tmp_path / "l"), "--non-interactive"],
        capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(150)
def test_certbot_gets_a_certificate_from_our_ca_with_an_rs256_account(our_ca, tmp_path):
    need_binary("certbot", "certbot")
    need_binary("openssl", "openssl")
    ca, http01, root = our_ca
    result = certbot(tmp_path, ca, 140, "certonly", "--standalone", "--http-01-port", str(http01),
                     "--http-01-address", "127.0.0.1", "--agree-tos", "-m", "admin@wirelab.test", "-d", NAME)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    live = tmp_path / "c" / "live" / NAME
    verified = openssl_verify(root, live / "cert.pem", live / "chain.pem")
    assert verified.returncode == 0, verified.stderr
    assert "RS256" in ca.output()  # certbot's account key is RSA: our RS256 path, checked by a peer
    # certbot revokes it, signing with the certificate's own key (a jwk request, RFC 8555 §7.6)
    result = certbot(tmp_path, ca, 100, "revoke", "--cert-path", str(live / "cert.pem"),
                     "--key-path", str(live / "privkey.pem"), "--reason", "keycompromise",
                     "--no-delete-after-revoke")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ca.wait_line(re.escape("by the certificate's own key, reason 1"), 10)


@pytest.mark.timeout(120)
async def test_our_client_gets_a_certificate_from_pebble(tmp_path):
    need_binary("pebble", "pebble")
    need_binary("pebble-challtestsrv", "pebble")
    web = Responder(Trace("web"))
    await web.start()
    try:
        with running_pebble(tmp_path, web.port) as pebble:
            verify = ssl.create_default_context(cafile=str(pebble.root))
            async with httpx.AsyncClient(timeout=30, trust_env=False, verify=verify) as http:
                client = AcmeClient(
                    pebble.directory, ec.generate_private_key(ec.SECP256R1()), http, Trace("client")
                )
                await client.start()
                await client.new_account(["mailto:admin@wirelab.test"])
                chain = await client.issue(
                    [NAME], serve_tokens(web, client), ec.generate_private_key(ec.SECP256R1())
                )
    finally:
        await web.close()
    leaf = x509.load_pem_x509_certificates(chain)[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [NAME]
    assert "Pebble" in leaf.issuer.rfc4514_string()


@pytest.mark.timeout(60)
async def test_openssl_verifies_our_clients_chain_against_our_root_only(our_ca, tmp_path):
    need_binary("openssl", "openssl")
    ca, http01, root = our_ca
    web = Responder(Trace("web"))
    await web.start(port=http01)
    try:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            client = AcmeClient(
                f"{ca.url}/directory", ec.generate_private_key(ec.SECP256R1()), http, Trace("c")
            )
            await client.start()
            await client.new_account()
            chain = await client.issue(
                [NAME], serve_tokens(web, client), ec.generate_private_key(ec.SECP256R1())
            )
    finally:
        await web.close()
    leaf, inter = (tmp_path / "leaf.pem"), (tmp_path / "inter.pem")
    first_end = chain.index(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----\n")
    leaf.write_bytes(chain[:first_end])
    inter.write_bytes(chain[first_end:])
    assert openssl_verify(root, leaf, inter).returncode == 0
    without_intermediate = openssl_verify(root, leaf)
    assert without_intermediate.returncode != 0  # the chain is needed: the root did not sign the leaf
