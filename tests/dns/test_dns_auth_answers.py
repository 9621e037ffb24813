"""The pure layer of the authoritative server: the RFC 1034 lookup, and the cache of wire bytes.

No sockets: queries are built with dnspython, answered in-process, and the
response bytes read back with dnspython.
"""

from __future__ import annotations

from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

import learn_dns
from learn_dns.answers import respond, transfer
from learn_dns.message import Message, record
from learn_dns.names import Name
from learn_dns.rdata import A
from learn_dns.secondary import serial_newer
from learn_dns.zone_data import Zone, load_zone_file

pytestmark = pytest.mark.pure

ZONES = Path(learn_dns.__file__).parent / "zones"


@pytest.fixture(scope="module")
def zones():
    loaded = [load_zone_file(ZONES / f) for f in ("root.zone", "com.zone", "net.zone", "example.com.zone")]
    return {zone.origin: zone for zone in loaded}


def ask(zones, name: str, rtype: str, **kwargs) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, **kwargs)
    response = respond(Message.from_wire(query.to_wire()), zones)
    return dns.message.from_wire(response.to_wire())


def texts(section) -> list[str]:
    return sorted(f"{rrset.name} {rdata}" for rrset in section for rdata in rrset)


def test_the_closest_enclosing_zone_answers(zones):
    response = ask(zones, "www.example.com", "A")
    assert response.flags & dns.flags.AA and texts(response.answer) == ["www.example.com. 192.0.2.10"]


def test_a_delegation_in_the_parent_becomes_a_referral_with_glue(zones):
    only_com = {origin: zone for origin, zone in zones.items() if str(origin) == "com."}
    response = ask(only_com, "deep.www.example.com", "A")
    assert not response.flags & dns.flags.AA and response.answer == []
    assert texts(response.authority) == ["example.com. ns1.example.com.", "example.com. ns2.example.com."]
    assert texts(response.additional) == ["ns1.example.com. 127.53.0.3", "ns2.example.com. 127.53.0.4"]


def test_a_name_below_a_cut_is_never_answered_from_the_parents_glue(zones):
    only_com = {origin: zone for origin, zone in zones.items() if str(origin) == "com."}
    response = ask(only_com, "ns1.example.com", "A")  # the glue is not the parent's to answer with
    assert not response.flags & dns.flags.AA and response.answer == []


def test_nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl(zones):
    nx = ask(zones, "nope.example.com", "A")
    nodata = ask(zones, "www.example.com", "TXT")
    assert nx.rcode() == dns.rcode.NXDOMAIN and nodata.rcode() == dns.rcode.NOERROR
    for response in (nx, nodata):
        assert response.answer == [] and response.authority[0].ttl == 4  # min(5, MINIMUM 4)


def test_an_empty_non_terminal_exists(zones):
    """b.example.com owns nothing, but a.b.example.com is below it: NODATA, not NXDOMAIN (RFC 8020)."""
    example = zones[Name.from_text("example.com")]
    zone = Zone(example.origin, [*example.records(), record("a.b.example.com", 5, A("192.0.2.1"))])
    response = ask({zone.origin: zone}, "b.example.com", "A")
    assert response.rcode() == dns.rcode.NOERROR and response.answer == []
    assert response.authority[0].rdtype == 6  # SOA


def test_a_cname_is_followed_and_additional_addresses_come_with_mx(zones):
    assert texts(ask(zones, "ftp.example.com", "A").answer) == [
        "ftp.example.com. www.example.com.", "www.example.com. 192.0.2.10"]
    mx = ask(zones, "example.com", "MX")
    assert texts(mx.additional) == ["mail.example.com. 192.0.2.25"]


def test_names_outside_every_zone_are_refused():
    assert ask({}, "www.example.com", "A").rcode() == dns.rcode.REFUSED


@pytest.mark.parametrize("a, b, newer", [
    (2026112102, 2026112101, True),
    (2026112101, 2026112101, False),
    (2026112101, 2026112102, False),
    (5, 2**32 - 5, True),            # wrapped around: 5 comes after 4294967291 (RFC 1982 §3.2)
    (2**32 - 5, 5, False),
])
def test_serials_compare_in_rfc_1982_arithmetic(a, b, newer):
    assert serial_newer(a, b) is newer


def test_a_zone_transfer_starts_and_ends_with_the_soa(zones):
    example = zones[Name.from_text("example.com")]
    query = Message.from_wire(dns.message.make_query("example.com", "AXFR").to_wire())
    messages = transfer(query, example)
    records = [rr for message in messages for rr in message.answers]
    assert records[0].rtype == records[-1].rtype == 6 and len(records) == len(example) + 1
    assert all(message.header.aa for message in messages)
