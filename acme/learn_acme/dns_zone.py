"""Publishing TXT records in our dns/ pattern's authoritative server: the domain owner's side of DNS-01.

After ``responder.py`` in the reading order (it is the DNS twin of it).
``learn_dns.authoritative`` serves master files (RFC 1035 §5) and re-reads
them on SIGHUP; it does not implement RFC 2136 dynamic UPDATE, so
publishing a record is what an operator of that server does: rewrite the
zone file with a higher SOA serial and send SIGHUP.  :meth:`Zone.publish`
then asks the server (with dnspython) until the new records are answered,
the "propagation check" every ACME client makes before saying ready,
because the CA would otherwise look too early and fail the challenge.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import dns.asyncresolver
import dns.exception
import dns.resolver

HEADER = """; {origin} for the acme demo: written by learn_acme.dns_zone, served by learn_dns.authoritative.
$ORIGIN {origin}.
$TTL 1
@       1   IN SOA  ns1.{origin}. hostmaster.{origin}. ( {serial} 3 1 600 1 )
@       1   IN NS   ns1.{origin}.
ns1     1   IN A    {ns_address}
www     1   IN A    127.0.0.1
"""

# A root zone that delegates the demo's zone straight to its server (no "test." in between),
# so our dns/ pattern's recursive resolver can find it by iteration from the root.
ROOT = """; the root for the acme demo: written by learn_acme.dns_zone.
$ORIGIN .
$TTL 60
.        60 IN SOA  a.root.invalid. hostmaster.invalid. 2026120701 30 10 600 1
.        60 IN NS   a.root.invalid.
a.root.invalid. 60 IN A {root_address}
{origin}. 60 IN NS   ns1.{origin}.
ns1.{origin}. 60 IN A {ns_address}
"""


class Zone:
    """One zone file, its TXT records, and the server process (by PID) that serves it."""

    def __init__(self, path: Path, origin: str, ns_address: str = "127.0.0.1") -> None:
        self.path, self.origin, self.ns_address = path, origin.rstrip("."), ns_address
        self.serial = 2026120701
        self.txt: dict[str, list[str]] = {}  # owner name (relative) -> values
        self.write()

    def write(self) -> None:
        lines = [HEADER.format(origin=self.origin, serial=self.serial, ns_address=self.ns_address)]
        for owner, values in self.txt.items():
            lines += [f'{owner} 1 IN TXT "{v}"\n' for v in values]
        self.path.write_text("".join(lines))

    def relative(self, name: str) -> str:
        name = name.rstrip(".")
        if not name.endswith("." + self.origin):
            raise ValueError(f"{name} is not inside {self.origin}")
        return name[: -len(self.origin) - 1]

    def write_root(self, path: Path, root_address: str) -> Path:
        """A root zone file delegating this zone to ``ns_address`` (for a resolver's root hints)."""
        path.write_text(
            ROOT.format(origin=self.origin, ns_address=self.ns_address, root_address=root_address)
        )
        return path

    async def publish(self, name: str, values: list[str], *, pid: int, server: tuple[str, int]) -> None:
        """Set ``name``'s TXT records, reload the server, and wait (bounded) until it answers them."""
        owner = self.relative(name)
        if values:
            self.txt[owner] = values
        else:
            self.txt.pop(owner, None)
        self.serial += 1
        self.write()
        os.kill(pid, signal.SIGHUP)
        async with asyncio.timeout(10):
            while sorted(await lookup_txt(name, server)) != sorted(values):
                await asyncio.sleep(0.05)


async def lookup_txt(name: str, server: tuple[str, int]) -> list[str]:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = [server[0]], server[1], 2.0
    try:
        answer = await resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.exception.Timeout):
        return []
    return [b"".join(r.strings).decode() for r in answer]
