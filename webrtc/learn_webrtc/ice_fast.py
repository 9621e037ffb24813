"""ICE that notices its own verdict at once: the benchmark's fast path, beside the lesson.

Not in the reading order: the lesson (``peer.py``) uses aioice as it is.  This
is what ``bench/bench_webrtc.py`` installs unless run with ``--ice plain``.

Where it helps.  aioice's ``Connection.connect()`` paces the connectivity
checks like RFC 8445's Ta timer: it starts one check, sleeps 20 ms, starts the
next, and only when there is nothing left to start does it wait for the check
list's verdict (completed or failed).  On loopback the first check and its
nomination finish in about half a millisecond, inside the first sleep, so
``connect()`` -- and with it ``iceConnectionState -> completed``, the DTLS
handshake, SCTP and the data channel -- waits out the rest of the 20 ms
doing nothing.  Profiled (``aioice.ice`` and ``aiortc`` logs with
timestamps): "ICE completed" at 10.0 ms, ``checking -> completed`` at 29.3 ms.

What changes.  Only who keeps the Ta clock: the first tick still runs inside
``connect()``; once the check list has a pair, the following ticks run in a
task of their own (same 20 ms, same ``_check_periodic``), so ``connect()``
goes straight to waiting for the verdict and returns the moment there is one.
Which pairs are checked, in which order, how they are nominated, and when ICE
fails are aioice's own code, untouched.  While the check list is still empty
(trickle: remote candidates not in yet) ``connect()`` keeps ticking itself, as
before, because an empty list with no verdict would otherwise read as failure.

``tests/webrtc/test_webrtc_ice_fast.py`` runs the same connections with and
without it (a data channel both ways, the nominated pair's candidate types,
ICE with nothing to try) and requires the same outcomes.
"""

from __future__ import annotations

import asyncio

import aioice.ice

TA = 0.02  # aioice's pacing interval (RFC 8445 §6.1.4.2's Ta), the sleep in its connect()

_plain_check_periodic = aioice.ice.Connection._check_periodic  # noqa: SLF001 (see the docstring)


def _check_periodic(self: aioice.ice.Connection) -> bool:
    """One Ta tick; the first one with a pair to check hands the next ones to a pacer task."""
    more = _plain_check_periodic(self)
    if not more or not self._check_list or getattr(self, "_pacer", None) is not None:
        return more
    self._pacer = asyncio.create_task(_pace(self), name=f"ice-pacer-{id(self)}")
    return False  # connect() stops ticking and waits for the verdict right away


async def _pace(connection: aioice.ice.Connection) -> None:
    """The remaining Ta ticks, until aioice says there is nothing more to start."""
    while True:
        await asyncio.sleep(TA)
        if not _plain_check_periodic(connection):
            return


def install() -> None:
    """Use the fast path in every aioice connection from now on (the benchmark does, at start-up)."""
    aioice.ice.Connection._check_periodic = _check_periodic  # noqa: SLF001


def uninstall() -> None:
    """Back to aioice as it is (the lesson's behaviour)."""
    aioice.ice.Connection._check_periodic = _plain_check_periodic  # noqa: SLF001


def installed() -> bool:
    return aioice.ice.Connection._check_periodic is _check_periodic  # noqa: SLF001
