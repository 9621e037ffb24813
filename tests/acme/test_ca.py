"""Our client against our CA over loopback: HTTP-01 for real, and every refusal as a problem document."""

from __future__ import annotations

import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from learn_acme import jws
from learn_acme.client import AcmeError

from .conftest import new_client, serve_tokens

pytestmark = pytest.mark.loopback


async def post(http, url, body):
    return await http.post(url, content=json.dumps(body), headers={"Content-Type": "application/jose+json"})


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "make_key",
    [lambda: ec.generate_private_key(ec.SECP256R1()), lambda: rsa.generate_private_key(65537, 2048)],
    ids=["ES256", "RS256"],
)
async def test_a_certificate_is_issued_by_http01_with_its_chain(start_ca, responder, http, make_key):
    ca = start_ca()
    client = await new_client(ca.url, http, make_key())
    chain = await client.issue(
        ["www.wirelab.test", "wirelab.test"],
        serve_tokens(responder, client),
        ec.generate_private_key(ec.SECP256R1()),
    )
    leaf, inter = x509.load_pem_x509_certificates(chain)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == ["wirelab.test", "www.wirelab.test"]
    assert leaf.issuer == inter.subject
    assert "/.well-known/acme-challenge/" in ca.output() and "(validating)" in ca.output()


@pytest.mark.timeout(60)
async def test_a_reused_nonce_is_bad_nonce_with_a_fresh_one(start_ca, http):
    ca = start_ca()
    client = await new_client(ca.url, http)
    url, nonce = client.directory["newOrder"], client.nonce
    body = jws.sign(
        client.key,
        {"identifiers": [{"type": "dns", "value": "a.test"}]},
        url=url,
        nonce=nonce,
        kid=client.account_url,
    )
    assert (await post(http, url, body)).status_code == 201
    again = await post(http, url, body)
    assert again.status_code == 400 and again.json()["type"] == "urn:ietf:params:acme:error:badNonce"
    assert again.headers["Content-Type"] == "application/problem+json"
    fresh = jws.sign(
        client.key,
        {"identifiers": [{"type": "dns", "value": "a.test"}]},
        url=url,
        nonce=again.headers["Replay-Nonce"],
        kid=client.account_url,
    )
    assert (await post(http, url, fresh)).status_code == 201


@pytest.mark.timeout(60)
async def test_a_request_signed_by_another_key_is_unauthorized(start_ca, http):
    ca = start_ca()
    client = await new_client(ca.url, http)
    url = client.directory["newOrder"]
    body = jws.sign(
        ec.generate_private_key(ec.SECP256R1()),
        {"identifiers": []},
        url=url,
        nonce=client.nonce,
        kid=client.account_url,
    )
    answer = await post(http, url, body)
    assert answer.status_code == 403 and answer.json()["type"].endswith(":unauthorized")


@pytest.mark.timeout(60)
async def test_an_absent_token_makes_the_authorization_invalid_with_the_detail(start_ca, responder, http):
    ca = start_ca()
    client = await new_client(ca.url, http)

    async def publish_nothing(domain, chall):
        return None

    with pytest.raises(AcmeError, match="answered 404"):
        await client.issue(["absent.test"], publish_nothing, ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.timeout(60)
async def test_an_expired_order_is_invalid(start_ca, http):
    ca = start_ca("--order-lifetime", "0")
    client = await new_client(ca.url, http)
    order_url, _ = await client.new_order(["late.test"])
    order = await client.get(order_url)
    assert order["status"] == "invalid" and "expired" in order["error"]["detail"]


@pytest.mark.timeout(60)
async def test_orders_beyond_the_rate_limit_are_429(start_ca, http):
    ca = start_ca("--orders-per-hour", "1")
    client = await new_client(ca.url, http)
    await client.new_order(["a.test"])
    with pytest.raises(AcmeError) as caught:
        await client.new_order(["a.test"])
    assert caught.value.problem.type == "rateLimited"


@pytest.mark.timeout(60)
async def test_bad_input_gets_a_problem_and_the_ca_serves_on(start_ca, http):
    ca = start_ca()
    url = f"{ca.url}/acme/new-order"
    for body in (b"not json", b'{"protected": "e30", "payload": "", "signature": ""}'):
        answer = await http.post(url, content=body, headers={"Content-Type": "application/jose+json"})
        assert answer.status_code == 400 and "Replay-Nonce" in answer.headers
    wrong_type = await http.post(url, content=b"{}", headers={"Content-Type": "application/json"})
    assert wrong_type.json()["type"].endswith(":malformed")
    assert (await http.get(f"{ca.url}/directory")).status_code == 200
