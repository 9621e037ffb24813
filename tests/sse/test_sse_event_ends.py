"""The structured events name both ends of every message: ``peer`` and ``cid`` (issue 20).

A demo act runs with ``WIRELAB_TRACE_FILE``; every ``sent`` and ``received``
event must name as its peer an actor that wrote events itself (so the viewer
draws the arrow between two real lifelines), and every ``received`` with a
correlation id must have a ``sent`` with the same id, from the actor it names,
to the actor that received it.  The text trace is not touched: the demo runs in
tests/test_demos.py check it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from wirelab_common.trace_events import ENV, read_events

pytestmark = pytest.mark.loopback


def ends(events: list[dict]) -> tuple[list[str], Counter, int]:
    """(messages whose peer writes no events, received ids with no such sent, pairs found)."""
    actors = {e["actor"] for e in events}
    wire = [e for e in events if e["direction"] in ("sent", "received")]
    strangers = [f"{e['actor']} {e['direction']} {e['summary'][:60]!r} peer={e['peer']}"
                 for e in wire if e["peer"] not in actors]
    sent = Counter((e["actor"], e["peer"], e["cid"]) for e in wire if e["direction"] == "sent" and e["cid"])
    received = Counter((e["peer"], e["actor"], e["cid"]) for e in wire
                       if e["direction"] == "received" and e["cid"])
    return strangers, received - sent, sum((received & sent).values())


def record(tmp_path, act: str) -> list[dict]:
    path = tmp_path / f"act{act}.jsonl"
    done = subprocess.run([sys.executable, "-m", "learn_sse.demo", "--act", act],
                          env={**os.environ, ENV: str(path)}, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return read_events(str(path))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("act", "least"), [("2", 12), ("3", 20)])
def test_every_message_of_an_act_names_its_other_end(tmp_path, act, least):
    events = record(tmp_path, act)
    strangers, orphans, pairs = ends(events)
    assert not strangers, "peers that are no actor in the file:\n" + "\n".join(strangers)
    assert not orphans, f"received with an id nobody sent: {orphans}"
    # act 2: the client's events, by SSE id; act 3: the completion's chunks, by completion id
    assert pairs >= least, f"only {pairs} messages paired by cid"
    assert {e["actor"] for e in events} >= {"demo", "sse"}


def test_the_server_names_the_client_by_its_user_agent(tmp_path):
    events = record(tmp_path, "2")
    served = [e for e in events if e["actor"] == "sse" and e["direction"] == "sent"]
    assert served and {e["peer"] for e in served} == {"client"}
    assert all(e["cid"] == e["summary"].split(" id=")[1].split()[0] for e in served)
