"""The naive baseline for bench_dns.py: an authoritative server written the obvious way with dnspython.

    python bench/bench_dns_naive.py PORT ZONE_FILE

For every datagram: ``dns.message.from_wire``, ``dns.message.make_response``,
look the rdataset up in a ``dns.zone.Zone``, ``to_wire``.  Correct and short;
everything a packet needs is rebuilt from objects each time.  This is the
"naive dnspython asyncio server" of the earlier targets, the floor our server
must beat by 3x.  (It answers A/AAAA/MX/TXT from the zone, REFUSED otherwise:
enough for the benchmark's query file.)
"""

from __future__ import annotations

import asyncio
import sys

import dns.flags
import dns.message
import dns.rcode
import dns.zone


class NaiveServer(asyncio.DatagramProtocol):
    def __init__(self, zone: dns.zone.Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - a benchmark baseline: ignore garbage
            return
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        rdataset = self.zone.get_rdataset(question.name, question.rdtype)
        if rdataset is not None:
            rrset = response.find_rrset(response.answer, question.name, question.rdclass, question.rdtype,
                                        create=True)  # create=True also appends it to the answer section
            rrset.update(rdataset)
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


async def main(port: int, zone_file: str) -> None:
    zone = dns.zone.from_file(zone_file, relativize=False)
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: NaiveServer(zone), local_addr=("127.0.0.1", port))
    print(f"naive dnspython server ready on 127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
    except KeyboardInterrupt:
        pass
