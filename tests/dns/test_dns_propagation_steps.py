"""The pure steps of the propagation stories: serial bumps, the NS rewrite at com., DNS-PERSIST-01."""

from __future__ import annotations

import pytest

from learn_dns import persist
from learn_dns.hierarchy import bump_serial
from learn_dns.propagation import _move_to_new_provider

pytestmark = pytest.mark.pure

ACCOUNT = "https://acme.example/acct/123"


def test_bump_serial_handles_one_line_and_parenthesised_soa_records():
    one_line = "@ 8 IN SOA a.gtld-servers.net. n.v. 2026112101 3 1 600 4\n"
    assert bump_serial(one_line) == ("@ 8 IN SOA a.gtld-servers.net. n.v. 2026112102 3 1 600 4\n", 2026112102)
    multi = "@ 5 IN SOA ns1 h (\n   2026112101 ; serial\n 3 1 600 4 )\n"
    text, serial = bump_serial(multi)
    assert serial == 2026112102 and "2026112102 ; serial" in text


def test_the_ns_move_rewrites_only_the_example_com_delegation():
    com = ("@ 8 IN NS a.gtld-servers.net.\nexample.com. 8 IN NS ns1.example.com.\n"
           "ns1.example.com. 8 IN A 127.53.0.3\nother.com. 8 IN NS ns.other.net.\n")
    moved = _move_to_new_provider(com)
    assert "ns1.example.com." not in moved and "other.com. 8 IN NS" in moved
    assert "example.com.        8   IN NS   ns1.newdns.net." in moved


def test_a_persist_record_authorizes_only_its_account_at_its_ca():
    record = f"letsencrypt.org; accounturi={ACCOUNT}"
    assert persist.validate([record], "letsencrypt.org", ACCOUNT, now=0)[0]
    assert not persist.validate([record], "other-ca.example", ACCOUNT, now=0)[0]
    assert not persist.validate([record], "letsencrypt.org", ACCOUNT + "9", now=0)[0]
    assert not persist.validate([record], "letsencrypt.org", ACCOUNT, now=0, wildcard=True)[0]
    assert persist.validate([record + "; policy=wildcard"], "letsencrypt.org", ACCOUNT, 0, wildcard=True)[0]


def test_a_persist_record_ends_at_persist_until_and_garbage_is_rejected():
    record = f"letsencrypt.org; accounturi={ACCOUNT}; persistUntil=1000"
    assert persist.validate([record], "letsencrypt.org", ACCOUNT, now=999)[0]
    verdict, why = persist.validate([record, "ca.example; sign"], "letsencrypt.org", ACCOUNT, now=1001)
    assert not verdict and "persistUntil" in why and "not key=value" in why
    assert persist.record_name("example.com") == "_validation-persist.example.com."
