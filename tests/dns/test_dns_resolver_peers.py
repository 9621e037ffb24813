"""Our recursive resolver, asked by real clients: dig, kdig, dnspython's stub resolver.

One loopback DNS internet (root, com/net, example.com, the new provider) and our
resolver at 127.53.0.53 are started once for the module, on one free port.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import pytest

import learn_dns
from learn_dns.hierarchy import RESOLVER_ADDRESS, Hierarchy
from learn_dns.propagation import ANSWERED_LINE, ask, ask_resolver, first_address, upstream_count
from learn_dns.zone_data import load_zone_file
from tests.conftest import need_binary
from wirelab_common.server_cli import READY_LINE

pytestmark = [pytest.mark.differential, pytest.mark.timeout(90)]

# big.example.com's TXT records, counted in the zone file (too many for 512 bytes)
EXAMPLE = load_zone_file(Path(learn_dns.__file__).parent / "zones" / "example.com.zone")
BIG_RECORDS = sum(1 for rr in EXAMPLE.records() if str(rr.name) == "big.example.com." and rr.rtype == 16)


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
    assert out.count("record ") == BIG_RECORDS


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
    assert len(tcp.answer[0]) == BIG_RECORDS


def test_negative_answers_carry_the_soa_with_the_negative_ttl(internet):
    response = ask(internet.port, "nothing-here.example.com")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.authority[0].ttl <= 4  # min(SOA TTL 5, MINIMUM 4), RFC 2308 §5


def test_trace_command_prints_each_referral(internet):
    result = subprocess.run([sys.executable, "-m", "learn_dns.recursive.trace_dig", "www.example.com", "A",
                             "--url", f"udp://127.53.0.1:{internet.port}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    sent = [line for line in lines if line.startswith(">")]
    assert [line.split()[2] for line in sent] == ["127.53.0.1", "127.53.0.2", "127.53.0.3"] or \
        [line.split()[2] for line in sent][:2] == ["127.53.0.1", "127.53.0.2"]
    assert any("referral to com." in line for line in lines)
    assert any("referral to example.com." in line for line in lines)
    assert any("192.0.2.10" in line and line.startswith("=") for line in lines)


def test_a_client_outside_the_allow_list_is_refused(procs, internet):
    proc = procs.python("learn_dns.recursive.server", "--host", "127.53.0.54", "--port", str(internet.port),
                        "--root-hints", "127.53.0.1", "--allow", "127.53.0.0/24",
                        ready_line=READY_LINE.pattern)
    query = dns.message.make_query("www.example.com", "A")
    refused = dns.query.udp(query, "127.53.0.54", port=internet.port, timeout=6, source="127.0.0.1")
    assert refused.rcode() == dns.rcode.REFUSED
    allowed = dns.query.udp(query, "127.53.0.54", port=internet.port, timeout=6, source="127.53.0.77")
    assert allowed.rcode() == dns.rcode.NOERROR and allowed.answer
    proc.wait_line("not in --allow", timeout=10)  # printed before the answer; read by a thread


def test_a_cache_hit_echoes_the_question_exactly_as_asked(internet):
    # dig, not kdig: kdig lower-cases the name before sending it.
    binary = need_binary("dig", "dnsutils")
    for _ in range(5):  # bounded: the 5 s TTL may run out between the two queries on a loaded machine
        dig(binary, internet.port, "MAIL.EXAMPLE.COM", "A")  # this spelling is now in the answer cache
        start = internet.resolver.line_count()
        out = dig(binary, internet.port, "mAiL.eXaMpLe.CoM", "A")
        internet.resolver.wait_line(ANSWERED_LINE, timeout=10, start=start)
        if any("cache hit" in line for line in internet.resolver.output().splitlines()[start:]):
            break
    else:
        pytest.fail("the second query was never a wire-cache hit")
    question = [line for line in out.splitlines() if "IN" in line and line.lstrip("; ").lower().startswith(
        "mail.example.com")]
    assert question and all("mAiL.eXaMpLe.CoM." in line for line in question), out  # RFC 1035 §7.3
    assert "192.0.2.25" in out and "mismatch" not in out.lower()


@pytest.mark.parametrize("tool, package, args", [("dig", "dnsutils", ["+edns=1", "+noednsneg"]),
                                                 ("kdig", "knot-dnsutils", ["+edns=1"])])
def test_an_edns_version_1_query_gets_badvers_even_for_a_cached_name(internet, tool, package, args):
    ask_resolver(internet, "www.example.com")  # in both caches now
    out = dig(need_binary(tool, package), internet.port, "www.example.com", "A", *args)
    assert "BADVERS" in out and "192.0.2.10" not in out  # RFC 6891 §6.1.3
    assert ("EDNS: version: 0" if tool == "dig" else "Version: 0") in out  # the version we speak


def test_a_notimp_reply_carries_an_opt_record(internet):
    out = dig(need_binary("dig", "dnsutils"), internet.port, "www.example.com", "+opcode=status")
    assert "status: NOTIMP" in out and "OPT PSEUDOSECTION" in out  # RFC 6891 §7


@pytest.mark.parametrize("tool, package", [("dig", "dnsutils"), ("kdig", "knot-dnsutils")])
def test_a_truncated_reply_carries_an_opt_record(internet, tool, package):
    out = dig(need_binary(tool, package), internet.port, "big.example.com", "TXT", "+bufsize=512", "+ignore")
    flags = out.lower().split("flags:")[1].split(";")[0]
    assert " tc" in flags and "EDNS" in out and "1232" in out, out  # our OPT, our UDP size


def test_a_question_name_over_255_octets_gets_formerr_without_the_question(internet):
    # dig and kdig refuse to build such a name ("not a legal name"), so the packet is made by hand.
    long_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + b"\x00"  # 257 octets, RFC 1035 §2.3.4
    packet = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + long_name + b"\x00\x01\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(6)
        sock.sendto(packet, (RESOLVER_ADDRESS, internet.port))
        wire = sock.recv(65535)
    reply = dns.message.from_wire(wire)  # before the fix: NameTooLong, the echoed question
    assert reply.id == 0x4242 and reply.rcode() == dns.rcode.FORMERR and not reply.question


def authority_ttl(out: str) -> int:
    """The TTL of the SOA in dig's authority section."""
    return int(next(line.split()[1] for line in out.splitlines() if "\tSOA\t" in line or " SOA " in line))


def test_a_negative_answer_from_the_cache_counts_its_ttl_down(internet):
    binary = need_binary("dig", "dnsutils")
    for attempt in range(5):  # bounded: a loaded machine may let the 4 s negative TTL run out
        name = f"countdown{attempt}.example.com"
        started = time.monotonic()
        fresh = dig(binary, internet.port, name, "+noedns", "+noall", "+authority")  # iterates: TTL 4
        stored = time.monotonic()
        time.sleep(1.2)
        before = upstream_count(internet)
        asked = time.monotonic()
        # With EDNS: another wire key, so this one is built from the RRset cache's negative entry.
        second = dig(binary, internet.port, name, "+noall", "+authority")
        time.sleep(1.0)
        asked_again = time.monotonic()
        third = dig(binary, internet.port, name, "+noall", "+authority")  # the answer cache's copy
        if time.monotonic() - started < 3.5 and upstream_count(internet) == before:
            break
    else:
        pytest.fail("the negative answer kept expiring before it could be asked again")
    assert authority_ttl(fresh) == 4  # min(SOA TTL 5, MINIMUM 4), RFC 2308 §5
    # What is left of it (RFC 2308: a cached TTL counts down, negative ones too).
    assert authority_ttl(second) <= 4 - (asked - stored), second  # the RRset cache rounds down
    assert authority_ttl(third) <= 4 - (asked_again - stored) + 1, third  # the answer cache: whole seconds


def test_response_rate_limiting_is_off_by_default(internet):
    assert "rrl off" in internet.resolver.output()


@pytest.fixture
def rrl_resolver(procs, internet):
    """A resolver with RRL on: a burst of 2 UDP answers per client, then one every 20 s (so that no
    token comes back during a test), and every 2nd answer over the limit slips."""
    address = "127.53.0.57"
    procs.python("learn_dns.recursive.server", "--host", address, "--port", str(internet.port),
                 "--root-hints", "127.53.0.1", "--rrl", "0.05", "--rrl-burst", "2", "--rrl-slip", "2",
                 ready_line=READY_LINE.pattern)
    query = dns.message.make_query("www.example.com", "A")
    assert dns.query.tcp(query, address, port=internet.port, timeout=6).answer  # TCP: never limited
    return address


def test_with_rrl_a_burst_from_dig_is_still_answered_through_tcp_retries(internet, rrl_resolver, tmp_path):
    batch = tmp_path / "batch"
    batch.write_text("www.example.com A\n" * 8)
    result = subprocess.run([need_binary("dig", "dnsutils"), f"@{rrl_resolver}", "-p", str(internet.port),
                             "-f", str(batch), "+tries=2", "+time=1", "+noall", "+answer", "+comments"],
                            capture_output=True, text=True, timeout=60)
    out = result.stdout
    assert out.count("status: NOERROR") == 8 and out.count("192.0.2.10") == 8, out  # every one answered
    assert "REFUSED" not in out
    assert "Truncated, retrying in TCP mode" in out  # the slipped TC=1 replies


def test_with_rrl_answers_beyond_the_slip_are_dropped(internet, rrl_resolver):
    binary = need_binary("kdig", "knot-dnsutils")
    result = subprocess.run([binary, f"@{rrl_resolver}", "-p", str(internet.port), "+retry=0", "+time=1",
                             "+ignore", *["www.example.com"] * 6], capture_output=True, text=True, timeout=60)
    out = result.stdout + result.stderr
    answered = out.count("192.0.2.10")
    truncated = sum(1 for line in out.splitlines() if line.startswith(";; Flags: qr tc"))
    timeouts = out.count("response timeout")
    # The burst of 2, then slip, drop, slip, drop: kdig does not retry, so a drop is a timeout.
    assert (answered, truncated, timeouts) == (2, 2, 2), out
    assert "REFUSED" not in out
