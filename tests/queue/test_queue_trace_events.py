"""The queue demo's structured trace events name both ends of every message.

Every ``sent`` and ``received`` event carries ``peer``: the other end as that
end names itself in its own events (the web API knows the demo by its
User-Agent), or ``redis``, which writes none; and every event about a job
carries the job id as ``cid``, from the web API's 201 to the worker that runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_binary
from wirelab_common.trace_events import ENV, read_events

pytestmark = pytest.mark.loopback


@pytest.mark.timeout(90)
def test_every_message_names_its_peer_and_each_job_its_id(tmp_path):
    need_binary("redis-server", "redis-server")
    events_file = tmp_path / "events.jsonl"
    done = subprocess.run([sys.executable, "-m", "learn_queue.demo", "--act", "1"], cwd=tmp_path,
                          env={**os.environ, ENV: str(events_file)}, capture_output=True, text=True,
                          timeout=80)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    events = read_events(str(events_file))
    actors = {e["actor"] for e in events}
    messages = [e for e in events if e["direction"] in ("sent", "received")]
    assert {(e["actor"], e["direction"], e["peer"]) for e in messages} == {
        ("demo", "sent", "web"), ("web", "received", "demo"), ("web", "sent", "demo"),
        ("demo", "received", "web"), ("worker", "received", "redis")}
    assert {"demo", "web", "worker"} <= actors
    # Two jobs: each id is in the web API's 201, the demo's reading of it, and the worker's fetch.
    created = [e["cid"] for e in messages if e["actor"] == "web" and e["direction"] == "sent"]
    assert len(created) == 2
    for jid in created:
        assert {(e["actor"], e["direction"]) for e in messages if e["cid"] == jid} >= {
            ("web", "received"), ("web", "sent"), ("demo", "received"), ("worker", "received")}
    # Only the demo's POST goes out before the job has an id.
    assert [e["summary"] for e in messages if e["cid"] is None] == [
        e["summary"] for e in messages if e["actor"] == "demo" and e["direction"] == "sent"]
