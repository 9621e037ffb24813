"""The sequence-diagram viewer in real Chromium: a recorded demo drawn, and a growing file followed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from wirelab_common.processes import start_server
from wirelab_common.trace_events import ENV, read_events
from wirelab_common.waiting import eventually

pytestmark = pytest.mark.differential

BYTES = re.compile(r"\b[0-9a-f]{2}( [0-9a-f]{2}){3,}")


def viewer(path):
    return start_server([sys.executable, "-m", "wirelab_common.viewer", str(path), "--port", "0"],
                        name="viewer")


def drawn(page) -> int:
    return int(page.evaluate("document.body.dataset.count || 0"))


def test_a_recorded_demo_is_drawn_one_arrow_per_sent_message(tmp_path, chromium_page):
    events_file = tmp_path / "events.jsonl"
    env = {**os.environ, ENV: str(events_file)}
    done = subprocess.run([sys.executable, "-m", "learn_websocket.demo", "--act", "1"], env=env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    events = read_events(str(events_file))
    sent = [i for i, e in enumerate(events) if e["direction"] == "sent"]
    assert sent, "the demo wrote no sent events"
    with viewer(events_file) as server:
        page = chromium_page
        page.goto(server.url + "/")
        eventually(lambda: drawn(page) == len(events), 15, f"all {len(events)} events drawn")
        arrows = page.locator("#rows .row.arrow[data-dir=sent]")
        assert arrows.count() == len(sent)
        # Every message of act 1 has its receiving end in the file: no arrow to the "?" lane.
        assert page.locator("#rows .row.arrow[data-dir=sent] .line.half").count() == 0
        assert page.locator("#rows .row.act").count() >= 1  # the act banner is a section
        index = next(i for i in sent if any(BYTES.search(line) for line in events[i]["detail"]))
        page.locator(f"#rows .row[data-index='{index}'] .label").click()
        shown = page.locator("#detail").inner_text(timeout=5000)
        for line in events[index]["detail"]:
            assert line in shown


def event(actor, direction, summary, detail=()):
    return json.dumps({"t": 1.0, "pid": 1, "actor": actor, "direction": direction, "summary": summary,
                       "detail": list(detail), "peer": None, "protocol": None, "cid": None}) + "\n"


def test_a_growing_file_is_followed_live_and_repeats_collapse(tmp_path, chromium_page):
    events_file = tmp_path / "live.jsonl"
    events_file.write_text("")
    with viewer(events_file) as server:
        page = chromium_page
        page.goto(server.url + "/")
        page.wait_for_selector("#status:has-text('following')", timeout=10000)
        with events_file.open("a") as f:
            f.write(event("alice", "sent", "TEXT 'hi'", ["payload: 68 69"]))
            f.write(event("bob", "received", "TEXT 'hi'"))
            f.flush()
        eventually(lambda: drawn(page) == 2, 10, "the two appended events drawn")
        assert page.locator("#head .name", has_text="alice").count() == 1
        assert page.locator("#head .name", has_text="bob").count() == 1
        assert page.locator("#rows .row.arrow .line.half").count() == 0  # paired: alice -> bob
        # A burst of heartbeats, thousands of lines: all arrive, the repeats fold into one row.
        beats = 1500
        with events_file.open("a") as f:
            for _ in range(beats):
                f.write(event("alice", "sent", "PING b''") + event("bob", "received", "PING b''"))
        eventually(lambda: drawn(page) == 2 + 2 * beats, 30, "every heartbeat drawn")
        visible = page.locator("#rows .row.arrow:visible").count()
        assert visible == 2, f"{visible} rows visible; the repeats should be collapsed"
        assert page.locator("#rows .count", has_text=f"×{beats}").count() == 1
        page.locator("#collapse").uncheck()
        assert page.locator("#rows .row.arrow[data-dir=sent]:visible").count() == 1 + beats
        page.locator("#directions input[data-dir=sent]").uncheck()  # the direction filter
        assert page.locator("#rows .row.arrow:visible").count() == 0
        page.locator("#directions input[data-dir=sent]").check()
        page.locator("#actors label", has_text="bob").locator("input").uncheck()  # the actor filter
        assert page.locator("#rows .row.arrow:visible").count() == 0
