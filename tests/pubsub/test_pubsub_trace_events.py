"""The pubsub demo's structured trace events name both ends of every message.

Every program here talks to Redis only, which writes no events: every ``sent``
and ``received`` names ``redis`` as its peer, so the viewer draws Redis's own
lifeline between publishers and subscribers instead of pairing a PUBLISH
straight with a delivery.  The message id (pub/sub) or the stream entry id
(streams) is the ``cid`` on both sides of Redis.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_binary
from wirelab_common.trace_events import ENV, read_events

pytestmark = pytest.mark.loopback


def record(tmp_path, act: str) -> list[dict]:
    need_binary("redis-server", "redis-server")
    events_file = tmp_path / "events.jsonl"
    done = subprocess.run([sys.executable, "-m", "learn_pubsub.demo", "--act", act], cwd=tmp_path,
                          env={**os.environ, ENV: str(events_file)}, capture_output=True, text=True,
                          timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return [e for e in read_events(str(events_file)) if e["direction"] in ("sent", "received")]


def ids(messages: list[dict], direction: str, summary_start: str = "") -> set[str]:
    return {e["cid"] for e in messages
            if e["direction"] == direction and e["summary"].startswith(summary_start)}


@pytest.mark.timeout(60)
def test_resp_by_hand_names_redis_as_the_other_end(tmp_path):
    messages = record(tmp_path, "1")  # raw RESP: commands and replies, no message ids
    assert len(messages) >= 5 and {e["peer"] for e in messages} == {"redis"}


@pytest.mark.timeout(60)
def test_pubsub_messages_name_redis_and_carry_the_message_id(tmp_path):
    messages = record(tmp_path, "2")
    assert messages and {e["peer"] for e in messages} == {"redis"}
    published = ids(messages, "sent", "PUBLISH")
    assert published and None not in published
    delivered = [e["cid"] for e in messages if e["direction"] == "received"]
    assert set(delivered) == published  # every subscriber's message names what the publisher sent
    # one receiver event per receiver Redis counted for that PUBLISH ("-> 2 receiver(s)")
    for e in messages:
        if e["direction"] == "sent":
            assert f"-> {delivered.count(e['cid'])} receiver(s)" in e["summary"], e


@pytest.mark.timeout(120)
def test_stream_entries_carry_their_entry_id_from_xadd_to_the_consumer(tmp_path):
    messages = record(tmp_path, "4")
    assert messages and {e["peer"] for e in messages} == {"redis"}
    added = ids(messages, "sent", "XADD")
    consumed = {e["cid"] for e in messages if e["direction"] == "received" and e["cid"] is not None}
    assert added and consumed and consumed <= added
    assert all(cid.count("-") == 1 for cid in added)  # Redis entry ids: <ms>-<seq>
