"""Publishing TXT records in our dns/ pattern's authoritative server: the domain owner's side of DNS-01.

After ``responder.py`` in the reading order (it is the DNS twin of it).
The zone starts as a master file (RFC 1035 §5) written here; after that,
records change over the wire with an RFC 2136 dynamic UPDATE, as an ACME
client does against its DNS provider: :meth:`Zone.publish` sends one UPDATE
message (dnspython builds it: delete the name's TXT RRset, add the new
values), checks the server's rcode, then asks the server until the new
records are answered, the "propagation check" every ACME client makes
before saying ready, because the CA would otherwise look too early.

The UPDATE is signed with TSIG (RFC 8945): an HMAC-SHA256 over the message
with a secret the zone's server and this side share (:attr:`Zone.tsig_key`,
new for every run; the server gets it as ``--tsig-key``, see
:meth:`Zone.server_args`).  ``learn_dns.authoritative`` refuses an unsigned
or wrongly signed UPDATE, bumps the SOA serial itself, and signs its answer;
dnspython checks that signature before :meth:`Zone.publish` trusts the rcode.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from pathlib import Path

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.rcode
import dns.resolver
import dns.tsigkeyring
import dns.update

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
    """The zone's first master file, and the TXT records published in it since (by UPDATE)."""

    def __init__(self, path: Path, origin: str, ns_address: str = "127.0.0.1") -> None:
        self.path, self.origin, self.ns_address = path, origin.rstrip("."), ns_address
        self.serial = 2026120701
        self.txt: dict[str, list[str]] = {}  # owner name (relative) -> values
        secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.tsig_key = f"acme-update.:{secret}"  # NAME:BASE64, shared with the server
        self.keyring = dns.tsigkeyring.from_text({"acme-update.": ("hmac-sha256", secret)})
        self.write()

    def server_args(self) -> list[str]:
        """What ``learn_dns.authoritative`` needs to serve this zone and accept our signed UPDATEs."""
        return ["--zone", str(self.path), "--tsig-key", self.tsig_key]

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

    async def publish(self, name: str, values: list[str], *, server: tuple[str, int], trace=None) -> None:
        """Replace ``name``'s TXT records by UPDATE, then wait (bounded) until the server answers them."""
        owner = self.relative(name)
        update = dns.update.UpdateMessage(
            self.origin + ".", keyring=self.keyring, keyname="acme-update.", keyalgorithm="hmac-sha256"
        )
        update.delete(owner, "TXT")  # class ANY: the whole RRset (RFC 2136 §2.5.2)
        for value in values:
            update.add(owner, 1, "TXT", f'"{value}"')  # class IN: one record each (§2.5.1)
        what = f"add TXT {values!r}" if values else "delete TXT"
        if trace is not None:
            trace.sent(f"UPDATE zone {self.origin}: {name} {what} (TSIG key acme-update.)", peer="dns")
        try:  # dnspython checks the answer's TSIG (signed over our request's MAC) before returning it
            response = await dns.asyncquery.udp(update, server[0], port=server[1], timeout=5)
        except dns.exception.Timeout:
            raise UpdateFailed(f"no answer to the UPDATE from {server[0]}:{server[1]} in 5 s") from None
        except dns.exception.DNSException as error:  # e.g. an unsigned or badly signed answer
            raise UpdateFailed(f"the answer to the UPDATE was not accepted: {error!r}") from None
        rcode = dns.rcode.to_text(response.rcode())
        if trace is not None:
            signed = "signed by the server" if response.had_tsig else "unsigned"
            trace.received(f"UPDATE answer {rcode} ({signed})", peer="dns")
        if response.rcode() != dns.rcode.NOERROR:
            raise UpdateFailed(f"the dns/ server answered the UPDATE with {rcode}")
        if values:
            self.txt[owner] = values
        else:
            self.txt.pop(owner, None)
        async with asyncio.timeout(10):
            while sorted(await lookup_txt(name, server)) != sorted(values):
                await asyncio.sleep(0.05)


class UpdateFailed(Exception):
    """The server refused the UPDATE, or did not answer."""


async def soa_serial(origin: str, server: tuple[str, int]) -> int:
    """The zone's serial as the server answers it now."""
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = [server[0]], server[1], 2.0
    answer = await resolver.resolve(origin, "SOA")
    return answer[0].serial


async def lookup_txt(name: str, server: tuple[str, int]) -> list[str]:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = [server[0]], server[1], 2.0
    try:
        answer = await resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.exception.Timeout):
        return []
    return [b"".join(r.strings).decode() for r in answer]
