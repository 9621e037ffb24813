"""RFC 2136 dynamic UPDATE: the pure core (update.py, nameserver.py) with dnspython-built messages.
BIND's ``nsupdate`` against the real server is in test_dns_update_nsupdate.py."""

from __future__ import annotations

import base64
import ipaddress
import itertools
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import pytest

import learn_dns
from learn_dns.message import Message
from learn_dns.names import Name
from learn_dns.nameserver import AuthoritativeServer
from learn_dns.notify import SendNotify
from learn_dns.tsig import BADKEY, BADSIG, BADTIME, Key
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.pure

ZONE_FILE = Path(learn_dns.__file__).parent / "zones" / "example.com.zone"
SERIAL = 2026112101
CLIENT = ("127.0.0.1", 5353)


def server(allow: str | None = "127.0.0.0/8", notify: tuple[str, ...] = ()) -> AuthoritativeServer:
    s = AuthoritativeServer([str(ZONE_FILE)], list(notify), Trace("t", quiet=True), False,
                            itertools.count(1).__next__)
    s.load_files()
    s.update_from = [ipaddress.ip_network(allow)] if allow else []
    s.clock = lambda: 100.0
    return s


def send(s: AuthoritativeServer, update: dns.message.Message, peer=CLIENT) -> int:
    (wire,) = s.answer(update.to_wire(), peer, False)
    # read the header by hand: dnspython refuses to parse a response echoing a malformed zone section
    assert int.from_bytes(wire[:2], "big") == update.id and (wire[2] >> 3) & 0xF == dns.opcode.UPDATE
    assert wire[2] & 0x80  # QR
    return wire[3] & 0xF


def txt(s: AuthoritativeServer, name: str) -> list[bytes]:
    zone = s.zones[Name.from_text("example.com")]
    return sorted(b"".join(rr.rdata.strings) for rr in zone.nodes.get(Name.from_text(name), {}).get(16, []))


def serial(s: AuthoritativeServer) -> int:
    return s.zones[Name.from_text("example.com")].serial


def test_add_then_delete_one_record_then_the_rrset_each_bumps_the_serial():
    s = server()
    u = dns.update.UpdateMessage("example.com")
    u.add("_acme-challenge.www", 60, "TXT", '"one"')
    u.add("_acme-challenge.www", 60, "TXT", '"two"')
    assert send(s, u) == dns.rcode.NOERROR
    assert txt(s, "_acme-challenge.www.example.com") == [b"one", b"two"] and serial(s) == SERIAL + 1
    u = dns.update.UpdateMessage("example.com")
    u.delete("_acme-challenge.www", "TXT", '"one"')
    assert send(s, u) == dns.rcode.NOERROR
    assert txt(s, "_acme-challenge.www.example.com") == [b"two"] and serial(s) == SERIAL + 2
    u = dns.update.UpdateMessage("example.com")
    u.delete("_acme-challenge.www", "TXT")
    assert send(s, u) == dns.rcode.NOERROR
    assert txt(s, "_acme-challenge.www.example.com") == [] and serial(s) == SERIAL + 3
    u = dns.update.UpdateMessage("example.com")
    u.delete("_acme-challenge.www", "TXT")  # nothing left to delete: no change, no new serial
    assert send(s, u) == dns.rcode.NOERROR and serial(s) == SERIAL + 3


def test_the_answer_to_a_query_changes_with_the_update():
    s = server()
    query = dns.message.make_query("new.example.com", "A").to_wire()
    before = dns.message.from_wire(s.answer(query, CLIENT, False)[0])
    u = dns.update.UpdateMessage("example.com")
    u.add("new", 30, "A", "192.0.2.77")
    assert send(s, u) == dns.rcode.NOERROR
    after = dns.message.from_wire(s.answer(query, CLIENT, False)[0])
    assert before.rcode() == dns.rcode.NXDOMAIN
    assert after.rcode() == dns.rcode.NOERROR and after.answer[0][0].to_text() == "192.0.2.77"


@pytest.mark.parametrize("prerequisite, rcode", [
    (lambda u: u.present("nothere"), dns.rcode.NXDOMAIN),
    (lambda u: u.absent("www"), dns.rcode.YXDOMAIN),
    (lambda u: u.present("www", "TXT"), dns.rcode.NXRRSET),
    (lambda u: u.absent("www", "A"), dns.rcode.YXRRSET),
    (lambda u: u.present("www", "A", "192.0.2.99"), dns.rcode.NXRRSET),
])
def test_a_failing_prerequisite_gives_its_rcode_and_changes_nothing(prerequisite, rcode):
    s = server()
    u = dns.update.UpdateMessage("example.com")
    prerequisite(u)
    u.add("added", 30, "A", "192.0.2.1")
    assert send(s, u) == rcode
    assert serial(s) == SERIAL
    assert Name.from_text("added.example.com") not in s.zones[Name.from_text("example.com")].nodes


def test_prerequisites_that_hold_let_the_update_through():
    s = server()
    u = dns.update.UpdateMessage("example.com")
    u.present("www")
    u.present("www", "A", "192.0.2.10")
    u.absent("added")
    u.add("added", 30, "A", "192.0.2.1")
    assert send(s, u) == dns.rcode.NOERROR and serial(s) == SERIAL + 1


def test_refusals_notauth_notzone_formerr():
    s = server()
    other = dns.update.UpdateMessage("example.net")
    other.add("x", 30, "A", "192.0.2.1")
    assert send(s, other) == dns.rcode.NOTAUTH
    outside = dns.update.UpdateMessage("example.com")
    outside.add(dns.name.from_text("x.example.net."), 30, "A", "192.0.2.1")
    assert send(s, outside) == dns.rcode.NOTZONE
    two_zones = dns.update.UpdateMessage("example.com")
    two_zones.question.append(two_zones.question[0])
    assert send(s, two_zones) == dns.rcode.FORMERR
    refused = dns.update.UpdateMessage("example.com")
    refused.add("x", 30, "A", "192.0.2.1")
    assert send(s, refused, peer=("192.0.2.50", 53)) == dns.rcode.REFUSED
    assert send(server(allow=None), refused) == dns.rcode.REFUSED  # the default: nobody
    assert serial(s) == SERIAL


def test_the_apex_keeps_its_soa_and_last_ns_and_a_lower_soa_serial_is_ignored():
    s = server()
    u = dns.update.UpdateMessage("example.com")
    u.delete("@")  # every RRset at the apex: the SOA and NS stay (RFC 2136 §3.4.2.3)
    u.delete("@", "NS", "ns1.example.com.")
    u.delete("@", "NS", "ns2.example.com.")  # the last NS: kept
    assert send(s, u) == dns.rcode.NOERROR
    apex = s.zones[Name.from_text("example.com")].nodes[Name.from_text("example.com")]
    assert set(apex) == {6, 2} and len(apex[2]) == 1 and serial(s) == SERIAL + 1
    low = dns.update.UpdateMessage("example.com")
    low.add("@", 5, "SOA", "ns1.example.com. hostmaster.example.com. 5 3 1 600 4")
    assert send(s, low) == dns.rcode.NOERROR and serial(s) == SERIAL + 1


def test_a_change_is_announced_to_the_secondaries_by_notify():
    s = server(notify=("127.53.0.4",))
    u = dns.update.UpdateMessage("example.com")
    u.add("x", 30, "A", "192.0.2.1")
    assert send(s, u) == dns.rcode.NOERROR
    sends = [a for a in s.take_actions() if isinstance(a, SendNotify)]
    assert [(a.target, a.serial) for a in sends] == [("127.53.0.4", SERIAL + 1)]


def test_the_codec_reads_empty_rdata_of_class_any_and_none_only_in_updates():
    u = dns.update.UpdateMessage("example.com")
    u.delete("www", "A")
    u.absent("gone", "AAAA")
    m = Message.from_wire(u.to_wire())
    assert [(rr.rclass, rr.rtype) for rr in m.authority] == [(255, 1)]
    assert [(rr.rclass, rr.rtype) for rr in m.answers] == [(254, 28)]


SECRET = base64.b64encode(b"a shared secret of 32 bytes.....").decode()
KEYRING = dns.tsigkeyring.from_text({"acme-key.": ("hmac-sha256", SECRET)})


def signed_update(keyring, name) -> dns.update.UpdateMessage:
    return dns.update.UpdateMessage("example.com", keyring=keyring, keyname=name, keyalgorithm="hmac-sha256")


def tsig_server() -> AuthoritativeServer:
    s = server(allow=None)  # no address is allowed: only the key
    s.tsig_keys = {Name.from_text("acme-key"): Key.from_text(f"acme-key:{SECRET}")}
    return s


def test_a_tsig_signed_update_is_applied_and_the_answer_is_signed_so_dnspython_accepts_it():
    s = tsig_server()
    u = signed_update(KEYRING, "acme-key.")
    u.add("signed", 30, "TXT", '"by key"')
    (wire,) = s.answer(u.to_wire(), ("192.0.2.9", 53), False)  # from an address nobody allowed
    response = dns.message.from_wire(wire, keyring=KEYRING, request_mac=u.mac)  # raises if the MAC is wrong
    assert response.rcode() == dns.rcode.NOERROR and response.had_tsig
    assert txt(s, "signed.example.com") == [b"by key"]


@pytest.mark.parametrize("keyring, error", [
    (dns.tsigkeyring.from_text({"acme-key.": ("hmac-sha256", base64.b64encode(b"x" * 32).decode())}), BADSIG),
    (dns.tsigkeyring.from_text({"other-key.": ("hmac-sha256", SECRET)}), BADKEY),
])
def test_a_wrong_secret_or_an_unknown_key_is_notauth_with_the_tsig_error(keyring, error):
    s = tsig_server()
    name = next(iter(keyring))
    u = signed_update(keyring, name)
    u.add("signed", 30, "TXT", '"by key"')
    (wire,) = s.answer(u.to_wire(), CLIENT, False)
    assert wire[3] & 0xF == dns.rcode.NOTAUTH and serial(s) == SERIAL
    assert dns.message.from_wire(wire, keyring=False).tsig_error == error  # keyring=False: read, no check


def test_a_signature_from_too_long_ago_is_badtime():
    s = tsig_server()
    s.wall_clock = lambda: time.time() + 3600  # our clock an hour ahead of the signer's
    u = signed_update(KEYRING, "acme-key.")
    u.add("signed", 30, "TXT", '"late"')
    (wire,) = s.answer(u.to_wire(), CLIENT, False)
    assert wire[3] & 0xF == dns.rcode.NOTAUTH and serial(s) == SERIAL
    assert dns.message.from_wire(wire, keyring=False).tsig_error == BADTIME


def test_a_malformed_tsig_is_formerr_and_the_server_goes_on():
    s = tsig_server()
    u = signed_update(KEYRING, "acme-key.")
    u.add("signed", 30, "TXT", '"x"')
    wire = bytearray(u.to_wire())
    # cut the TSIG RDATA short inside its fixed fields, keeping RDLENGTH consistent
    offset = len(wire) - (len(wire) - wire.rindex(b"\x0bhmac-sha256\x00")) - 2
    rdlength = len(b"\x0bhmac-sha256\x00") + 4
    bad = bytes(wire[:offset]) + rdlength.to_bytes(2, "big") + b"\x0bhmac-sha256\x00" + b"\0" * 4
    (answer,) = s.answer(bad, CLIENT, False)
    assert answer[3] & 0xF == dns.rcode.FORMERR and serial(s) == SERIAL
    u2 = signed_update(KEYRING, "acme-key.")
    u2.add("signed", 30, "TXT", '"x"')
    assert send(s, u2) == dns.rcode.NOERROR
