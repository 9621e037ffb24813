"""The webhook demo's structured trace events name both ends of every message.

Every ``sent`` and ``received`` event carries ``peer``, the other end as that
end names itself in its own events (the provider and the demo are known to the
receiver by their User-Agent), except an attempt that got no answer at all;
and a delivery carries its webhook-id as ``cid`` on both ends, so the viewer
pairs the provider's POST with the receiver's, and the 202 coming back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from wirelab_common.trace_events import ENV, read_events

pytestmark = pytest.mark.loopback

NO_ANSWER = re.compile(r"^(ConnectError|ConnectTimeout|timeout after)")  # nothing came back: no peer


@pytest.mark.timeout(120)
def test_every_message_names_its_peer_and_deliveries_pair_by_webhook_id(tmp_path):
    events_file = tmp_path / "events.jsonl"
    done = subprocess.run([sys.executable, "-m", "learn_webhook.demo"], cwd=tmp_path,
                          env={**os.environ, ENV: str(events_file)}, capture_output=True, text=True,
                          timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    events = read_events(str(events_file))
    actors = {e["actor"] for e in events}
    assert {"demo", "provider", "receiver"} <= actors
    messages = [e for e in events if e["direction"] in ("sent", "received")]
    for e in messages:
        if NO_ANSWER.match(e["summary"]):
            assert e["peer"] is None, e
        else:
            assert e["peer"] in actors - {e["actor"]}, e
    # Each POST the provider sent, the receiver received from the provider, with the same id;
    # and each answer the receiver sent the provider, the provider received.
    def pairs(direction: str, sender: str, receiver: str) -> Counter:
        me = sender if direction == "sent" else receiver
        return Counter(e["cid"] for e in messages if e["direction"] == direction and e["actor"] == me
                       and e["peer"] == (receiver if direction == "sent" else sender))
    posts = pairs("sent", "provider", "receiver")
    assert len(posts) == 4 and all(cid.startswith("msg_") for cid in posts)  # act 2's event, act 5's 3
    assert set(pairs("received", "provider", "receiver")) == set(posts)  # each arrived, at some attempt
    assert pairs("sent", "receiver", "provider") == pairs("received", "receiver", "provider")
    # The demo's own requests to the receiver (the forgery, the replay) are told apart from the provider's.
    assert set(pairs("received", "demo", "receiver")) == {"msg_forged", "msg_replayed"}
