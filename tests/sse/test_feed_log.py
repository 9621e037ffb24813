"""The feed appends to the real event log (sqlite3 in a temp dir) until the log closes."""

from __future__ import annotations

import asyncio
import json

import pytest

from learn_sse.event_log import EventLog
from learn_sse.feed import run_feed

pytestmark = pytest.mark.memory


async def test_run_feed_appends_to_the_log_until_it_closes(tmp_path):
    log = EventLog.open(tmp_path, replay=10)
    ticks = 0

    async def fake_sleep(seconds: float) -> None:  # an injected clock: no real waiting
        nonlocal ticks
        ticks += 1
        if ticks == 4:
            log.close()
        await asyncio.sleep(0)

    await asyncio.wait_for(run_feed(log, 1.0, sleep=fake_sleep), 5)
    assert [(e.id, e.type) for e in log.after(0)] == [(1, "price"), (2, "news"), (3, "status")]
    assert json.loads(log.after(0)[0].data)["tick"] == 1
    await log.aclose()
