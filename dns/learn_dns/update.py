"""Dynamic UPDATE (RFC 2136) without I/O: a zone and an UPDATE message in, a verdict and a new zone out.

Reading order: after ``nameserver.py`` (which calls :func:`process` for
opcode 5 and installs the zone it returns, like a reload).

Before RFC 2136, changing a record meant editing the master file and
reloading the server.  UPDATE lets a program (an ACME client publishing a
DNS-01 record, a DHCP server registering a host) change the zone over the
wire.  The message reuses the four sections of a query under new names
(§2)::

    question   -> ZONE           exactly one: the zone's apex, type SOA
    answer     -> PREREQUISITE   conditions that must hold, or nothing changes
    authority  -> UPDATE         records to add and delete
    additional -> ADDITIONAL     (a TSIG signature would go here)

The CLASS field of each record says what it means, since a deletion carries
no data (§2.4, §2.5)::

    prerequisite  class ANY,  type ANY, no RDATA   the name is in use        else NXDOMAIN
                  class ANY,  type T,   no RDATA   an RRset of type T exists  else NXRRSET
                  class NONE, type ANY, no RDATA   the name is not in use     else YXDOMAIN
                  class NONE, type T,   no RDATA   no RRset of type T         else YXRRSET
                  class IN,   type T,   RDATA      the RRset is exactly these else NXRRSET
    update        class IN,   type T,   RDATA      add this record
                  class ANY,  type ANY, no RDATA   delete every RRset at the name
                  class ANY,  type T,   no RDATA   delete the RRset
                  class NONE, type T,   RDATA      delete this one record

All prerequisites are checked before any change, and either every update
is applied or none (§3.2, §3.4): :func:`process` works on a copy and
returns a new :class:`~learn_dns.zone_data.Zone`.  The apex keeps its SOA
and at least one NS whatever is asked (§3.4.2.3-4), and a zone that changed
gets the next SOA serial (§3.6) unless the update set a higher one itself.

Who may update is the server's decision (§3.3), taken in ``nameserver.py``
before this module runs: there, by source address (``--allow-update``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .message import Message, Rcode, ResourceRecord
from .names import Name
from .rdata import CLASS_ANY, CLASS_IN, SOA, type_name
from .zone_data import NS_TYPE, SOA_TYPE, Zone, ZoneError

CLASS_NONE = 254
TYPE_ANY = 255
CNAME_TYPE = 5
# Types that name no data (queries, transfers, the OPT pseudo-record, TSIG/TKEY): never added (§3.4.1.2).
META_TYPES = {41, 249, 250, 251, 252, 253, 254, 255}
SERIAL_MOD = 1 << 32


class UpdateRefused(Exception):
    """The update is rejected as a whole: ``rcode`` for the response, ``reason`` for the trace."""

    def __init__(self, rcode: int, reason: str) -> None:
        super().__init__(reason)
        self.rcode = rcode
        self.reason = reason


@dataclass(frozen=True)
class UpdateRequest:
    zone: Name
    prerequisites: list[ResourceRecord]
    updates: list[ResourceRecord]


def parse(message: Message) -> UpdateRequest:
    """The three sections under their UPDATE names; FORMERR (1) if the zone section is not one SOA."""
    if len(message.questions) != 1 or message.questions[0].qtype != SOA_TYPE:
        raise UpdateRefused(Rcode.FORMERR, "the zone section must hold exactly one SOA question (§3.1.1)")
    if message.questions[0].qclass != CLASS_IN:
        raise UpdateRefused(Rcode.NOTAUTH, "only class IN zones are served")
    return UpdateRequest(message.questions[0].name, message.answers, message.authority)


def _has_data(rr: ResourceRecord) -> bool:
    """Does the record carry RDATA?  (Empty RDATA decodes as zero bytes, ``message.py``.)"""
    out = bytearray()
    rr.rdata.to_wire(out, None)
    return bool(out)


def check_prerequisites(zone: Zone, prerequisites: list[ResourceRecord]) -> None:
    """§3.2: raise :class:`UpdateRefused` with the first failing condition's rcode."""
    expected: dict[tuple[Name, int], set] = {}
    for rr in prerequisites:
        what = f"{rr.name} {type_name(rr.rtype)}"
        if not rr.name.is_subdomain_of(zone.origin):
            raise UpdateRefused(Rcode.NOTZONE, f"prerequisite {what} is outside {zone.origin}")
        if rr.ttl != 0:
            raise UpdateRefused(Rcode.FORMERR, f"prerequisite {what} has TTL {rr.ttl}, not 0")
        types = zone.nodes.get(rr.name, {})
        if rr.rclass in (CLASS_ANY, CLASS_NONE):
            if _has_data(rr):
                raise UpdateRefused(Rcode.FORMERR, f"prerequisite {what} of class ANY/NONE carries RDATA")
            present = bool(types) if rr.rtype == TYPE_ANY else rr.rtype in types
            if rr.rclass == CLASS_ANY and not present:
                rcode = Rcode.NXRRSET if rr.rtype != TYPE_ANY else Rcode.NXDOMAIN
                raise UpdateRefused(rcode, f"prerequisite: {what} should exist and does not")
            if rr.rclass == CLASS_NONE and present:
                rcode = Rcode.YXRRSET if rr.rtype != TYPE_ANY else Rcode.YXDOMAIN
                raise UpdateRefused(rcode, f"prerequisite: {what} should not exist and does")
        elif rr.rclass == CLASS_IN:
            expected.setdefault((rr.name, rr.rtype), set()).add(rr.rdata)
        else:
            raise UpdateRefused(Rcode.FORMERR, f"prerequisite {what} has class {rr.rclass}")
    for (name, rtype), rdatas in expected.items():  # §3.2.3: the whole RRset, value for value
        have = {rr.rdata for rr in zone.nodes.get(name, {}).get(rtype, [])}
        if have != rdatas:
            raise UpdateRefused(Rcode.NXRRSET,
                                f"prerequisite: {name} {type_name(rtype)} is not exactly the RRset given")


def prescan(zone: Zone, updates: list[ResourceRecord]) -> None:
    """§3.4.1: every update must be well formed before any is applied."""
    for rr in updates:
        what = f"{rr.name} {type_name(rr.rtype)}"
        if not rr.name.is_subdomain_of(zone.origin):
            raise UpdateRefused(Rcode.NOTZONE, f"update {what} is outside {zone.origin}")
        if rr.rclass == CLASS_IN:
            if rr.rtype in META_TYPES:
                raise UpdateRefused(Rcode.FORMERR, f"cannot add a record of meta type {type_name(rr.rtype)}")
        elif rr.rclass == CLASS_ANY:
            if rr.ttl != 0 or _has_data(rr) or (rr.rtype in META_TYPES and rr.rtype != TYPE_ANY):
                raise UpdateRefused(Rcode.FORMERR, f"delete-RRset {what} needs TTL 0, no RDATA, a data type")
        elif rr.rclass == CLASS_NONE:
            if rr.ttl != 0 or rr.rtype in META_TYPES:
                raise UpdateRefused(Rcode.FORMERR, f"delete-record {what} must have TTL 0 and a data type")
        else:
            raise UpdateRefused(Rcode.FORMERR, f"update {what} has class {rr.rclass}")


def _apply_one(rrsets: dict[Name, dict[int, list[ResourceRecord]]], origin: Name, rr: ResourceRecord) -> bool:
    """§3.4.2: one update on the working copy; True if it changed something."""
    node = rrsets.setdefault(rr.name, {})
    apex = rr.name == origin
    if rr.rclass == CLASS_IN:
        if rr.rtype == SOA_TYPE:  # only at the apex, only forward (§3.4.2.2)
            old = node.get(SOA_TYPE)
            if not apex or not old or not serial_newer(rr.rdata.serial, old[0].rdata.serial):  # type: ignore[attr-defined]
                return False
            node[SOA_TYPE] = [rr]
            return True
        if rr.rtype == CNAME_TYPE and any(t != CNAME_TYPE for t in node):
            return False  # a CNAME cannot live beside other data (RFC 1034 §3.6.2)
        if rr.rtype != CNAME_TYPE and CNAME_TYPE in node:
            return False
        rrset = node.setdefault(rr.rtype, [])
        same = [i for i, old in enumerate(rrset) if old.rdata == rr.rdata]
        if rr.rtype == CNAME_TYPE:
            rrset[:] = [rr]
        elif same:
            if rrset[same[0]].ttl == rr.ttl:
                return False
            rrset[same[0]] = rr  # the same record again: only its TTL can change
        else:
            rrset.append(rr)
        return True
    if rr.rclass == CLASS_ANY:
        protected = {SOA_TYPE, NS_TYPE} if apex else set()
        doomed = [t for t in node if t not in protected and (rr.rtype == TYPE_ANY or t == rr.rtype)]
        for rtype in doomed:
            del node[rtype]
        return bool(doomed)
    # CLASS_NONE: one record
    rrset = node.get(rr.rtype, [])
    if rr.rtype == SOA_TYPE or (apex and rr.rtype == NS_TYPE and len(rrset) <= 1):
        return False  # the apex keeps its SOA and its last NS (§3.4.2.4)
    kept = [old for old in rrset if old.rdata != rr.rdata]
    if len(kept) == len(rrset):
        return False
    if kept:
        node[rr.rtype] = kept
    else:
        del node[rr.rtype]
    return True


def serial_newer(a: int, b: int) -> bool:
    """RFC 1982 serial arithmetic: is ``a`` after ``b``?"""
    return a != b and (a - b) % SERIAL_MOD < SERIAL_MOD // 2


def process(zone: Zone, request: UpdateRequest, source: str = "UPDATE") -> Zone | None:
    """Check, prescan and apply ``request`` to ``zone``: the new zone, or None if nothing changed.

    Raises :class:`UpdateRefused` (and changes nothing) if a prerequisite
    fails or an update is malformed.
    """
    check_prerequisites(zone, request.prerequisites)
    prescan(zone, request.updates)
    rrsets = {name: {t: list(rrs) for t, rrs in types.items()} for name, types in zone.nodes.items()}
    changed = False
    for rr in request.updates:
        changed = _apply_one(rrsets, zone.origin, rr) or changed
    if not changed:
        return None
    soa_rr = rrsets[zone.origin][SOA_TYPE][0]
    if soa_rr.rdata == zone.soa_record.rdata:  # §3.6: the serial moves forward with every change
        soa: SOA = zone.soa
        bumped = replace(soa, serial=(soa.serial + 1) % SERIAL_MOD)
        rrsets[zone.origin][SOA_TYPE] = [replace(zone.soa_record, rdata=bumped)]
    records = [rr for types in rrsets.values() for rrs in types.values() for rr in rrs]
    try:
        return Zone(zone.origin, records, source=source)
    except ZoneError as exc:  # cannot happen given the apex rules above; refuse rather than serve it
        raise UpdateRefused(Rcode.SERVFAIL, f"the updated zone would be unusable: {exc}") from None


def describe(request: UpdateRequest) -> list[str]:
    """One line per prerequisite and update, as the trace shows them."""
    lines = []
    for rr in request.prerequisites:
        kind = {CLASS_ANY: "exists", CLASS_NONE: "absent"}.get(rr.rclass, "is exactly")
        lines.append(f"prerequisite: {rr.name} {type_name(rr.rtype)} {kind}")
    for rr in request.updates:
        if rr.rclass == CLASS_IN:
            lines.append(f"add {rr.name} {rr.ttl} {type_name(rr.rtype)} {rr.rdata.to_text()}")
        elif rr.rclass == CLASS_ANY:
            lines.append(f"delete {rr.name} {type_name(rr.rtype)} (RRset)")
        else:
            lines.append(f"delete {rr.name} {type_name(rr.rtype)} {rr.rdata.to_text()} (one record)")
    return lines
