"""Every demo is also a test: run as a learner runs it, it checks itself and exits 0.

One parametrized test over every demo module of ``wirelab_common.patterns``;
below, for each, the arguments it runs with and lines its output must show
(the demo's own checks decide pass or fail; these lines make sure the acts a
reader is promised really ran).  A demo's failure modes (no nginx, no AOF...)
are tested in its pattern's folder.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import need_demo_commands
from wirelab_common.patterns import PATTERNS

# module -> (arguments, lines the output must contain)
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "learn_websocket.demo": ([], [
        "Sec-WebSocket-Accept:",  # handshake headers are shown
        "> client   CONT",  # a fragmented message
        "alice    connection closed: code 1001",  # the restart is seen as 1001
    ]),
    "learn_sse.demo": ([], [
        "| retry: 500",  # the raw wire format is shown
        "nothing lost, nothing twice, across a crash",
        "data: [DONE]",
    ]),
    "learn_webhook.demo": ([], [
        "webhook-signature: v1,",  # the signed headers are shown
        "401", "duplicate",
        "retry in",  # the outage is retried with backoff
    ]),
    "learn_pubsub.demo": ([], [
        "*2\\r\\n$9\\r\\nSUBSCRIBE\\r\\n",  # the exact bytes are shown
        "0 receivers",  # the offline subscriber's loss is shown
        "claimed",
    ]),
    "learn_queue.demo": ([], [
        "DEAD after 3 retries",
        "reaper: worker", "back to their queues",
    ]),
    "learn_dns.demo": ([], [
        "referral to com.", "referral to example.com.",
        "second: 0 (wire-bytes cache hit)",
        "over the response rate limit: slip", "over the response rate limit: dropped",
        "truncated ones again over TCP",  # RRL: the slipped answers, fetched over TCP
        "-> 192.0.2.99",  # (a) the changed record, after the TTL
        "valid (letsencrypt.org may issue",  # (c)
        "-> 203.0.113.20",  # (b) the new provider, after the NS TTL
        "a stale answer",
        "all acts checked",
    ]),
    "learn_mcp.demo": (["-v"], [
        "> host     #1 server/discover (_meta version 2026-07-28)",  # the modern probe over stdio
        '"io.modelcontextprotocol/protocolVersion":"2026-07-28"',  # -v: the full JSON
        "POST #1 initialize protocolVersion=2025-11-25",  # the legacy handshake over HTTP
        "(Mcp-Session-Id)",
        "Mcp-Method: tools/call", "Mcp-Name: slow_count",  # -v: modern headers
        "< host     notifications/progress 1/3 'counted 1 of 3'",
        "confirm delete_note", "DENIED", "approved",
        "stopped by the repetition guard", "stopped by the step limit guard",
        "> host     notifications/cancelled",  # stdio cancel
        "POST notifications/cancelled",  # 2025-11-25 HTTP cancel
        "closing its response stream (the modern cancel)",  # 2026-07-28 HTTP cancel
        "wirelab-sdk-notes",  # act 4 reached the SDK server
    ]),
    "learn_git.demo": (["-v"], [
        "Act 1: objects", "> mini_git blob", "> mini_git tree", "> mini_git commit",
        "= mini_git refs/heads/main", "< mini_git commit", "CONFLICT (content)",
        'Revert "Add dessert"', "stash@{0}: WIP on main", "[bread]",
        "git fsck --strict -> exit 0",
    ]),
    "learn_git.network.demo": ([], [
        "clone> command=ls-refs", "clone< packfile",  # real git's packet trace (v2)
        "git< unpack ok",  # real git's push, traced
        "upload-pack< want ",  # http-backend's side, traced
        "> mini_git POST", "want ",  # our client's own trace
        "[remote rejected] main -> main (non-fast-forward)",
    ]),
    # --no-nat: act 7 is nat_lab.py, which has its own tests; the suite stays short.
    "learn_webrtc.demo": (["--no-nat"], [
        "closed by the server with 4003",
        "gathered local candidate typ host", "remote candidate typ host",
        "connectionState -> connected",
        "SHA-256 verified", "transfer rejected: SHA-256 mismatch: corrupted chunk(s) [7]",
        "video 45 frames",
        "selected pair relay 127.0.0.1:", "this line went through the relay",
        "bob's slot is free again",
        "consent checks went unanswered",
        "no local candidates: relay-only policy",
    ]),
}
DEMOS = [(p.folder, module) for p in PATTERNS for module in p.demos]


def test_every_demo_has_its_expectations_here():
    assert sorted(module for _, module in DEMOS) == sorted(EXPECTED)


@pytest.mark.timeout(170)
@pytest.mark.parametrize(("folder", "module"), DEMOS, ids=[m for _, m in DEMOS])
def test_the_demo_runs_every_act_and_checks_itself(folder, module, tmp_path):
    need_demo_commands(folder)
    args, lines = EXPECTED[module]
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # demos start their own Redis
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=160)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    missing = [line for line in lines if line not in out]
    assert not missing, f"{module} ran, but its output lacks {missing}"
    assert "all checks passed" in out or "all acts checked" in out
