"""Our recursive resolver, asked by real clients: dig, kdig, dnspython's stub resolver.

One loopback DNS internet (root, com/net, example.com, the new provider) and our
resolver at 127.53.0.53 are started once for the module, on one free port.
"""

from __future__ import annotations

import subprocess
import sys

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import pytest

from learn_dns.hierarchy import RESOLVER_ADDRESS, Hierarchy
from learn_dns.propagation import ANSWERED_LINE, ask, ask_resolver, first_address, upstream_count
from tests.conftest import need_binary

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def internet():
    with Hierarchy() as h:
        yield h


def dig(binary: str, port: int, *args: str) -> str:
    retries = "+retry=0" if binary.endswith("kdig") else "+tries=1"
    result = subprocess.run([binary, f"@{RESOLVER_ADDRESS}", "-p", str(port), *args, "+time=3", retries],
                            capture_output=True, text=True, timeout=20)
    return result.stdout


def test_dig_gets_a_recursive_answer_with_ra_set(internet):
    out = dig(need_binary("dig", "dnsutils"), internet.port, "www.example.com", "A")
    assert "status: NOERROR" in out and " ra" in out.split("flags:")[1].split(";")[0]
    assert "192.0.2.10" in out


def test_kdig_follows_a_cname_through_the_resolver(internet):
    out = dig(need_binary("kdig", "knot-dnsutils"), internet.port, "ftp.example.com", "A")
    assert "CNAME" in out and "www.example.com." in out and "192.0.2.10" in out


@pytest.mark.parametrize("tool, package", [("dig", "dnsutils"), ("kdig", "knot-dnsutils")])
def test_dig_and_kdig_over_tcp_get_the_same_recursive_answer(internet, tool, package):
    out = dig(need_binary(tool, package), internet.port, "www.example.com", "AAAA", "+tcp")
    assert "NOERROR" in out and "2001:db8::10" in out


@pytest.mark.parametrize("tool, package", [("dig", "dnsutils"), ("kdig", "knot-dnsutils")])
def test_a_512_byte_bufsize_gets_tc_and_the_client_retries_over_tcp(internet, tool, package):
    binary = need_binary(tool, package)
    out = dig(binary, internet.port, "big.example.com", "TXT", "+bufsize=512", "+ignore")
    assert " tc" in out.lower().split("flags:")[1].split(";")[0] and "padding" not in out
    out = dig(binary, internet.port, "big.example.com", "TXT", "+bufsize=512")  # TC=1, then TCP
    assert out.count("record ") == 12


def test_norec_is_answered_from_the_cache_only_never_upstream(internet):
    binary = need_binary("dig", "dnsutils")

    def norec(name: str) -> str:
        start = internet.resolver.line_count()
        out = dig(binary, internet.port, name, "A", "+norec")
        internet.resolver.wait_line(ANSWERED_LINE, timeout=10, start=start)  # its trace is all read
        return out

    out = ""
    for _ in range(5):  # bounded: the 5 s TTL may run out between the two queries on a loaded machine
        ask_resolver(internet, "mail.example.com")  # RD=1: now in the cache
        before = upstream_count(internet)
        out = norec("mail.example.com")
        if "192.0.2.25" in out:
            break
    assert "192.0.2.25" in out and upstream_count(internet) == before
    flags = out.split("flags:")[1].split(";")[0].split()
    assert "rd" not in flags and "ra" in flags and "aa" not in flags
    before = upstream_count(internet)
    out = norec("never-asked.example.com")
    assert upstream_count(internet) == before  # a referral from the cache, or REFUSED: never iteration
    assert "status: NOERROR" in out or "status: REFUSED" in out
    assert "ANSWER SECTION" not in out


def test_a_zone_transfer_through_the_resolver_is_refused(internet):
    out = dig(need_binary("dig", "dnsutils"), internet.port, "example.com", "AXFR")
    assert "Transfer failed" in out and "SOA" not in out
    query = dns.message.make_query("example.com", "AXFR")
    assert dns.query.tcp(query, RESOLVER_ADDRESS, port=internet.port, timeout=6).rcode() == dns.rcode.REFUSED


def test_a_response_sent_to_the_resolver_is_dropped_not_answered(internet):
    response = dns.message.make_response(dns.message.make_query("www.example.com", "A"))
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(response, RESOLVER_ADDRESS, port=internet.port, timeout=1)
    assert ask(internet.port, "www.example.com").rcode() == dns.rcode.NOERROR


def test_dnspython_stub_resolver_uses_our_resolver(internet):
    stub = dns.resolver.Resolver(configure=False)
    stub.nameservers = [RESOLVER_ADDRESS]
    stub.port = internet.port
    stub.lifetime = 5
    answer = stub.resolve("mail.example.com", "A")
    assert [r.address for r in answer] == ["192.0.2.25"]
    with pytest.raises(dns.resolver.NXDOMAIN):
        stub.resolve("no-such-name.example.com", "A")


def test_a_glueless_delegation_is_resolved_through_the_net_zone(internet):
    address, _ttl = first_address(ask(internet.port, "ns1.newdns.net"))
    assert address == "127.53.0.5"


def test_the_second_identical_query_causes_no_upstream_traffic(internet):
    ask_resolver(internet, "www.example.com", "AAAA")
    before = upstream_count(internet)
    response = ask_resolver(internet, "www.example.com", "AAAA")
    assert response.answer and upstream_count(internet) == before


def test_a_big_answer_is_truncated_for_a_512_byte_client_which_retries_over_tcp(internet):
    query = dns.message.make_query("big.example.com", "TXT")  # no EDNS: 512-byte limit
    udp = dns.query.udp(query, RESOLVER_ADDRESS, port=internet.port, timeout=6)
    assert udp.flags & dns.flags.TC and not udp.answer
    tcp = dns.query.tcp(query, RESOLVER_ADDRESS, port=internet.port, timeout=6)
    assert len(tcp.answer[0]) == 12


def test_negative_answers_carry_the_soa_with_the_negative_ttl(internet):
    response = ask(internet.port, "nothing-here.example.com")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.authority[0].ttl <= 4  # min(SOA TTL 5, MINIMUM 4), RFC 2308 §5


def test_trace_command_prints_each_referral(internet):
    result = subprocess.run([sys.executable, "-m", "learn_dns.trace_dig", "www.example.com", "A",
                             "--port", str(internet.port)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    sent = [line for line in lines if line.startswith(">")]
    assert [line.split()[2] for line in sent] == ["127.53.0.1", "127.53.0.2", "127.53.0.3"] or \
        [line.split()[2] for line in sent][:2] == ["127.53.0.1", "127.53.0.2"]
    assert any("referral to com." in line for line in lines)
    assert any("referral to example.com." in line for line in lines)
    assert any("192.0.2.10" in line and line.startswith("=") for line in lines)


def test_a_client_outside_the_allow_list_is_refused(procs, internet):
    proc = procs.python("learn_dns.resolver_server", "--address", "127.53.0.54", "--port", str(internet.port),
                        "--root-hints", "127.53.0.1", "--allow", "127.53.0.0/24", ready_line="ready")
    query = dns.message.make_query("www.example.com", "A")
    refused = dns.query.udp(query, "127.53.0.54", port=internet.port, timeout=6, source="127.0.0.1")
    assert refused.rcode() == dns.rcode.REFUSED
    allowed = dns.query.udp(query, "127.53.0.54", port=internet.port, timeout=6, source="127.53.0.77")
    assert allowed.rcode() == dns.rcode.NOERROR and allowed.answer
    proc.wait_line("not in --allow", timeout=10)  # printed before the answer; read by a thread


def test_a_client_over_its_rate_limit_is_refused(procs, internet):
    procs.python("learn_dns.resolver_server", "--address", "127.53.0.55", "--port", str(internet.port),
                 "--root-hints", "127.53.0.1", "--rate", "1", "--burst", "3", ready_line="ready")
    query = dns.message.make_query("www.example.com", "A")
    rcodes = [dns.query.udp(query, "127.53.0.55", port=internet.port, timeout=6).rcode() for _ in range(8)]
    assert rcodes[0] == dns.rcode.NOERROR
    assert dns.rcode.REFUSED in rcodes
