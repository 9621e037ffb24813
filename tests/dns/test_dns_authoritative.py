"""The authoritative servers against real clients: dig and kdig over UDP and TCP.

One small internet is started once for the module (root, com+net, the
example.com primary and its secondary), every server on its own loopback
address and all on one free port.  Tests that change zone data start their
own pair on another port.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.opcode
import dns.query
import dns.rcode
import pytest

import learn_dns
from learn_dns.zone_data import load_zone_file
from tests.conftest import need_binary
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, start_process
from wirelab_common.processes import start_server as start_wirelab_server
from wirelab_common.server_cli import READY_LINE
from wirelab_common.waiting import eventually

pytestmark = pytest.mark.differential

ZONES = Path(learn_dns.__file__).parent / "zones"
ROOT, TLD, PRIMARY, SECONDARY = "127.53.0.1", "127.53.0.2", "127.53.0.3", "127.53.0.4"
READY = READY_LINE.pattern


def example_zone():
    return load_zone_file(ZONES / "example.com.zone")


def zone_rrset(owner: str, rtype: int) -> list:
    """The records of ``owner`` and ``rtype`` in example.com.zone (the file decides how many)."""
    return [rr for rr in example_zone().records() if str(rr.name) == owner and rr.rtype == rtype]


def start_server(address: str, port: int, *args: str) -> ManagedProcess:
    argv = [sys.executable, "-m", "learn_dns.authoritative", "--host", address, "--port", str(port),
            "--seed", "1", *args]
    if port == 0:  # alone: the ready line names the port
        return start_wirelab_server(argv, name=f"auth-{address}", timeout=30)
    return start_process(argv, name=f"auth-{address}", ready_line=READY, timeout=30)


@pytest.fixture(scope="module")
def internet(tmp_path_factory):
    """port -> the four servers of the module, zone files copied to a temporary directory."""
    zones = tmp_path_factory.mktemp("zones")
    for path in ZONES.glob("*.zone"):
        shutil.copy(path, zones / path.name)
    port = free_port("127.53.0.1")
    servers = []
    try:
        servers.append(start_server(ROOT, port, "--zone", str(zones / "root.zone")))
        servers.append(start_server(TLD, port, "--zone", str(zones / "com.zone"),
                                    "--zone", str(zones / "net.zone")))
        servers.append(start_server(PRIMARY, port, "--zone", str(zones / "example.com.zone"),
                                    "--notify", SECONDARY))
        servers.append(start_server(SECONDARY, port, "--secondary", f"example.com.={PRIMARY}"))
        yield port
    finally:
        for server in reversed(servers):
            server.stop()


@dataclass
class Answer:
    """What dig or kdig printed, split into the parts the tests look at."""

    status: str = ""
    flags: set[str] = field(default_factory=set)
    edns: bool = False
    sections: dict[str, list[list[str]]] = field(default_factory=dict)
    text: str = ""

    def records(self, section: str) -> list[list[str]]:
        return self.sections.get(section, [])


def parse(text: str) -> Answer:
    answer = Answer(text=text)
    section = ""
    for line in text.splitlines():
        if m := re.search(r"status: (\w+)", line):
            answer.status = m.group(1)
        elif m := re.match(r";; [Ff]lags: ([^;]*);", line):
            answer.flags = set(m.group(1).split())
        elif "EDNS: version: 0" in line or line.startswith(";; EDNS PSEUDOSECTION"):
            answer.edns = True
        elif m := re.match(r";; (\w+) SECTION:", line):
            section = m.group(1).lower()
        elif line and not line.startswith(";") and section:
            answer.sections.setdefault(section, []).append(line.split())
    return answer


def dig(server: str, port: int, *args: str, tool: str = "dig") -> Answer:
    path = need_binary(tool, "dnsutils" if tool == "dig" else "knot-dnsutils")
    timing = ["+time=3", "+tries=2"] if tool == "dig" else ["+time=3", "+retry=1"]
    result = subprocess.run([path, f"@{server}", "-p", str(port), *timing, *args],
                            capture_output=True, text=True, timeout=30)
    return parse(result.stdout)


@pytest.fixture(params=["dig", "kdig"])
def tool(request):
    return request.param


def test_a_question_over_udp_gets_an_authoritative_answer(internet, tool):
    answer = dig(PRIMARY, internet, "www.example.com", "A", "+norec", tool=tool)
    assert answer.status == "NOERROR" and "aa" in answer.flags
    assert [r[-1] for r in answer.records("answer")] == ["192.0.2.10"]


def test_the_same_question_over_tcp_gets_the_same_answer(internet, tool):
    answer = dig(PRIMARY, internet, "www.example.com", "AAAA", "+tcp", tool=tool)
    assert answer.status == "NOERROR" and "aa" in answer.flags
    assert [r[-1] for r in answer.records("answer")] == ["2001:db8::10"]


def test_norec_is_echoed_and_recursion_is_never_offered(internet):
    answer = dig(PRIMARY, internet, "www.example.com", "+norec")
    assert "rd" not in answer.flags and "ra" not in answer.flags
    answer = dig(PRIMARY, internet, "www.example.com")
    assert "rd" in answer.flags and "ra" not in answer.flags


def test_edns_is_answered_with_an_opt_record_and_plain_dns_without(internet):
    assert dig(PRIMARY, internet, "www.example.com").edns
    assert not dig(PRIMARY, internet, "www.example.com", "+noedns").edns


def test_a_big_answer_over_512_byte_udp_is_truncated(internet):
    answer = dig(PRIMARY, internet, "big.example.com", "TXT", "+bufsize=512", "+ignore")
    assert "tc" in answer.flags and answer.records("answer") == []
    answer = dig(PRIMARY, internet, "big.example.com", "TXT", "+noedns", "+ignore")
    assert "tc" in answer.flags


def test_dig_retries_a_truncated_answer_over_tcp_and_gets_it_all(internet, tool):
    answer = dig(PRIMARY, internet, "big.example.com", "TXT", "+bufsize=512", tool=tool)
    assert "tc" not in answer.flags
    assert len(answer.records("answer")) == len(zone_rrset("big.example.com.", 16))
    if tool == "dig":
        assert "Truncated, retrying in TCP mode" in answer.text


def test_axfr_from_the_primary_sends_the_whole_zone_between_two_soas(internet, tool):
    answer = dig(PRIMARY, internet, "example.com", "AXFR", tool=tool)
    records = [r for r in answer.text.splitlines() if r and not r.startswith(";")]
    types = [r.split()[3] for r in records]
    assert types[0] == types[-1] == "SOA" and types.count("SOA") == 2
    assert len(records) == len(example_zone()) + 1  # every record, then the closing SOA


def test_a_missing_name_is_nxdomain_with_the_soa_and_its_negative_ttl(internet, tool):
    answer = dig(PRIMARY, internet, "nope.example.com", "A", tool=tool)
    assert answer.status == "NXDOMAIN" and "aa" in answer.flags
    soa = answer.records("authority")
    assert soa[0][3] == "SOA" and soa[0][1] == "4"   # min(SOA TTL 5, MINIMUM 4)


def test_an_existing_name_without_the_type_is_nodata_with_the_soa(internet):
    answer = dig(PRIMARY, internet, "www.example.com", "MX")
    assert answer.status == "NOERROR" and answer.records("answer") == []
    assert answer.records("authority")[0][3] == "SOA"


def test_a_name_outside_our_zones_is_refused(internet, tool):
    assert dig(PRIMARY, internet, "www.example.org", "A", tool=tool).status == "REFUSED"


def test_the_root_refers_to_the_tld_with_glue(internet, tool):
    answer = dig(ROOT, internet, "www.example.com", "A", "+norec", tool=tool)
    assert answer.status == "NOERROR" and "aa" not in answer.flags and answer.records("answer") == []
    assert [r[-1] for r in answer.records("authority")] == ["a.gtld-servers.net."]
    glue = answer.records("additional")[0]
    assert [glue[0], glue[3], glue[4]] == ["a.gtld-servers.net.", "A", "127.53.0.2"]


def test_the_tld_refers_to_the_zones_servers_with_glue(internet, tool):
    answer = dig(TLD, internet, "www.example.com", "A", "+norec", tool=tool)
    assert "aa" not in answer.flags
    assert sorted(r[-1] for r in answer.records("authority")) == ["ns1.example.com.", "ns2.example.com."]
    assert sorted(r[-1] for r in answer.records("additional") if r[3] == "A") == ["127.53.0.3", "127.53.0.4"]


def test_a_cname_is_followed_inside_the_zone(internet):
    answer = dig(PRIMARY, internet, "ftp.example.com", "A")
    assert [r[3] for r in answer.records("answer")] == ["CNAME", "A"]


def test_the_secondary_answers_from_its_transferred_copy(internet, tool):
    answer = dig(SECONDARY, internet, "_validation-persist.example.com", "TXT", tool=tool)
    assert "aa" in answer.flags
    assert "accounturi=https://acme.example/acct/123" in answer.text


def test_the_qname_comes_back_in_the_case_it_was_sent(internet):
    for name in ("www.example.com.", "WwW.ExAmPlE.cOm."):  # the second is answered from the cache
        query = dns.message.make_query(name, "A")
        response = dns.query.udp(query, PRIMARY, port=internet, timeout=6)
        assert response.question[0].name.to_text() == name and response.id == query.id


def test_a_tcp_connection_carries_several_queries_answered_in_order(internet):
    names = ("www.example.com", "mail.example.com", "nope.example.com")
    queries = [dns.message.make_query(n, "A") for n in names]
    with socket.create_connection((PRIMARY, internet), timeout=5) as sock:
        sock.sendall(b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in queries)))
        reader = sock.makefile("rb")
        for query in queries:
            size = struct.unpack("!H", reader.read(2))[0]
            response = dns.message.from_wire(reader.read(size))
            assert response.id == query.id and response.question == query.question


def udp_exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(data, (PRIMARY, port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def test_a_malformed_query_gets_formerr_and_the_server_keeps_answering(internet):
    loop = b"\x03www\xc0\x0c\x00\x01\x00\x01"  # the QNAME points back to itself
    bad = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + loop
    response = udp_exchange(internet, bad)
    assert response is not None and response[:2] == b"\x12\x34" and response[3] & 0xF == dns.rcode.FORMERR
    assert udp_exchange(internet, b"\x00\x01\x02", timeout=0.3) is None  # no header: dropped
    assert dig(PRIMARY, internet, "www.example.com").status == "NOERROR"


def edit_zone(path: Path, serial: int, www: str) -> None:
    text = re.sub(r"\d{10}(\s*; serial)", rf"{serial}\1", path.read_text())
    path.write_text(re.sub(r"192\.0\.2\.\d+(\n)", rf"{www}\1", text, count=1))


@pytest.mark.parametrize("loop", ["auto", "asyncio"])  # NOTIFY leaves through the UDP socket's drain
def test_the_secondary_follows_the_primary_after_sighup_and_notify(tmp_path, loop):
    zone = tmp_path / "example.com.zone"
    shutil.copy(ZONES / "example.com.zone", zone)
    port = free_port("127.53.0.3")
    loop_args = ("--loop", loop)
    with start_server(PRIMARY, port, "--zone", str(zone), "--notify", SECONDARY, *loop_args) as primary, \
            start_server(SECONDARY, port, "--secondary", f"example.com.={PRIMARY}", *loop_args) as secondary:
        assert [r[-1] for r in dig(SECONDARY, port, "www.example.com").records("answer")] == ["192.0.2.10"]
        edit_zone(zone, 2026112102, "192.0.2.99")
        primary.signal(signal.SIGHUP)
        # NOTIFY makes it quick; the 3 s refresh would do it anyway
        eventually(lambda: [r[-1] for r in dig(SECONDARY, port, "www.example.com").records("answer")]
                   == ["192.0.2.99"], 10, "the secondary answers the new address")
        primary.wait_line(r"NOTIFY acknowledged by 127\.53\.0\.4")
        secondary.wait_line(r"NOTIFY example\.com\. from 127\.53\.0\.3")
        secondary.wait_line(r"serial 2026112101 -> 2026112102")


def test_a_broken_zone_file_on_reload_keeps_the_old_copy(tmp_path):
    zone = tmp_path / "example.com.zone"
    shutil.copy(ZONES / "example.com.zone", zone)
    with start_server(PRIMARY, 0, "--zone", str(zone)) as primary:
        port = primary.port
        zone.write_text("this is not a zone file\n")
        primary.signal(signal.SIGHUP)
        primary.wait_line("reload failed, keeping the old copy")
        assert dig(PRIMARY, port, "www.example.com").status == "NOERROR"


def test_an_unknown_edns_version_is_answered_badvers(internet):
    query = dns.message.make_query("www.example.com", "A", use_edns=1)
    response = dns.query.udp(query, PRIMARY, port=internet, timeout=6)
    assert response.rcode() == dns.rcode.BADVERS and response.edns == 0


def test_a_notify_from_anyone_but_the_primary_is_refused(internet):
    notify = dns.message.make_query("example.com.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    response = dns.query.udp(notify, SECONDARY, port=internet, timeout=6)  # sent from 127.0.0.1
    assert response.opcode() == dns.opcode.NOTIFY and response.rcode() == dns.rcode.REFUSED


def test_ixfr_is_answered_with_the_whole_zone(internet):
    answer = dig(PRIMARY, internet, "example.com", "IXFR=2026112100")
    records = [r for r in answer.text.splitlines() if r and not r.startswith(";")]
    assert len(records) == len(example_zone()) + 1
    assert records[0].split()[3] == records[-1].split()[3] == "SOA"


def test_a_secondary_started_before_its_primary_retries_until_it_has_a_copy(tmp_path):
    port = free_port("127.53.0.4")
    argv = [sys.executable, "-m", "learn_dns.authoritative", "--host", SECONDARY, "--port", str(port),
            "--secondary", f"example.com.={PRIMARY}"]
    with start_process(argv, name="early-secondary") as secondary:  # no ready wait: its primary is not up
        secondary.wait_line(r"refresh of example\.com\. from 127\.53\.0\.3 failed")
        with start_server(PRIMARY, port, "--zone", str(ZONES / "example.com.zone")):
            secondary.wait_line(r"serving example\.com\. over udp\+tcp", timeout=15)
            secondary.wait_line(READY, timeout=5)
            assert dig(SECONDARY, port, "www.example.com").status == "NOERROR"
