"""How an authoritative server answers one query: the algorithm of RFC 1034 §4.3.2.

Reading order: wire -> names -> rdata -> edns -> message -> zone_data ->
**answers** -> notify -> nameserver -> authoritative -> secondary -> wire_cache

Pure: a decoded query and the zones in, a response :class:`Message` out.
For a question (QNAME, QTYPE) the server:

1. finds the zone it serves that is the closest enclosing one of QNAME;
   none -> REFUSED (we are not a resolver and do not know);
2. walks from the zone's apex down towards QNAME; a name with NS records on
   the way is a delegation: answer with a **referral** (AA clear, the NS
   records in authority, their addresses as glue in additional);
3. QNAME owns records of QTYPE -> they are the answer (AA set), plus the
   addresses of any NS/MX targets in additional;
4. QNAME owns a CNAME instead -> answer the CNAME and follow it while the
   target stays in the same zone (RFC 1034 §3.6.2);
5. QNAME exists but not with QTYPE -> **NODATA**: NOERROR, empty answer, the
   zone's SOA in authority (RFC 2308 §2.2);
6. QNAME does not exist -> **NXDOMAIN**, SOA in authority (RFC 2308 §2.1).

The SOA of a negative answer carries TTL min(SOA TTL, SOA MINIMUM): how long
a resolver may remember the "no".  Simplifications, said plainly: no
wildcards (RFC 4592), no DNSSEC, and a DS query at a delegation point is
answered like any other name below the cut (with a referral).

``transfer()`` produces the messages of a zone transfer (AXFR, RFC 5936).
"""

from __future__ import annotations

from .edns import BADVERS, OUR_PAYLOAD, Edns
from .message import Header, Message, Opcode, Rcode, ResourceRecord
from .names import Name
from .rdata import CLASS_ANY, CLASS_IN, CNAME, MX, NS
from .zone_data import NS_TYPE, Zone

CNAME_TYPE = 5
ANY_TYPE = 255
GLUE_TYPES = (1, 28)       # A, AAAA
MAX_CNAME_CHAIN = 8
AXFR_RECORDS_PER_MESSAGE = 200


def find_zone(zones: dict[Name, Zone], qname: Name) -> Zone | None:
    """The closest enclosing zone we serve, or None."""
    for depth in range(len(qname), -1, -1):
        zone = zones.get(Name(qname.labels[len(qname) - depth:]))
        if zone is not None:
            return zone
    return None


def make_response(query: Message, rcode: int = Rcode.NOERROR, aa: bool = False) -> Message:
    """An empty response to ``query``: same id, opcode, question; RD and CD copied (RFC 1035 §4.1.1)."""
    h = query.header
    edns = Edns(payload=OUR_PAYLOAD, do=query.edns.do) if query.edns is not None else None
    response = Message(Header(id=h.id, qr=True, opcode=h.opcode, aa=aa, rd=h.rd, cd=h.cd),
                       questions=list(query.questions), edns=edns)
    response.set_rcode(rcode)
    return response


def respond(query: Message, zones: dict[Name, Zone]) -> Message:
    """The response to a decoded query (not a zone transfer: see :func:`transfer`)."""
    if query.header.opcode != Opcode.QUERY:
        return make_response(query, Rcode.NOTIMP)
    if len(query.questions) != 1:
        return make_response(query, Rcode.FORMERR)
    if query.edns is not None and query.edns.version != 0:
        return make_response(query, BADVERS)  # RFC 6891 §6.1.3: we speak version 0 only
    question = query.questions[0]
    if question.qclass not in (CLASS_IN, CLASS_ANY):
        return make_response(query, Rcode.REFUSED)
    zone = find_zone(zones, question.name)
    if zone is None:
        return make_response(query, Rcode.REFUSED)
    response = make_response(query, aa=True)
    lookup(zone, question.name, question.qtype, response)
    return response


def lookup(zone: Zone, qname: Name, qtype: int, response: Message) -> None:
    """Fill ``response`` with the answer for (qname, qtype) from ``zone``: steps 2-6 above."""
    for _ in range(MAX_CNAME_CHAIN):
        cut = _delegation(zone, qname)
        if cut is not None:
            if response.answers:   # a CNAME led below a cut: the resolver takes it from here
                return
            response.header.aa = False
            ns_records = zone.nodes[cut][NS_TYPE]
            response.authority.extend(ns_records)
            _add_addresses(zone, [rr.rdata.target for rr in ns_records if isinstance(rr.rdata, NS)],
                           response)
            return
        node = zone.nodes.get(qname)
        if node is None:
            if qname not in zone.existing:
                response.set_rcode(Rcode.NXDOMAIN)
            response.authority.append(zone.negative_soa())
            return
        if qtype == ANY_TYPE:
            found = [rr for rrs in node.values() for rr in rrs]
        else:
            found = node.get(qtype, [])
        if found:
            response.answers.extend(found)
            _add_addresses(zone, _targets(found), response)
            return
        cnames = node.get(CNAME_TYPE)
        if not cnames or not isinstance(cnames[0].rdata, CNAME):
            response.authority.append(zone.negative_soa())  # NODATA
            return
        response.answers.append(cnames[0])
        qname = cnames[0].rdata.target
        if not qname.is_subdomain_of(zone.origin):
            return  # the target lives elsewhere: the resolver chases it
    # a CNAME chain longer than MAX_CNAME_CHAIN (or a loop): answer what we have


def _delegation(zone: Zone, qname: Name) -> Name | None:
    """The topmost delegation point between the apex (excluded) and qname (included)."""
    if not zone.cuts:
        return None
    for depth in range(len(zone.origin) + 1, len(qname) + 1):
        name = Name(qname.labels[len(qname) - depth:])
        if name in zone.cuts:
            return name
    return None


def _targets(records: list[ResourceRecord]) -> list[Name]:
    """Names whose addresses a resolver will want next: NS and MX targets (RFC 1035 §3.3.9, §3.3.11)."""
    names = []
    for rr in records:
        if isinstance(rr.rdata, NS):
            names.append(rr.rdata.target)
        elif isinstance(rr.rdata, MX):
            names.append(rr.rdata.exchange)
    return names


def _add_addresses(zone: Zone, names: list[Name], response: Message) -> None:
    """Additional section: A/AAAA records for ``names`` that this zone holds (glue included)."""
    for name in names:
        node = zone.nodes.get(name)
        if node is not None:
            for rtype in GLUE_TYPES:
                response.additional.extend(node.get(rtype, ()))


def transfer(query: Message, zone: Zone) -> list[Message]:
    """The messages of an AXFR (RFC 5936 §2.2): SOA, every record, SOA again.

    The closing SOA tells the client the transfer is complete.  Records are
    split into several messages so each stays far below TCP's 64 KiB limit.
    """
    records = [*zone.records(), zone.soa_record]
    messages = []
    for start in range(0, len(records), AXFR_RECORDS_PER_MESSAGE):
        message = make_response(query, aa=True)
        if start:
            message.questions = []  # only the first message repeats the question (§2.2.1)
        message.answers = records[start:start + AXFR_RECORDS_PER_MESSAGE]
        messages.append(message)
    return messages

