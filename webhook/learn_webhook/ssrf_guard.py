"""Which URLs the provider may POST to: the guard against server-side request forgery.

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> **ssrf_guard** ->
dispatcher -> lean_http -> direct_route -> provider_app -> provider -> inbox ->
receiver_app -> receiver -> demo.
The dispatcher calls this module before every attempt, the provider's API before
every registration.

The problem (Standard Webhooks, "Server side request forgery (SSRF)").  Anyone who
may register a webhook URL chooses where *our* server sends requests.  From inside
our network that includes places the attacker cannot reach themselves::

    http://169.254.169.254/latest/meta-data/    a cloud metadata service (credentials!)
    http://127.0.0.1:6379/                      a database that trusts localhost
    http://10.0.0.5/admin/delete                an internal service with no auth

So a URL is refused when it is not ``http``/``https``, when it carries credentials
(``http://user:pw@host``: a secret stored in a log-friendly string, and a classic
way to disguise the real host), or when **any** address its host resolves to is
loopback, private, link-local, multicast, reserved, unspecified or otherwise not
globally routable (``ipaddress``'s categories).  "Any", not "the first": a name
with one public and one private address would let the resolver's order decide.

Networks listed with ``--allow-target`` (e.g. ``127.0.0.0/8`` for the demo and
the tests, whose receivers run on loopback) are let through.

**DNS rebinding.**  Checking at registration is not enough: the attacker owns the
name, so it can resolve to 93.184.216.34 when we check and to 127.0.0.1 a minute
later, when we deliver (a zero TTL makes this easy).  The dispatcher therefore
resolves again before *every* attempt and refuses the attempt if an address is now
forbidden.  That alone still leaves a gap: the HTTP client would resolve the name a
second time when it connects, and could get a different answer than the one we
checked.  So the dispatcher connects to the address we checked (the URL's host is
replaced by that IP; the ``Host`` header and the TLS server name keep the original
name), and there is nothing left to rebind.  The cost is one ``getaddrinfo`` per
attempt: a cache lookup in the system resolver, and nothing at all for a literal IP.

What production adds: an egress proxy that applies the same rules to every
outgoing connection (Stripe's smokescreen, as the spec suggests) and a network
in which the delivery workers cannot reach internal services anyway; limits on
ports; and care with IPv6 transition prefixes (6to4, Teredo) that embed IPv4
addresses.  IPv4-mapped IPv6 addresses (``::ffff:127.0.0.1``) are unwrapped here.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

SCHEMES = {"http": 80, "https": 443}

# The categories, most telling first: the reason names the first one that applies.
FORBIDDEN = [
    ("unspecified", lambda ip: ip.is_unspecified),
    ("loopback", lambda ip: ip.is_loopback),
    ("link-local", lambda ip: ip.is_link_local),
    ("multicast", lambda ip: ip.is_multicast),
    ("reserved", lambda ip: ip.is_reserved),  # 240.0.0.0/4 and friends (ipaddress calls them private too)
    ("private", lambda ip: ip.is_private),
    # e.g. 100.64.0.0/10 (carrier-grade NAT) is none of the above, and still not the internet
    ("not globally routable", lambda ip: not ip.is_global),
]


class TargetRefused(ValueError):
    """The URL may not be a webhook target; the message says why, for the API's 400."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where it points, and the addresses that were checked."""

    url: str
    scheme: str
    host: str  # without brackets for IPv6
    port: int
    addresses: tuple[str, ...]  # every resolved address, each one allowed


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses of ``host`` (IPv4 and IPv6), via the system resolver (blocking)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"cannot resolve {host!r}: {exc.strerror}") from None
    return [str(info[4][0]) for info in infos]


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``["127.0.0.0/8", "::1"]`` -> networks; a bad value raises ValueError naming it."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"not a network: {value!r} (expected e.g. 127.0.0.0/8)") from None
    return tuple(networks)


def forbidden_reason(address: str, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why ``address`` may not be a target, or None if it may."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 on the wire
    if any(ip in network for network in allowed):
        return None
    for name, applies in FORBIDDEN:
        if applies(ip):
            return name
    return None


def is_literal(host: str) -> bool:
    """True for an IP address written out (nothing to resolve, so ``check`` will not block)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def parse_target(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of ``url``, or TargetRefused for anything but plain http(s)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise TargetRefused(f"the scheme must be http or https, got {scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not contain credentials (user:password@)")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    return scheme, parts.hostname, port or SCHEMES[scheme]


class TargetGuard:
    """Checks URLs against the rules above; ``allowed`` networks are exempt."""

    def __init__(self, allowed: Sequence[IPNetwork] = (), resolver: Resolver = system_resolver) -> None:
        self.allowed = tuple(allowed)
        self.resolver = resolver
        # address -> forbidden_reason(address, allowed): a pure function of the two, so it is
        # remembered.  The *resolution* is never cached: a name is resolved on every check.
        self._verdicts: dict[str, str | None] = {}

    def check(self, url: str) -> Target:
        """Resolve ``url``'s host and check every address (blocking, unless :func:`is_literal`)."""
        scheme, host, port = parse_target(url)
        addresses = [host] if is_literal(host) else self.resolver(host, port)
        if not addresses:
            raise TargetRefused(f"{host!r} has no addresses")
        for address in addresses:
            if address not in self._verdicts:
                if len(self._verdicts) >= 4096:
                    self._verdicts.clear()  # bounded: a resolver may return ever new addresses
                self._verdicts[address] = forbidden_reason(address, self.allowed)
            reason = self._verdicts[address]
            if reason is not None:
                kind = ("an " if reason[0] in "aeiou" else "a ") + reason + " address"
                where = f"{host} is {kind}" if address == host else f"{host} resolves to {address}, {kind}"
                hint = (f"only {', '.join(map(str, self.allowed))} may be reached besides public addresses"
                        if self.allowed else "start the provider with --allow-target NETWORK to allow it")
                raise TargetRefused(f"{where}; webhooks may only go to public addresses ({hint})")
        return Target(url, scheme, host, port, tuple(dict.fromkeys(addresses)))
