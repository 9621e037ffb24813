"""DNS-01 and DNS-PERSIST-01 over loopback: our CA asks the dns/ pattern's authoritative server."""

from __future__ import annotations

import re
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from learn_acme import challenges as ch
from learn_acme.client import AcmeError
from learn_acme.dns_zone import UpdateFailed, Zone, soa_serial
from wirelab_common.processes import start_server

from .conftest import new_client

pytestmark = pytest.mark.loopback

NAME = "www.wirelab.test"


@pytest.fixture
def dns_and_ca(tmp_path, start_ca):
    zone = Zone(tmp_path / "wirelab.test.zone", "wirelab.test")
    dns = start_server(
        [
            sys.executable,
            "-m",
            "learn_dns.authoritative",
            "--port",
            "0",
            *zone.server_args(),  # the zone file and the TSIG key our UPDATEs are signed with
        ],
        name="dns",
    )
    ca = start_ca("--dns-server", f"127.0.0.1:{dns.port}")
    yield zone, dns, ca
    dns.stop()


def publisher(zone, dns, values_for):
    async def publish(domain: str, chall: dict) -> None:
        name, values = values_for(domain, chall)
        await zone.publish(name, values, server=("127.0.0.1", dns.port))

    return publish


@pytest.mark.timeout(60)
async def test_dns01_issues_once_the_digest_is_published(dns_and_ca, http):
    zone, dns, ca = dns_and_ca
    client = await new_client(ca.url, http)

    def digest(domain, chall):
        return ch.dns01_name(domain), [ch.dns01_txt(client.key_authorization(chall["token"]))]

    chain = await client.issue(
        [NAME], publisher(zone, dns, digest), ec.generate_private_key(ec.SECP256R1()), kind=ch.DNS01
    )
    assert chain.count(b"BEGIN CERTIFICATE") == 2
    assert "query _acme-challenge.www.wirelab.test. TXT" in dns.output()


@pytest.mark.timeout(60)
async def test_dns01_with_a_wrong_digest_is_invalid(dns_and_ca, http):
    zone, dns, ca = dns_and_ca
    client = await new_client(ca.url, http)

    def wrong(domain, chall):
        return ch.dns01_name(domain), [ch.dns01_txt("someone-else.token")]

    with pytest.raises(AcmeError, match="do not include"):
        await client.issue(
            [NAME], publisher(zone, dns, wrong), ec.generate_private_key(ec.SECP256R1()), kind=ch.DNS01
        )


@pytest.mark.timeout(60)
async def test_a_persist_record_serves_its_account_twice_and_refuses_another(dns_and_ca, http):
    zone, dns, ca = dns_and_ca
    client = await new_client(ca.url, http)
    await zone.publish(
        ch.persist_name(NAME),
        [ch.persist_txt("ca.wirelab.test", client.account_url)],
        server=("127.0.0.1", dns.port),
    )

    async def nothing(domain, chall):
        return None

    key = ec.generate_private_key(ec.SECP256R1())
    serial = await soa_serial("wirelab.test", ("127.0.0.1", dns.port))
    await client.issue([NAME], nothing, key, kind=ch.DNS_PERSIST01)
    await client.issue([NAME], nothing, key, kind=ch.DNS_PERSIST01)
    assert await soa_serial("wirelab.test", ("127.0.0.1", dns.port)) == serial  # no DNS change
    other = await new_client(ca.url, http)
    with pytest.raises(AcmeError, match="for another account"):
        await other.issue([NAME], nothing, key, kind=ch.DNS_PERSIST01)


@pytest.mark.timeout(60)
async def test_a_persist_record_past_persist_until_or_for_another_ca_is_refused(dns_and_ca, http):
    zone, dns, ca = dns_and_ca
    client = await new_client(ca.url, http)
    records = [
        ch.persist_txt("ca.wirelab.test", client.account_url, persist_until=1_000_000_000),
        ch.persist_txt("letsencrypt.org", client.account_url),
    ]
    await zone.publish(ch.persist_name(NAME), records, server=("127.0.0.1", dns.port))

    async def nothing(domain, chall):
        return None

    with pytest.raises(AcmeError) as caught:
        await client.issue([NAME], nothing, ec.generate_private_key(ec.SECP256R1()), kind=ch.DNS_PERSIST01)
    assert "expired (persistUntil=1000000000)" in str(caught.value)
    assert "for another CA (letsencrypt.org)" in str(caught.value)


@pytest.mark.timeout(60)
async def test_publishing_is_a_signed_rfc2136_update_and_a_refusal_is_an_error(tmp_path):
    zone = Zone(tmp_path / "wirelab.test.zone", "wirelab.test")
    other = Zone(tmp_path / "other.zone", "wirelab.test")  # another TSIG secret
    argv = [sys.executable, "-m", "learn_dns.authoritative", "--port", "0"]
    wrong_key = start_server([*argv, *other.server_args()], name="dns-other-key")
    try:
        with pytest.raises(UpdateFailed, match="PeerBadSignature"):  # NOTAUTH, TSIG error BADSIG
            await zone.publish(
                "_acme-challenge.www.wirelab.test", ["x"], server=("127.0.0.1", wrong_key.port)
            )
        wrong_key.wait_line(re.escape("update refused, NOTAUTH: TSIG BADSIG"), 10)
    finally:
        wrong_key.stop()
    right_key = start_server([*argv, *zone.server_args()], name="dns-right-key")
    try:
        before = await soa_serial("wirelab.test", ("127.0.0.1", right_key.port))
        await zone.publish("_acme-challenge.www.wirelab.test", ["x"], server=("127.0.0.1", right_key.port))
        assert await soa_serial("wirelab.test", ("127.0.0.1", right_key.port)) == before + 1
        right_key.wait_line(re.escape("(allowed by key acme-update.)"), 10)
    finally:
        right_key.stop()
