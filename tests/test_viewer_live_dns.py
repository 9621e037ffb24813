"""The viewer in real Chromium, following a live dns demo over SSE (issue 20, item 4).

The page opens on an empty events file before the demo starts, so every event
it draws reached it over the live ``/events`` stream while the demo wrote it.
Then the arrows are counted against the events (one per ``sent``; every query
and answer of act 2's dig +trace paired with its other end by ``peer`` and
``cid``, none left to the "?" lane), one arrow is clicked, and the bytes of the
query as the server received them are shown.
"""

from __future__ import annotations

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


def drawn(page) -> int:
    return int(page.evaluate("document.body.dataset.count || 0"))


@pytest.mark.timeout(150)
def test_a_live_dns_demo_is_drawn_as_it_runs(tmp_path, chromium_page):
    events_file = tmp_path / "live.jsonl"
    events_file.write_text("")  # nothing yet: the demo starts after the page
    argv = [sys.executable, "-m", "wirelab_common.viewer", str(events_file), "--port", "0"]
    with start_server(argv, name="viewer") as server:
        page = chromium_page
        page.goto(server.url + "/")
        page.wait_for_selector("#status:has-text('following')", timeout=10000)
        assert drawn(page) == 0
        demo = subprocess.Popen([sys.executable, "-m", "learn_dns.demo", "--act", "2"],
                                env={**os.environ, ENV: str(events_file)},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            out, _ = demo.communicate(timeout=100)
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait(10)
        assert demo.returncode == 0, out[-3000:]
        events = read_events(str(events_file))
        eventually(lambda: drawn(page) == len(events), 30, f"all {len(events)} live events drawn")
        assert page.locator("#status", has_text="following").count() == 1  # the same page, still live

        sent = [i for i, e in enumerate(events) if e["direction"] == "sent"]
        assert page.locator("#rows .row.arrow[data-dir=sent]").count() == len(sent)
        walk = [i for i, e in enumerate(events)
                if e["direction"] in ("sent", "received") and "trace" in (e["actor"], e["peer"])]
        assert len(walk) == 12  # root, com, example.com: query and answer, each seen at both ends
        for i in walk:  # each received end folded into its sender's arrow: no "?" lane
            row = page.locator(f"#rows .row[data-index='{i}']")
            if events[i]["direction"] == "received":
                assert "paired" in row.get_attribute("class").split(), events[i]["summary"]
            else:
                assert row.locator(".line.half").count() == 0, events[i]["summary"]
        assert page.locator("#rows .row.act").count() == 1  # the act banner is a section

        # The root's query: the arrow from trace to 127.53.0.1; its receiving end has the bytes.
        query = next(i for i in walk if events[i]["actor"] == "trace" and events[i]["direction"] == "sent")
        received = next(i for i in walk if events[i]["direction"] == "received"
                        and events[i]["cid"] == events[query]["cid"] and events[i]["actor"] == "127.53.0.1")
        assert any(BYTES.search(line) for line in events[received]["detail"])
        page.locator(f"#rows .row[data-index='{query}'] .label").click()
        shown = page.locator("#detail").inner_text(timeout=5000)
        for line in events[received]["detail"]:
            assert line in shown
        assert events[query]["cid"] in shown  # the DNS message id both ends carry
