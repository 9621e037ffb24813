"""Robustness of the codec: 100,000 malformed packets decode or raise FormatError, nothing else.

The packets are mutations of valid queries and responses (cut short, bytes
flipped, counts changed, compression pointers aimed at themselves or
forward, label lengths over 63, names over 255 bytes) and plain random
bytes.  The RNG is seeded: a failure names its packet and can be replayed.
What the codec decodes must encode and decode back to the same message.
``test_dns_fuzz.py`` throws the same packets at running servers.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

import dns.message
import dns.rrset
import pytest

from learn_dns.message import Message
from learn_dns.wire import FormatError

pytestmark = pytest.mark.pure


def seeds() -> list[bytes]:
    """Valid messages to mutate: queries (with and without EDNS) and compressed responses."""
    out = []
    for name, rtype in (("www.example.com", "A"), ("example.com", "MX"), ("big.example.com", "TXT")):
        out.append(dns.message.make_query(name, rtype).to_wire())
        out.append(dns.message.make_query(name, rtype, use_edns=0, want_dnssec=True).to_wire())
    response = dns.message.make_response(dns.message.make_query("www.example.com", "A", use_edns=0))
    response.answer.append(dns.rrset.from_text("www.example.com.", 5, "IN", "A", "192.0.2.10"))
    response.authority.append(dns.rrset.from_text("example.com.", 8, "IN", "NS", "ns1.example.com."))
    response.additional.append(dns.rrset.from_text("example.com.", 5, "IN", "MX", "10 mail.example.com."))
    response.additional.append(dns.rrset.from_text(
        "example.com.", 5, "IN", "SOA", "ns1.example.com. h.example.com. 1 2 3 4 5"))
    out.append(response.to_wire())
    return out


def mutations(rng: random.Random, count: int) -> Iterator[bytes]:
    """``count`` malformed (or accidentally valid) packets, reproducibly."""
    base = seeds()
    for _ in range(count):
        packet = bytearray(rng.choice(base))
        kind = rng.randrange(8)
        if kind == 0:      # cut short
            del packet[rng.randrange(len(packet)):]
        elif kind == 1:    # a few bytes flipped
            for _ in range(rng.randint(1, 4)):
                packet[rng.randrange(len(packet))] = rng.randrange(256)
        elif kind == 2:    # counts that lie
            struct.pack_into("!H", packet, rng.choice((4, 6, 8, 10)), rng.choice((0, 1, 2, 3, 0xFFFF)))
        elif kind == 3:    # a compression pointer to itself or forward, inside a name
            at = rng.randrange(12, len(packet) - 1)
            target = at + rng.choice((0, 0, 2, 40))
            packet[at:at + 2] = struct.pack("!H", 0xC000 | (target & 0x3FFF))
        elif kind == 4:    # a label length over 63 (reserved label types 01 and 10)
            packet[12] = rng.randrange(64, 192)
        elif kind == 5:    # a name over 255 bytes
            packet[12:12] = (b"\x3f" + b"x" * 63) * 4
        elif kind == 6:    # random bytes, random length
            packet = bytearray(rng.randbytes(rng.randrange(0, 120)))
        else:              # junk appended
            packet += rng.randbytes(rng.randint(1, 20))
        yield bytes(packet)


def test_the_codec_decodes_or_raises_format_error_for_100k_malformed_packets():
    rng = random.Random(1035)
    decoded = rejected = 0
    for i, packet in enumerate(mutations(rng, 100_000)):
        try:
            message = Message.from_wire(packet)
        except FormatError:
            rejected += 1
            continue
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"packet #{i} {packet.hex()} raised {exc!r}, not FormatError")
        decoded += 1
        assert Message.from_wire(message.to_wire()) == message, f"packet #{i} {packet.hex()}"
    assert rejected > 50_000 and decoded > 5_000  # both paths were really exercised


