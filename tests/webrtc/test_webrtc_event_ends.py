"""The structured events name both ends of every message: ``peer`` and ``cid`` (issue 20).

Acts 1 and 2 run with ``WIRELAB_TRACE_FILE``.  Every ``sent`` and ``received``
event must name as its peer an actor that wrote events itself: the signaling
server learns its clients' names from their handshake's ``User-Agent``, and
alice and bob know each other from ``pair``.  Every ``received`` with a
correlation id must have a ``sent`` with that id from the actor it names: a
signaling message's number on its connection (``c3``: the client's third,
``s3``: the server's), a data channel message's channel id (``dc1``).
Act 1's raw client (the demo) prints only the replies it checks, so the
server's receipts of its messages are the one kind left unpaired.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from learn_webrtc.signaling import agent_name, user_agent
from wirelab_common.trace_events import ENV, read_events

pytestmark = pytest.mark.loopback


@pytest.mark.timeout(120)
def test_signaling_and_chat_messages_name_both_ends(tmp_path):
    path = tmp_path / "webrtc.jsonl"
    done = subprocess.run([sys.executable, "-m", "learn_webrtc.demo", "--act", "1", "--act", "2"],
                          env={**os.environ, ENV: str(path)}, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    events = read_events(str(path))
    actors = {e["actor"] for e in events}
    assert actors >= {"demo", "signal", "alice", "bob"}
    wire = [e for e in events if e["direction"] in ("sent", "received")]
    strangers = [f"{e['actor']} {e['summary'][:60]!r} peer={e['peer']}"
                 for e in wire if e["peer"] not in actors]
    assert not strangers, "peers that are no actor in the file:\n" + "\n".join(strangers)
    sent = Counter((e["actor"], e["peer"], e["cid"]) for e in wire if e["direction"] == "sent" and e["cid"])
    # (act 1's raw client, the demo, prints only the replies it checks, not what it sends)
    received = Counter((e["peer"], e["actor"], e["cid"]) for e in wire
                       if e["direction"] == "received" and e["cid"] and e["peer"] != "demo")
    assert not received - sent, f"received with an id nobody sent: {received - sent}"
    paired = received & sent
    assert paired[("alice", "signal", "c2")] == 1  # alice's offer, her second message
    assert paired[("alice", "bob", "dc1")] == 1 and paired[("bob", "alice", "dc1")] == 1  # the chat lines
    assert {"demo", "alice", "bob"} <= {e["peer"] for e in wire if e["actor"] == "signal"}


def test_a_client_names_itself_first_in_its_user_agent():
    assert agent_name(user_agent("alice")) == "alice"
    assert agent_name("Mozilla/5.0 (X11; Linux x86_64)") == "Mozilla"
    assert agent_name("") is None and agent_name(None) is None
