"""Speed beside the lesson: the resolver's hot cache hits answered without parsing, many per system call.

Reading order: after ``server.py``, which uses it unless ``--fast off``.
Nothing here decides an answer: every entry is a copy of what
:meth:`server.ResolverService.fast_answer` (the lesson's hot path: access
control, :class:`cache.AnswerCache`, TTLs counted down) has just sent, and it
is given again only to a query that would get the very same bytes from it.

The key is the query's bytes after its ID with every letter folded to lower
case (as ``wire_cache.py``'s folded level, whose docstring says why folding
cannot mix up two different questions); the entry holds where the QNAME
ends, the query's other bytes exactly (header bytes 2-11, and QTYPE, QCLASS
and the OPT record after the QNAME), the answer's bytes around the question,
and until when those bytes are right:

- **TTLs** count down (RFC 1035 §3.2.1): ``AnswerCache`` writes ``TTL - whole
  seconds since it was stored`` into each answer, so the copy is good until
  the next whole second (or the answer's expiry, if sooner), then the lesson's
  path renders it again and refills the entry;
- **access control**: the sender's address is checked on every hit (its
  verdict is kept by raw address bytes, which ``udp_batch.py`` has without
  decoding anything);
- **response rate limiting** counts every answer, so with ``--rrl`` this path
  is off (it is off by default, as unbound's);
- a query that would be truncated, or logged (without ``--quiet``), is never
  copied: the lesson's path keeps handling it.

When a copy is a second old, the entry also knows the ``AnswerCache`` key and
the client's UDP size that the lesson's path computed for this query shape,
so it takes the lesson's next step itself: ``AnswerCache.get`` renders the
answer afresh (id, RD, QNAME, TTLs), the same size check applies, and the
copy is refilled.  With no entry at all, :meth:`FoldedAnswers.answer` asks the lesson's
hot path itself (``lesson(data, client)``, which is ``fast_answer``) and
returns what it returns, so that a cache hit whose copy is a second old
still leaves in the same ``sendmmsg`` as the others (and refills its copy);
only when that path has no answer either (a miss, to be resolved) does the
datagram go on to the server's slow path.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from .cache import AnswerCache
from .policy import AllowList

MAX_ENTRIES = 50_000
# name end, query head (bytes 2-11), query tail, answer head, answer tail, good until,
# AnswerCache key, the client's UDP size (0: none)
Entry = tuple[int, bytes, bytes, bytes, bytes, float, bytes, int]


class FoldedAnswers:
    """Recent hot-cache answers by folded query bytes; :meth:`answer` is ``udp_batch``'s ``fast``."""

    def __init__(self, clock: Callable[[], float], allow: AllowList, answers: AnswerCache,
                 lesson: Callable[[bytes, str], bytes | None] = lambda data, client: None,
                 max_entries: int = MAX_ENTRIES) -> None:
        self.clock = clock
        self.allow = allow
        self.answers = answers  # the lesson's AnswerCache, which renders a copy afresh
        self.lesson = lesson  # the lesson's hot path: its answer (bytes), or None
        self.max_entries = max_entries
        self.entries: dict[bytes, Entry] = {}
        self.verdicts: dict[bytes, bool] = {}  # raw source address -> allowed (AllowList's networks)
        self.hits = 0

    def put(self, query: bytes, name_end: int, response: bytes, until: float, key: bytes, limit: int) -> None:
        """``response`` is what the lesson's path sent to ``query``, right until ``until``; ``key``
        and ``limit`` are the AnswerCache key and UDP size it found for it."""
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[query[2:].lower()] = (name_end, query[2:12], query[name_end:], response[2:12],
                                           response[name_end:], until, key, limit)

    def allowed(self, source: bytes) -> bool:
        verdict = self.verdicts.get(source)
        if verdict is None:
            ip = ipaddress.ip_address(source)
            verdict = any(ip in net for net in self.allow.networks)
            if len(self.verdicts) > 10_000:
                self.verdicts.clear()
            self.verdicts[source] = verdict
        return verdict

    def answer(self, data: bytes, source: bytes) -> bytes | None:
        """The answer the lesson's path would send ``data`` from ``source`` now, or None: ask it."""
        entry = self.entries.get(data[2:].lower())
        if entry is not None:
            name_end, head, tail, answer_head, answer_tail, until, key, limit = entry
            if (data[name_end:] == tail and data[2:12] == head
                    and (self.verdicts.get(source) or self.allowed(source))):
                if self.clock() < until:
                    self.hits += 1
                    return data[:2] + answer_head + data[12:name_end] + answer_tail
                wire = self.answers.get(key, data, name_end)  # the lesson's step: rendered afresh
                if wire is not None and not (limit and len(wire) > limit):
                    self.put(data, name_end, wire, self.answers.rendered_until, key, limit)
                    return wire
        family = socket.AF_INET if len(source) == 4 else socket.AF_INET6
        return self.lesson(data, socket.inet_ntop(family, source)) or None  # b"" (drop) too: its own way
