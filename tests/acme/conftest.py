"""Fixtures for the acme tests: our CA as a process, the domain's HTTP-01 responder in the test."""

from __future__ import annotations

import sys

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from learn_acme.client import AcmeClient
from learn_acme.responder import Responder
from wirelab_common.processes import start_server
from wirelab_common.wiretrace import Trace


@pytest.fixture
async def responder():
    web = Responder(Trace("web"))
    await web.start()
    yield web
    await web.close()


@pytest.fixture
def start_ca(responder):
    """Start our CA (``python -m learn_acme.ca --port 0``) with extra options; stopped after the test."""
    started = []

    def start(*options: str):
        ca = start_server(
            [
                sys.executable,
                "-m",
                "learn_acme.ca",
                "--port",
                "0",
                "--http01-port",
                str(responder.port),
                *options,
            ],
            name="ca",
        )
        started.append(ca)
        return ca

    yield start
    for ca in started:
        ca.stop()


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        yield client


async def new_client(ca_url: str, http: httpx.AsyncClient, key=None) -> AcmeClient:
    client = AcmeClient(
        f"{ca_url}/directory", key or ec.generate_private_key(ec.SECP256R1()), http, Trace("client")
    )
    await client.start()
    await client.new_account()
    return client


def serve_tokens(responder: Responder, client: AcmeClient):
    async def publish(domain: str, chall: dict) -> None:
        responder.tokens[chall["token"]] = client.key_authorization(chall["token"])

    return publish
