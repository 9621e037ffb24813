"""Trace events name both ends (``peer``) and the JSON-RPC id (``cid``): acts 7 (stdio) and 8 (HTTP).

Each act runs as the viewer records it (``WIRELAB_TRACE_FILE``): the host and the server
are separate processes writing to one events file.
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

# A message's own id opens its summary: "#3 tools/call ...", "POST #3 ...", "200 #1 result", "SSE #s1 ..."
ID = re.compile(r"^(?:POST |SSE (?:GET )?|\d{3} )?#(s?\d+) ")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("act", ["7", "8"], ids=["stdio", "http"])
def test_every_message_event_names_its_peer_and_its_id(tmp_path, act):
    path = tmp_path / "events.jsonl"
    done = subprocess.run([sys.executable, "-m", "learn_mcp.demo", "--act", act], cwd=tmp_path, timeout=80,
                          capture_output=True, text=True, env={**os.environ, ENV: str(path)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    wire = [e for e in read_events(str(path)) if e["direction"] in ("sent", "received")]
    assert {e["actor"] for e in wire} == {"host", "mcp"}  # the server's messages are events too
    for event in wire:
        assert event["peer"] == {"host": "mcp", "mcp": "host"}[event["actor"]], event
        named = ID.search(event["summary"] + " ")
        if named:
            assert event["cid"] == named.group(1), event
    # Each JSON-RPC message is one sent and one received event with the same cid, across the two ends.
    ends = Counter((e["actor"] if e["direction"] == "sent" else e["peer"], e["direction"], e["cid"])
                   for e in wire if e["cid"] is not None)
    for (sender, direction, cid), count in ends.items():
        if direction == "sent":
            assert ends[(sender, "received", cid)] == count, (sender, cid)
    asked = [e for e in wire if e["actor"] == "mcp" and e["direction"] == "sent" and e["cid"] == "s1"]
    assert len(asked) == 1 and ("sampling/createMessage" in asked[0]["summary"]
                                or "elicitation/create" in asked[0]["summary"])
