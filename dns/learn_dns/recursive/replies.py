"""The resolver's replies made without resolving: errors, REFUSED, TC=1, and the client's UDP size.

Reading order: with ``server.py``, which sends them (its steps 0-2 and 5).
"""

from __future__ import annotations

import struct

import dns.message

from .cache import opt_after, question_end
from .upstream import EDNS_PAYLOAD


def refuse(query: bytes, rcode: int) -> bytes:
    """A response made from the query's bytes alone: header, question, OPT; QR set, ``rcode``.

    For queries that did not parse, or were never parsed (the fast path).  The
    question is echoed only if it is a valid one (``cache.question_end``): an
    echoed 300-octet "name" would make the reply unparseable too.  If an OPT
    record follows it, the reply carries ours (RFC 6891 §7).
    """
    qid, flags, qdcount = struct.unpack_from("!HHH", query)
    end = 12 if qdcount == 0 else question_end(query)
    opt = opt_after(query, end) if end is not None else None
    flags = 0x8000 | (flags & 0x7900) | 0x0080 | (rcode & 0xF)  # QR, keep opcode+RD, RA, rcode
    questions = 1 if end is not None and end > 12 else 0
    response = struct.pack("!HHHHHH", qid, flags, questions, 0, 0, 0 if opt is None else 1)
    response += query[12:end] if questions else b""
    if opt is not None:  # root owner, TYPE OPT, our UDP size, extended rcode, version 0, no options
        response += b"\x00\x00\x29" + struct.pack("!HIH", EDNS_PAYLOAD, (rcode >> 4) << 24, 0)
    return response


def truncated(query: bytes) -> bytes:
    """An empty response with TC=1: "ask me again over TCP" (RFC 1035 §4.2.1, RFC 7766 §5);
    also what a rate-limited client gets when its answer *slips*."""
    response = bytearray(refuse(query, 0))
    response[2] |= 0x02  # TC
    return bytes(response)


def error_response(query: dns.message.Message, rcode: int) -> bytes:
    """An empty response with ``rcode`` to a query that parsed: question echoed, RA set, and an
    OPT (version 0) if the query had one, which also carries a BADVERS's upper rcode bits."""
    response = dns.message.make_response(query, recursion_available=True, our_payload=EDNS_PAYLOAD)
    response.set_rcode(rcode)
    return response.to_wire(max_size=65535)


def client_limit(query: bytes, question_end: int) -> int:
    """The client's UDP buffer: 512 without EDNS, the OPT record's size (at most ours) with it.

    ``question_end`` is where the question ends; an OPT record there starts with
    the root name (one zero byte), then TYPE 41, then CLASS = the buffer size (RFC 6891 §6.1.2).
    """
    opt = question_end
    if len(query) >= opt + 5 and query[opt] == 0 and query[opt + 1:opt + 3] == b"\x00\x29":
        return min(max(struct.unpack_from("!H", query, opt + 3)[0], 512), EDNS_PAYLOAD)
    return 512
