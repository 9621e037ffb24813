"""A zone in memory: its records by owner name and type, loaded from a master file (RFC 1035 §5-6).

Reading order: wire -> names -> rdata -> edns -> message -> **zone_data** ->
answers -> notify -> nameserver -> authoritative -> secondary -> wire_cache

Parsing the master-file syntax (``$ORIGIN``, ``$TTL``, parentheses, relative
names) is not this pattern's lesson, so dnspython does it
(``dns.zone.from_file``).  Each record is then converted into the codec's own
:class:`~learn_dns.message.ResourceRecord` by writing it to wire form with
dnspython and reading it back with ours: from there on, everything the server
sends is encoded by the hand-written codec.  A secondary builds the same
:class:`Zone` from the records a zone transfer brought (``secondary.py``).

What the lookup needs from a zone (RFC 1034 §4.3.2):

- ``nodes``: owner name -> {type: [records]} (an RRset per type);
- ``cuts``: names below the apex that own NS records, the delegation points
  where this zone's authority ends and a referral begins;
- ``existing``: every name that owns records *or has descendants that do*.
  A name like ``example.com.`` in the com zone owns nothing itself when it is
  only delegated, and ``b.example.com.`` with only ``a.b.example.com.`` below
  it is an "empty non-terminal": such names exist (NODATA, not NXDOMAIN,
  RFC 8020).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import dns.exception
import dns.rdataclass
import dns.zone

from .message import ResourceRecord
from .names import Name
from .rdata import SOA, decode_rdata

SOA_TYPE = 6
NS_TYPE = 2


class ZoneError(Exception):
    """A zone file or transfer that cannot be served (no SOA at the apex, unreadable file)."""


class Zone:
    def __init__(self, origin: Name, records: Iterable[ResourceRecord], source: str = "") -> None:
        self.origin = origin
        self.source = source
        self.nodes: dict[Name, dict[int, list[ResourceRecord]]] = {}
        for rr in records:
            if not rr.name.is_subdomain_of(origin):
                raise ZoneError(f"record {rr} is outside the zone {origin}")
            self.nodes.setdefault(rr.name, {}).setdefault(rr.rtype, []).append(rr)
        apex = self.nodes.get(origin, {})
        if SOA_TYPE not in apex or NS_TYPE not in apex:
            raise ZoneError(f"zone {origin} has no SOA or no NS record at its apex")
        self.soa_record = apex[SOA_TYPE][0]
        self.cuts = {name for name, types in self.nodes.items() if NS_TYPE in types and name != origin}
        self.existing: set[Name] = set()
        for name in self.nodes:
            while name not in self.existing and name.is_subdomain_of(origin):
                self.existing.add(name)
                if name == origin:
                    break
                name = name.parent()

    @property
    def soa(self) -> SOA:
        rdata = self.soa_record.rdata
        assert isinstance(rdata, SOA)
        return rdata

    @property
    def serial(self) -> int:
        return self.soa.serial

    def negative_soa(self) -> ResourceRecord:
        """The SOA to put in the authority section of NXDOMAIN/NODATA (RFC 2308 §3, §5).

        Its TTL is how long resolvers may cache the "no": the smaller of the
        SOA record's own TTL and the SOA MINIMUM field.
        """
        soa = self.soa_record
        return ResourceRecord(soa.name, soa.rtype, soa.rclass, min(soa.ttl, self.soa.minimum), soa.rdata)

    def records(self) -> Iterator[ResourceRecord]:
        """Every record, SOA first (the order a zone transfer sends, RFC 5936 §2.2)."""
        yield self.soa_record
        for types in self.nodes.values():
            for rtype, rrs in types.items():
                yield from (rr for rr in rrs if rtype != SOA_TYPE)

    def __len__(self) -> int:
        return sum(len(rrs) for types in self.nodes.values() for rrs in types.values())


def load_zone_file(path: str | Path) -> Zone:
    """Read a master file (its ``$ORIGIN`` says which zone it is); ZoneError if it is unusable."""
    try:
        zone = dns.zone.from_file(str(path), relativize=False)
    except (OSError, dns.exception.DNSException) as exc:
        raise ZoneError(f"cannot load zone file {path}: {exc}") from exc
    origin = Name.from_text(zone.origin.to_text())
    records = []
    for owner, node in zone.nodes.items():
        name = Name.from_text(owner.to_text())
        for rdataset in node.rdatasets:
            for rdata in rdataset:
                wire = rdata.to_wire()  # uncompressed: names inside are absolute
                ours = decode_rdata(rdataset.rdtype, wire, 0, len(wire))
                records.append(ResourceRecord(name, rdataset.rdtype, dns.rdataclass.IN, rdataset.ttl, ours))
    return Zone(origin, records, source=str(path))
