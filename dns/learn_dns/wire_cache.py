"""Speed beside the lesson: answers kept as ready-made wire bytes, keyed by the question's bytes.

Reading order: after ``nameserver.py`` (the plain path this module stands in
front of) and ``authoritative.py`` (which picks it: ``--cache exact``, the
default, both levels; ``--cache question``, level 2 only; ``--cache off``, the
plain path alone).  Nothing here changes an answer: :class:`CachedAnswers`
must return exactly the bytes ``AuthoritativeServer.answer`` returns for the
same message (``tests/dns/test_dns_wire_cache.py`` compares them on
thousands of queries: letter case, flags, EDNS, malformed ones).  It exists
because the benchmark needs it: the plain path decodes, looks up and encodes
in Python for every query (about 0.2x unbound's rate; the README's table).

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

A level in front of that needs no parsing at all: the bytes of a UDP query
after its ID decide the answer completely (flags, letter case, EDNS size
included), so :class:`WireCache` also maps *those bytes* to the answer's
bytes after the ID.  A client repeating a question in the same form (a
stub resolver, a load generator) is answered with one dict lookup and one
concatenation.  Queries that differ in every packet (random letter case, an
EDNS cookie) miss that level and fall through to the key below.

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


class WireCache:
    """Two levels of ready-made answers.

    ``entries``: question key -> (full response, truncated response), both
    with ID 0 and RD/CD clear, patched per query (see the module docstring).

    ``exact``: UDP query bytes after the ID -> response bytes after the ID.
    When the same client software asks the same question again, the bytes
    after the ID are identical (same flags, same letter case, same EDNS
    size), and so is the answer: the hot path is then one dict lookup and
    one concatenation, no parsing at all.  Queries that differ in every
    packet (an EDNS cookie, random letter case) simply miss this level.
    """

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.entries: dict[bytes, tuple[bytes, bytes]] = {}
        self.exact: dict[bytes, bytes] = {}
        self.max_entries = max_entries

    def get(self, key: bytes) -> tuple[bytes, bytes] | None:
        return self.entries.get(key)

    def put(self, key: bytes, full: bytes, truncated: bytes) -> None:
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[key] = (full, truncated)

    def put_exact(self, query: bytes, response: bytes) -> None:
        if len(self.exact) >= self.max_entries:
            self.exact.clear()
        self.exact[query[2:]] = response[2:]

    def clear(self) -> None:
        """Zone data changed: forget every answer (the dicts stay the same objects)."""
        self.entries.clear()
        self.exact.clear()


class CachedAnswers:
    """``answer(data, peer, tcp)`` as :class:`~learn_dns.nameserver.AuthoritativeServer`'s, from the cache.

    A plain query (:func:`parse_question`) is answered from :class:`WireCache`,
    computed on a miss exactly as the plain path would; anything else, and any
    query the codec rejects, is handed to the server's own :meth:`answer`.
    ``exact`` (level 1) is read by the UDP driver itself, before calling this:
    it is filled only with ``levels == "exact"`` and only while queries are not
    traced (a level-1 hit is never traced, and a traced server must show every query).
    """

    def __init__(self, server: AuthoritativeServer, levels: str = "exact") -> None:
        self.server = server
        self.cache = WireCache()
        self.exact = self.cache.exact
        self.fill_exact = levels == "exact"
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
        elif not tcp and self.fill_exact:
            self.cache.put_exact(data, wire)  # the UDP answer for exactly these bytes
        return [wire]

    def _compute(self, data: bytes) -> tuple[bytes, bytes]:
        """Cache miss: decode, look up, encode (ID 0, RD/CD clear: :func:`patch` fills them per query)."""
        response = respond(Message.from_wire(data), self.server.zones)
        response.header.id = 0
        response.header.rd = response.header.cd = False
        return response.to_wire(), response.truncated()
