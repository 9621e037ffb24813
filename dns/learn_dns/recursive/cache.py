"""The resolver's memory: RRsets and negative answers, each with an expiry time.

Reading order: after the codec and the authoritative server, this is the first
module of the *recursive* side; ``resolver.py`` asks it what is already known,
``server.py`` adds a second, faster cache of whole answers as wire bytes
(:class:`AnswerCache`, at the end of this file).

What it implements:

- **TTL** (RFC 1035 §3.2.1, RFC 2181 §8): an RRset is kept for the TTL the
  server gave it, never longer than ``max_ttl``.  All members of an RRset share
  one TTL (RFC 2181 §5.2), so the unit of caching is the RRset, not the record.
- **Trust ranking** (RFC 2181 §5.4.1): data from an authoritative answer is not
  overwritten by glue or by a referral's NS copy while it is still fresh.
- **Negative caching** (RFC 2308): "this name does not exist" (NXDOMAIN) and
  "the name exists but has no record of this type" (NODATA) are cached too, for
  ``min(SOA TTL, SOA MINIMUM)`` (§5), keyed by name alone for NXDOMAIN (§5: it
  covers every type) and by (name, type) for NODATA.
- **Serve-stale** (RFC 8767): an expired entry is not deleted at once; it can be
  served while ``max_stale`` seconds have not passed since it expired, but only
  when asked for stale data explicitly (when every authoritative server is down).

The clock is a parameter (``clock()`` returns seconds), so tests move time by hand.
Entries hold dnspython ``RRset`` objects: the cache is about time, not bytes.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass

import dns.name
import dns.rdatatype
import dns.rrset


class Rank(enum.IntEnum):
    """How much a cached RRset is trusted (RFC 2181 §5.4.1, simplified to three steps)."""

    GLUE = 1  # additional section of a referral: only good enough to reach a server
    REFERRAL = 2  # the parent's copy of a child's NS set (authority section, not authoritative)
    ANSWER = 3  # answer section of an authoritative (AA) response


@dataclass
class Entry:
    rrset: dns.rrset.RRset | None  # None for a negative entry
    expires: float
    rank: Rank
    rcode: int = 0  # for negative entries: NXDOMAIN (3) or NOERROR/NODATA (0)
    soa: dns.rrset.RRset | None = None  # the SOA that justified a negative entry (RFC 2308 §5)


@dataclass(frozen=True)
class Hit:
    """What :meth:`Cache.get` returns: the entry and its remaining TTL (0 when stale)."""

    entry: Entry
    ttl: int
    stale: bool

    @property
    def negative(self) -> bool:
        return self.entry.rrset is None


NXDOMAIN_KEY = -1  # stands in for the type in the key of an NXDOMAIN entry: it covers all types


class Cache:
    """RRsets and negative answers, keyed by (owner name, type)."""

    def __init__(self, clock: Callable[[], float], max_ttl: int = 86400, max_stale: float = 86400,
                 max_entries: int = 100_000) -> None:
        self.clock = clock
        self.max_ttl = max_ttl
        self.max_stale = max_stale
        self.max_entries = max_entries
        self._entries: dict[tuple[dns.name.Name, int], Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    # -- storing -------------------------------------------------------------------------------

    def put(self, rrset: dns.rrset.RRset, rank: Rank) -> bool:
        """Remember ``rrset`` for its TTL; False if a fresher, better-trusted copy is kept."""
        key = (rrset.name, int(rrset.rdtype))
        now = self.clock()
        old = self._entries.get(key)
        if old is not None and old.expires > now and old.rank > rank:
            return False  # RFC 2181 §5.4.1: glue must not replace an authoritative answer
        self._store(key, Entry(rrset, now + min(rrset.ttl, self.max_ttl), rank))
        # A positive answer ends any negative belief about the name.
        self._entries.pop((rrset.name, NXDOMAIN_KEY), None)
        return True

    def put_negative(self, name: dns.name.Name, rdtype: int, rcode: int,
                     soa: dns.rrset.RRset | None) -> int:
        """Cache NXDOMAIN (any type) or NODATA (this type); return the TTL used (RFC 2308 §5)."""
        if soa is None:
            ttl = 0  # RFC 2308 §5: without an SOA, a negative answer is not cached
        else:
            ttl = min(soa.ttl, soa[0].minimum, self.max_ttl)
        if ttl <= 0:
            return 0
        key = (name, NXDOMAIN_KEY if rcode == 3 else int(rdtype))
        self._store(key, Entry(None, self.clock() + ttl, Rank.ANSWER, rcode, soa))
        return ttl

    def _store(self, key: tuple[dns.name.Name, int], entry: Entry) -> None:
        if len(self._entries) >= self.max_entries and key not in self._entries:
            self.purge()
            if len(self._entries) >= self.max_entries:
                # Still full of fresh data: drop the oldest insertion (dicts keep order).
                self._entries.pop(next(iter(self._entries)))
        self._entries[key] = entry

    # -- reading -------------------------------------------------------------------------------

    def get(self, name: dns.name.Name, rdtype: int, stale: bool = False) -> Hit | None:
        """The fresh entry for (name, type), an NXDOMAIN for the name, or None.

        With ``stale=True`` an expired entry is returned too while it is within
        ``max_stale`` of its expiry (RFC 8767 §4), marked ``stale``.
        """
        now = self.clock()
        for key in ((name, int(rdtype)), (name, NXDOMAIN_KEY)):
            entry = self._entries.get(key)
            if entry is None:
                continue
            remaining = entry.expires - now
            if remaining > 0:
                return Hit(entry, max(1, int(remaining)), False)
            if stale and -remaining <= self.max_stale:
                return Hit(entry, 0, True)
        return None

    def rrset(self, name: dns.name.Name, rdtype: int, stale: bool = False) -> dns.rrset.RRset | None:
        """The cached RRset with its TTL set to what remains (a copy), or None."""
        hit = self.get(name, rdtype, stale)
        if hit is None or hit.negative:
            return None
        copy = dns.rrset.RRset(hit.entry.rrset.name, hit.entry.rrset.rdclass, hit.entry.rrset.rdtype)
        copy.update(hit.entry.rrset)
        copy.ttl = hit.ttl
        return copy

    def addresses(self, name: dns.name.Name, stale: bool = False) -> list[str]:
        """The IPv4 addresses cached for ``name`` (glue or answers)."""
        found = self.rrset(name, dns.rdatatype.A, stale)
        return [rdata.address for rdata in found] if found is not None else []

    def closest_delegation(self, name: dns.name.Name, stale: bool = False) -> dns.rrset.RRset | None:
        """The NS RRset of the deepest cached zone cut at or above ``name`` (RFC 1034 §5.3.3 step 2)."""
        while True:
            found = self.rrset(name, dns.rdatatype.NS, stale)
            if found is not None:
                return found
            if name == dns.name.root:
                return None
            name = name.parent()

    def purge(self) -> int:
        """Forget entries past their stale window; return how many were dropped."""
        limit = self.clock() - self.max_stale
        dead = [key for key, entry in self._entries.items() if entry.expires < limit]
        for key in dead:
            del self._entries[key]
        return len(dead)


# ---------------------------------------------------------------------------------------------
# The hot path: whole answers as wire bytes.
# ---------------------------------------------------------------------------------------------

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")  # TYPE, CLASS, TTL, RDLENGTH after the owner name (RFC 1035 §4.1.3)
OPT = 41


def skip_name(wire: bytes, offset: int) -> int:
    """Offset just past the (possibly compressed, RFC 1035 §4.1.4) name starting at ``offset``."""
    while True:
        length = wire[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2  # a pointer ends the name
        offset += 1 + length


def ttl_offsets(wire: bytes) -> list[tuple[int, int]]:
    """(offset, ttl) of every resource record's TTL field in a DNS message, OPT excluded.

    The OPT pseudo-record (RFC 6891 §6.1.3) uses its TTL field for flags, not time.
    """
    _id, _flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire, 0)
    offset = _HEADER.size
    for _ in range(qdcount):
        offset = skip_name(wire, offset) + 4
    found = []
    for _ in range(ancount + nscount + arcount):
        offset = skip_name(wire, offset)
        rtype, _rclass, ttl, rdlength = _RR_FIXED.unpack_from(wire, offset)
        if rtype != OPT:
            found.append((offset + 4, ttl))
        offset += _RR_FIXED.size + rdlength
    return found


@dataclass
class WireAnswer:
    wire: bytes
    ttls: list[tuple[int, int]]
    stored: float
    expires: float


class AnswerCache:
    """Whole responses as bytes, keyed by the question's bytes: a hit costs two dict
    lookups, a copy and a few ``struct.pack_into`` calls; no parsing, no building.

    On a hit the message id is replaced by the client's, RD and the QNAME's
    spelling are copied from the query, and each TTL is lowered by the time the answer has spent in the cache
    (RFC 1035 §3.2.1: a cached TTL counts down).  The answer expires with its
    smallest TTL (never later than ``max_ttl`` seconds, as :class:`Cache`), after
    which the slow path (``Cache`` + iteration) runs again.
    """

    def __init__(self, clock: Callable[[], float], max_entries: int = 50_000, max_ttl: int = 86400) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self.max_ttl = max_ttl
        self._answers: dict[bytes, WireAnswer] = {}
        self.rendered_until = 0.0  # after a hit: until when its bytes (TTLs) stay right (recursive/fast.py)

    def __len__(self) -> int:
        return len(self._answers)

    def put(self, key: bytes, wire: bytes) -> None:
        ttls = ttl_offsets(wire)
        lifetime = min((ttl for _off, ttl in ttls), default=0)
        lifetime = min(lifetime, self.max_ttl)
        if lifetime <= 0:
            return
        if len(self._answers) >= self.max_entries:
            self._answers.pop(next(iter(self._answers)))
        now = self.clock()
        self._answers[key] = WireAnswer(wire, ttls, now, now + lifetime)

    def get(self, key: bytes, query: bytes, name_end: int) -> bytes | None:
        """The cached answer for ``key``, made the answer to ``query``, or None.

        ``name_end`` is where the query's QNAME ends (its terminating zero byte included).
        """
        answer = self._answers.get(key)
        if answer is None:
            return None
        now = self.clock()
        if now >= answer.expires:
            del self._answers[key]
            return None
        out = bytearray(answer.wire)
        out[0:2] = query[0:2]  # the client's id
        out[2] = (out[2] & 0xFE) | (query[2] & 0x01)  # RD is the low bit of the first flags byte
        # The question exactly as this client spelled it (RFC 1035 §7.3: a resolver checks
        # the echo, and 0x20 randomisation relies on the letter case).  Equal keys mean
        # equal lengths, so every compression pointer into the question stays valid.
        out[12:name_end] = query[12:name_end]
        elapsed = int(now - answer.stored)
        self.rendered_until = min(answer.stored + elapsed + 1, answer.expires)
        if elapsed:
            for offset, ttl in answer.ttls:
                struct.pack_into("!I", out, offset, max(ttl - elapsed, 0))
        return bytes(out)

    def clear(self) -> None:
        self._answers.clear()


MAX_NAME = 255  # octets of a name's wire form, length bytes and final zero included (RFC 1035 §2.3.4)


def question_end(query: bytes) -> int | None:
    """Where the one question of ``query`` ends (after QCLASS), or None if there is no single,
    plain question: QDCOUNT must be 1 and the QNAME uncompressed and at most 255 octets."""
    if len(query) < 17 or query[4:6] != b"\x00\x01":
        return None
    offset = 12
    while True:  # walk the labels; a pointer in a question is legal but odd: take the slow path
        if offset >= len(query):
            return None
        length = query[offset]
        if length == 0:
            break
        if length & 0xC0:
            return None
        offset += 1 + length
    if offset + 1 - 12 > MAX_NAME:
        return None  # not a name at all: echoing it would make the reply unparseable too
    end = offset + 5
    return end if end <= len(query) else None


def opt_after(query: bytes, offset: int) -> int | None:
    """The TTL field (EXTENDED-RCODE, VERSION, DO, Z; RFC 6891 §6.1.3) of the OPT record that
    starts at ``offset`` and ends the message, when it is the only additional record; else None.

    The record must be owned by the root, and its options must fill its RDATA exactly.
    """
    if len(query) < 12 or query[10:12] != b"\x00\x01" or len(query) < offset + 11:
        return None
    if query[offset:offset + 3] != b"\x00\x00\x29":  # root owner, TYPE 41
        return None
    ttl, rdlength = struct.unpack_from("!IH", query, offset + 5)
    pos = offset + 11
    if pos + rdlength != len(query):
        return None
    while pos < len(query):  # options: code, length, data
        if pos + 4 > len(query):
            return None
        pos += 4 + struct.unpack_from("!H", query, pos + 2)[0]
    return ttl if pos == len(query) else None


def question_key(query: bytes) -> tuple[bytes, int] | None:
    """The cache key of a query (lower-cased QNAME + QTYPE + QCLASS, plus whether it has
    EDNS) and where its question ends, or None if it is not a plain one-question query.

    DNS names compare case-insensitively (RFC 1035 §2.3.3, RFC 4343), so the key is
    lower-cased; :meth:`AnswerCache.get` writes the client's own spelling back into the
    answer.  Plain means: a standard QUERY with no answer or authority records, and either
    nothing after the question or exactly one EDNS version-0 OPT record.  Anything else
    (another EDNS version, which must get BADVERS; a TSIG; trailing bytes) takes the slow path.
    """
    end = question_end(query)
    if end is None:
        return None
    _id, flags, _qdcount, ancount, nscount, arcount = _HEADER.unpack_from(query, 0)
    if ancount or nscount or flags & 0x8000 or (flags >> 11) & 0xF:
        return None  # a response, or not a standard QUERY
    if arcount == 0:
        if end != len(query):
            return None
        edns = b"-"
    else:
        opt = opt_after(query, end)
        if opt is None or (opt >> 16) & 0xFF != 0:
            return None
        edns = b"E"
    # Only the name is lower-cased: QTYPE/QCLASS bytes are numbers, not letters.
    return query[12:end - 4].lower() + query[end - 4:end] + edns, end
