"""The mini_git demos' structured trace events name both ends of every message.

Network demo: every ``sent`` and ``received`` carries ``peer``, the other end
as that end names itself in its own events (``server``, ``mini_git``), or
``git`` for real git, which writes none (the server knows each client by its
User-Agent).  A fetch or a push carries the commit it is about as ``cid`` (the
first ``want``, the pushed id), read by both ends from the same pkt-lines.
Local demo: an object written or read back names the object database and the
object's id.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import need_binary
from wirelab_common.trace_events import ENV, read_events

pytestmark = pytest.mark.loopback


def record(tmp_path, module: str, *args: str) -> list[dict]:
    need_binary("git", "git")
    events_file = tmp_path / "events.jsonl"
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path,
                          env={**os.environ, ENV: str(events_file)}, capture_output=True, text=True,
                          timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return read_events(str(events_file))


@pytest.mark.timeout(120)
def test_smart_http_messages_name_both_ends_and_the_commit(tmp_path):
    events = record(tmp_path, "learn_git.network.demo", "--act", "4")  # clones and pushes, both clients
    messages = [e for e in events if e["direction"] in ("sent", "received")]
    assert {(e["actor"], e["peer"]) for e in messages} == {
        ("server", "git"), ("server", "mini_git"), ("mini_git", "server")}
    assert "git" not in {e["actor"] for e in events}  # real git writes no events: its own lane

    def cids(actor: str, direction: str, peer: str) -> set[str]:
        return {e["cid"] for e in messages
                if (e["actor"], e["direction"], e["peer"]) == (actor, direction, peer) and e["cid"]}
    # mini_git's POSTs and the server's answers pair up by the commit they are about.
    assert cids("mini_git", "sent", "server") == cids("server", "received", "mini_git")
    assert cids("server", "sent", "mini_git") == cids("mini_git", "received", "server")
    # GETs of info/refs are about no commit yet.
    assert all(e["cid"] is None for e in messages if "/info/refs" in e["summary"])
    # A push's cid is the commit it moved the branch to, as the server's state line says.
    pushes = [e for e in messages if e["actor"] == "mini_git" and "git-receive-pack (" in e["summary"]]
    assert pushes
    moved = [e["summary"] for e in events if e["actor"] == "server" and e["direction"] == "state"]
    for push in pushes:
        assert any(re.search(rf"-> {push['cid'][:7]} ok", line) for line in moved), (push, moved)


@pytest.mark.timeout(60)
def test_objects_written_and_read_back_name_the_object_database_and_their_id(tmp_path):
    events = record(tmp_path, "learn_git.demo", "--act", "1")
    messages = [e for e in events if e["direction"] in ("sent", "received")]
    assert {e["direction"] for e in messages} == {"sent", "received"}
    for e in messages:
        assert e["peer"] == "odb", e
        assert re.fullmatch(r"[0-9a-f]{40}", e["cid"]) and e["cid"][:12] in e["summary"], e
