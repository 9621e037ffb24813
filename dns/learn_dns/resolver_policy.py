"""Who may use the resolver, and how fast: an allow-list and a per-client token bucket.

Reading order: after ``resolver.py``; used by ``resolver_server.py`` before any
work is done for a query.

Why a recursive resolver needs both: an *open* resolver (one that recurses for
anyone on the Internet) is a reflection amplifier for DDoS attacks and a target
for cache poisoning, so operators answer REFUSED outside their own networks
(RFC 5358 §4).  Inside, one misbehaving client should not starve the others,
hence a small token bucket per client address.  Pure logic: the clock is passed in.
"""

from __future__ import annotations

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


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """At most ``rate`` queries per second per client, with bursts of ``burst``.

    ``rate <= 0`` turns the limit off (the benchmark does, since dnsperf is one
    client sending as fast as it can).
    """

    def __init__(self, rate: float, burst: float | None = None, max_clients: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, client: str, now: float) -> bool:
        if self.rate <= 0:
            return True
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._buckets.clear()  # crude, bounded memory; a real one would use an LRU
            bucket = self._buckets[client] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False
