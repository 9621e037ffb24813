"""The structured events name both ends of every DNS message: ``peer`` and ``cid`` (issue 20).

A DNS message names no sender, so servers name their peers by source address
(``peers.py``), and the hierarchy tells them which address is whose.  The demo's
act 2 (dig +trace) runs with ``WIRELAB_TRACE_FILE``: every ``sent`` and
``received`` event must name as its peer an actor that wrote events itself, and
each query and answer between ``trace`` and the servers must pair by its
message id (``cid``), the sender naming the receiver and the receiver the
sender.  (The secondary's SOA polls are traced by the primary only, so only the
messages with ``trace`` at one end are paired here.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from wirelab_common.trace_events import ENV, read_events

pytestmark = pytest.mark.loopback


@pytest.mark.timeout(120)
def test_dig_trace_queries_and_answers_pair_by_message_id(tmp_path):
    path = tmp_path / "dns.jsonl"
    done = subprocess.run([sys.executable, "-m", "learn_dns.demo", "--act", "2"],
                          env={**os.environ, ENV: str(path)}, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    events = read_events(str(path))
    actors = {e["actor"] for e in events}
    wire = [e for e in events if e["direction"] in ("sent", "received")]
    strangers = [f"{e['actor']} {e['summary'][:60]!r} peer={e['peer']}"
                 for e in wire if e["peer"] not in actors]
    assert not strangers, "peers that are no actor in the file:\n" + "\n".join(strangers)

    walk = [e for e in wire if "trace" in (e["actor"], e["peer"])]
    sent = Counter((e["actor"], e["peer"], e["cid"]) for e in walk if e["direction"] == "sent")
    received = Counter((e["peer"], e["actor"], e["cid"]) for e in walk if e["direction"] == "received")
    assert sent == received, f"unpaired: sent {sent - received}, received {received - sent}"
    # root, com and example.com: a query and an answer each, by the query's id
    queries = [e for e in walk if e["actor"] == "trace" and e["direction"] == "sent"]
    assert [e["peer"] for e in queries] == ["127.53.0.1", "127.53.0.2", "127.53.0.3"]
    assert all(f"id {e['cid']}," in e["summary"] for e in queries)  # the cid is the DNS message id
    assert len(walk) == 4 * len(queries)  # each: query sent, received; answer sent, received
