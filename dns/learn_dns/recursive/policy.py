"""Who may use the resolver, and how fast: an allow-list and response rate limiting with slip.

Reading order: after ``resolver.py``; used by ``server.py`` before any
work is done for a query.

Why a recursive resolver needs both: an *open* resolver (one that recurses for
anyone on the Internet) is a reflection amplifier for DDoS attacks and a target
for cache poisoning, so operators answer REFUSED outside their own networks
(RFC 5358 §4).  Inside, a resolver may still be asked to send a flood of UDP
answers to an address that never asked (UDP source addresses can be forged),
hence **response rate limiting** (RRL, as in BIND, Knot and NSD; unbound's
``ip-ratelimit`` is the same idea).  Pure logic: the clock is passed in.

Why not simply answer REFUSED over the limit?  A REFUSED is still a packet sent
to the victim, and a legitimate client in a burst (a mail server checking a
batch of addresses) would get errors it takes as final.  RRL instead *drops*
the answers over the limit, except every ``slip``-th one, which goes out as a
tiny empty response with TC=1 ("truncated, ask me over TCP").  A real client
retries over TCP, whose handshake proves its address, and gets its answer there
(TCP is never limited); a forged source gets a few small packets, no amplification.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass


class AllowList:
    """Client networks allowed to ask for recursion (like unbound's ``access-control``)."""

    def __init__(self, networks: list[str]) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]
        self._verdicts: dict[str, bool] = {}  # parsing an address costs more than answering from cache

    def allows(self, address: str) -> bool:
        verdict = self._verdicts.get(address)
        if verdict is None:
            ip = ipaddress.ip_address(address)
            verdict = any(ip in net for net in self.networks)
            if len(self._verdicts) > 10_000:
                self._verdicts.clear()
            self._verdicts[address] = verdict
        return verdict


class Verdict(enum.Enum):
    SEND = "send"  # under the limit: the normal answer
    SLIP = "slip"  # over it, the slip-th time: an empty TC=1 answer, the client retries over TCP
    DROP = "drop"  # over it: no answer at all, the client's own timeout and retry take over


@dataclass
class _Bucket:
    tokens: float
    updated: float
    limited: int = 0  # answers over the limit so far: every slip-th one slips


class ResponseRateLimit:
    """At most ``rate`` UDP answers per second per client address, with bursts of ``burst``.

    Over the limit the 1st, (1+slip)-th, (1+2*slip)-th... answer *slips* (TC=1) and
    the others are dropped; ``slip=1`` slips every one, ``slip=0`` drops every one
    (BIND's ``slip``, default 2).  ``rate <= 0``, the default, turns RRL off, as in
    unbound (a benchmark's dnsperf is one client sending as fast as it can).

    Simplified: the bucket is per client address.  BIND keys it by the client's
    /24 *and* the response (name, type, rcode), so that one client asking many
    different names is not limited; a forged-source flood asks the same thing.
    """

    def __init__(self, rate: float, burst: float | None = None, slip: int = 2,
                 max_clients: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self.slip = slip
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}

    @property
    def on(self) -> bool:
        return self.rate > 0

    def verdict(self, client: str, now: float) -> Verdict:
        if self.rate <= 0:
            return Verdict.SEND
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._buckets.clear()  # crude, bounded memory; a real one would use an LRU
            bucket = self._buckets[client] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict.SEND
        slip = self.slip > 0 and bucket.limited % self.slip == 0
        bucket.limited += 1
        return Verdict.SLIP if slip else Verdict.DROP
