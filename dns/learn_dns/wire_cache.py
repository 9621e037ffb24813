"""Speed beside the lesson: answers kept as ready-made wire bytes, keyed by the question's bytes.

Reading order: after ``nameserver.py`` (the plain path this module stands in
front of) and ``authoritative.py`` (which picks it: ``--cache fast``, the
default, both levels and ``udp_batch.py``'s socket; ``--cache question``, the
question level only; ``--cache off``, the plain path alone).  Nothing here
changes an answer: :class:`CachedAnswers` must return exactly the bytes
``AuthoritativeServer.answer`` returns for the same message
(``tests/dns/test_dns_wire_cache.py`` compares them on thousands of queries:
letter case, flags, EDNS, malformed ones; ``test_dns_udp_batch.py`` does it
over UDP).  It exists because the benchmark needs it: the plain path decodes,
looks up and encodes in Python for every query (about a third of unbound's
rate; the README's table).

An authoritative server's answer depends on nothing but the question and
the zone data.  So the first time a question comes, the server decodes it,
runs the RFC 1034 lookup (``answers.py``) and encodes the response; it keeps
the *bytes*.  Every later query for the same question is answered by copying
those bytes and patching what differs per query:

- bytes 0-1: the query's ID;
- the RD and CD bits, copied from the query (RFC 1035 §4.1.1, RFC 4035 §3.2.2);
- the QNAME bytes, copied from the query so its letter case comes back as
  sent (resolvers randomize case as extra protection against spoofing, the
  "0x20" trick, and check the echo).  Lengths are equal, so every
  compression pointer into the question stays valid.

The key is the question section's bytes with the QNAME lowercased (names are
case-insensitive, §2.3.3; only the name: QTYPE 65 is 0x41, "A" in ASCII, and
must not be lowercased), plus whether EDNS came and with which DO bit, because
those change the bytes of the response (the OPT record).  The requester's UDP
size is *not* in the key: each entry keeps two forms, the full response and
its truncated (TC) form, and the size picks one at send time.

A level in front of that needs no parsing at all (the "folded" level, the
fast path's): the bytes of a UDP query after its ID, with every letter
folded to lower case, find an entry that says where the QNAME ends, what
the rest of the query must be *exactly* (header bytes 2-11, and everything
after the QNAME: QTYPE, QCLASS, the OPT record), and the answer's bytes
around the question.  If the query's bytes outside its QNAME are those,
the query differs from the one that filled the entry in letter case inside
the QNAME only, so the answer is ``ID + answer header + the query's own
QNAME bytes + the rest of the answer``: two slices compared, three joined.
(Folding cannot mix up anything else: a length byte is at most 63, below
every letter, so two queries that fold alike have their labels at the same
places, and every byte outside the QNAME is compared exactly.)  Letter case
chosen at random per query (dns-0x20) and a new ID per query both hit it.

To find the key no object is built: :func:`parse_question` checks the header
and walks the QNAME's length bytes.  Anything unusual (compression in the
question, another opcode, extra records, an OPT we must inspect) returns None
and the query takes the slow path: the full codec and ``answers.respond``.

The cache is emptied whenever zone data changes (reload, transfer), and when
it reaches :data:`MAX_ENTRIES` (questions for random names would otherwise
grow it without end).  A production server would bound it by memory and
evict the least used entries instead of starting over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .answers import respond
from .message import Message
from .wire import FormatError

if TYPE_CHECKING:
    from .nameserver import AuthoritativeServer

MAX_ENTRIES = 20_000
NO_EDNS = b"-"
EDNS_DO_CLEAR = b"e"
EDNS_DO_SET = b"d"
ZONE_TRANSFERS = (251, 252)  # IXFR, AXFR: a stream of messages, never cached


def parse_question(data: bytes) -> tuple[bytes, int, int] | None:
    """For a plain one-question query: (cache key, end of QNAME, UDP size limit); else None.

    Accepted shape: QR=0, opcode QUERY, QDCOUNT=1, ANCOUNT=NSCOUNT=0, ARCOUNT
    0 or 1 (an OPT of version 0 with well-formed options), uncompressed QNAME,
    QTYPE not a zone transfer, nothing after.
    """
    size = len(data)
    if size < 17 or data[2] & 0xF8 or data[4:10] != b"\x00\x01\x00\x00\x00\x00" or data[10]:
        return None
    arcount = data[11]
    pos = 12
    while True:
        n = data[pos]
        if n == 0:
            break
        if n > 63:
            return None
        pos += n + 1
        if pos >= size:
            return None
    name_end = pos + 1
    end = name_end + 4
    if end > size or (data[name_end] == 0 and data[name_end + 1] in ZONE_TRANSFERS):
        return None
    key = data[12:name_end].lower() + data[name_end:end]
    if arcount == 0:
        return (key + NO_EDNS, name_end, 512) if end == size else None
    # One additional record: it must be a version-0 OPT owned by the root (RFC 6891 §6.1).
    if arcount != 1 or end + 11 > size:
        return None
    if data[end:end + 3] != b"\x00\x00\x29" or data[end + 5:end + 7] != b"\x00\x00":
        return None
    payload = (data[end + 3] << 8) | data[end + 4]
    rdlength = (data[end + 9] << 8) | data[end + 10]
    pos = end + 11
    if pos + rdlength != size:
        return None
    while pos < size:  # options: 4-byte header + data each, exactly filling RDATA
        if pos + 4 > size:
            return None
        pos += 4 + ((data[pos + 2] << 8) | data[pos + 3])
    if pos != size:
        return None
    flag = EDNS_DO_SET if data[end + 7] & 0x80 else EDNS_DO_CLEAR
    return key + flag, name_end, max(payload, 512)


def patch(cached: bytes, query: bytes, name_end: int) -> bytes:
    """``cached`` with the query's ID, RD and CD bits, and QNAME bytes (see the module docstring)."""
    flags = bytes((cached[2] | (query[2] & 0x01), cached[3] | (query[3] & 0x10)))
    return query[:2] + flags + cached[4:12] + query[12:name_end] + cached[name_end:]


Folded = tuple[int, bytes, bytes, bytes, bytes]  # name end, query header, query tail, answer header, tail


class WireCache:
    """Two levels of ready-made answers.

    ``entries``: question key -> (full response, truncated response), both
    with ID 0 and RD/CD clear, patched per query (see the module docstring).

    ``folded``: UDP query bytes after the ID, letters folded to lower case ->
    (end of QNAME, query bytes 2-11, query bytes after the QNAME, answer bytes
    2-11, answer bytes after the QNAME); :meth:`answer_folded` reads it.
    """

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.entries: dict[bytes, tuple[bytes, bytes]] = {}
        self.folded: dict[bytes, Folded] = {}
        self.max_entries = max_entries

    def get(self, key: bytes) -> tuple[bytes, bytes] | None:
        return self.entries.get(key)

    def put(self, key: bytes, full: bytes, truncated: bytes) -> None:
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[key] = (full, truncated)

    def put_folded(self, query: bytes, name_end: int, response: bytes) -> None:
        """Remember ``response``, the UDP answer to ``query``, for every letter case of its QNAME."""
        if len(self.folded) >= self.max_entries:
            self.folded.clear()
        self.folded[query[2:].lower()] = (name_end, query[2:12], query[name_end:], response[2:12],
                                          response[name_end:])

    def answer_folded(self, data: bytes) -> bytes | None:
        """The UDP answer to ``data`` from the folded level, or None (see the module docstring)."""
        entry = self.folded.get(data[2:].lower())
        if entry is None:
            return None
        name_end, head, tail, answer_head, answer_tail = entry
        if data[name_end:] != tail or data[2:12] != head:
            return None  # a letter outside the QNAME differs in case: another question
        return data[:2] + answer_head + data[12:name_end] + answer_tail

    def clear(self) -> None:
        """Zone data changed: forget every answer (the dicts stay the same objects)."""
        self.entries.clear()
        self.folded.clear()


class CachedAnswers:
    """``answer(data, peer, tcp)`` as :class:`~learn_dns.nameserver.AuthoritativeServer`'s, from the cache.

    A plain query (:func:`parse_question`) is answered from :class:`WireCache`,
    computed on a miss exactly as the plain path would; anything else, and any
    query the codec rejects, is handed to the server's own :meth:`answer`.
    The folded level is read by the UDP driver itself (``fast``, before calling
    this, or None): it is filled only with ``levels == "fast"`` and only while
    queries are not traced (a folded hit is never traced, and a traced server
    must show every query).
    """

    def __init__(self, server: AuthoritativeServer, levels: str = "fast") -> None:
        self.server = server
        self.cache = WireCache()
        self.fill_folded = levels == "fast"
        self.fast = self.cache.answer_folded if self.fill_folded else None
        server.on_zone_change.append(self.cache.clear)  # answers were computed from the old data

    def answer(self, data: bytes, peer: tuple[str, int], tcp: bool) -> list[bytes]:
        found = parse_question(data)
        if found is None:
            return self.server.answer(data, peer, tcp)
        key, name_end, udp_limit = found
        entry = cached = self.cache.get(key)
        if entry is None:
            try:
                entry = self._compute(data)
            except FormatError:  # e.g. a QNAME over 255 bytes: the shape check does not count
                return self.server.answer(data, peer, tcp)
            self.cache.put(key, *entry)
        full, short = entry
        wire = patch(full if tcp or len(full) <= udp_limit else short, data, name_end)
        if self.server.trace_queries:
            self.server.trace_query(Message.from_wire(data), peer, data)
            self.server.trace_answer(Message.from_wire(wire), cached is not None, peer)
        elif not tcp and self.fill_folded:
            self.cache.put_folded(data, name_end, wire)  # this UDP answer, for any case of the QNAME
        return [wire]

    def _compute(self, data: bytes) -> tuple[bytes, bytes]:
        """Cache miss: decode, look up, encode (ID 0, RD/CD clear: :func:`patch` fills them per query)."""
        response = respond(Message.from_wire(data), self.server.zones)
        response.header.id = 0
        response.header.rd = response.header.cd = False
        return response.to_wire(), response.truncated()
