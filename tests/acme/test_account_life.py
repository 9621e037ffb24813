"""keyChange (RFC 8555 §7.3.5) and revokeCert (§7.6) against our CA over loopback, with our client."""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from learn_acme import jws
from learn_acme.client import AcmeError
from learn_acme.jwk import public_jwk

from .conftest import new_client, serve_tokens

pytestmark = pytest.mark.loopback


def p256():
    return ec.generate_private_key(ec.SECP256R1())


async def issued(client, responder, name="www.wirelab.test"):
    cert_key = p256()
    chain = await client.issue([name], serve_tokens(responder, client), cert_key)
    return chain, cert_key


@pytest.mark.timeout(60)
async def test_key_change_moves_the_account_to_the_new_key_and_the_old_one_stops_working(
    start_ca, responder, http
):
    ca = start_ca()
    client = await new_client(ca.url, http)
    old_key, new_key = client.key, rsa.generate_private_key(65537, 2048)
    await client.key_change(new_key)
    await issued(client, responder)  # the account signs with the new key (RS256) from now on
    client.key = old_key
    with pytest.raises(AcmeError) as caught:
        await client.new_order(["www.wirelab.test"])
    assert caught.value.problem.type == "unauthorized"
    client.key = new_key
    url = client.account_url
    await client.new_account()  # the new key finds the same account (§7.3.1)
    assert client.account_url == url
    ca.wait_line(re.escape("key changed (EC -> RSA key)"), 10)


@pytest.mark.timeout(60)
async def test_key_change_refusals(start_ca, http):
    ca = start_ca()
    client = await new_client(ca.url, http)
    other = await new_client(ca.url, http)
    url = client.directory["keyChange"]

    async def outer(inner):
        with pytest.raises(AcmeError) as caught:
            await client.post(url, inner)
        return caught.value

    new_key = p256()
    wrong_old = jws.sign(
        new_key, {"account": client.account_url, "oldKey": public_jwk(p256())}, url=url, nonce=None
    )
    assert (await outer(wrong_old)).problem.detail == "oldKey is not the account's current key"
    other_account = jws.sign(
        new_key, {"account": other.account_url, "oldKey": public_jwk(client.key)}, url=url, nonce=None
    )
    assert (await outer(other_account)).problem.type == "unauthorized"
    with_nonce = jws.sign(
        new_key, {"account": client.account_url, "oldKey": public_jwk(client.key)}, url=url, nonce="abc"
    )
    assert "nonce" in (await outer(with_nonce)).problem.detail
    forged = jws.sign(
        new_key, {"account": client.account_url, "oldKey": public_jwk(client.key)}, url=url, nonce=None
    )
    forged["signature"] = jws.sign(p256(), {}, url=url, nonce=None)["signature"]
    assert "inner JWS" in (await outer(forged)).problem.detail
    # the other account's key is in use: 409 Conflict naming that account (§7.3.5)
    in_use = jws.sign(
        other.key, {"account": client.account_url, "oldKey": public_jwk(client.key)}, url=url, nonce=None
    )
    body = jws.sign(client.key, in_use, url=url, nonce=client.nonce, kid=client.account_url)
    response = await http.post(url, json=body, headers={"Content-Type": "application/jose+json"})
    assert response.status_code == 409 and response.headers["Location"] == other.account_url
    await client.new_order(["www.wirelab.test"])  # every refusal left the old key in place


@pytest.mark.timeout(60)
async def test_revoke_by_the_account_with_a_reason_then_already_revoked(start_ca, responder, http):
    ca = start_ca()
    client = await new_client(ca.url, http)
    chain, _ = await issued(client, responder)
    with pytest.raises(AcmeError) as caught:
        await client.revoke(chain, reason=6)  # certificateHold: not a subscriber's reason
    assert caught.value.problem.type == "badRevocationReason"
    await client.revoke(chain, reason=4)
    ca.wait_line(re.escape("revoked by account 1, reason 4"), 10)
    with pytest.raises(AcmeError) as caught:
        await client.revoke(chain)
    assert caught.value.problem.type == "alreadyRevoked"


@pytest.mark.timeout(60)
async def test_revoke_by_the_certificate_key_needs_no_account_but_another_account_is_refused(
    start_ca, responder, http
):
    ca = start_ca()
    client = await new_client(ca.url, http)
    chain, cert_key = await issued(client, responder)
    stranger = await new_client(ca.url, http)
    with pytest.raises(AcmeError) as caught:
        await stranger.revoke(chain)
    assert caught.value.problem.type == "unauthorized"
    with pytest.raises(AcmeError) as caught:
        await stranger.revoke(chain, key=p256())  # a jwk request by a key that is not the certificate's
    assert caught.value.problem.type == "unauthorized"
    await stranger.revoke(chain, reason=1, key=cert_key)  # keyCompromise, proven by holding the key
    ca.wait_line(re.escape("by the certificate's own key, reason 1"), 10)
