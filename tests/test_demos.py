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
        "completion/complete", "the host offers ['milk', 'mint']",  # act 5
        "< host-a   SSE GET notifications/resources/updated notes://n2",  # act 6: on A's GET stream
        "< host     #s1 sampling/createMessage", "> host     #s1 error -1 User rejected",  # act 7
        "SSE #s1 elicitation/create", "POST #s1 result {\"action\":\"accept\"",  # act 8
        '#2 result {"resultType":"input_required"', "needs input: elicitation-0",  # act 9: MRTR
        "< host     notifications/subscriptions/acknowledged",  # act 9: subscriptions/listen
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
    "learn_unix_socket.demo": ([], [
        "connected: pid=",  # SO_PEERCRED, read for every client
        "both saw 'together-101'",  # two clients, one screen
        "killed with SIGKILL mid-loop",
        "carol saw the loop finish",  # the session outlived its client
        "a write through it fails",  # the passed descriptor is read-only
        "stream    ", "1 read(s): b'onetwo'", "2 read(s): b'one' + b'two'",
    ]),
    "learn_graphql.demo": ([], [
        "subprotocol graphql-transport-ws",  # negotiated on every connection
        "alice saw all 3 bids in order, from ['s1', 's2']",  # events crossed servers both ways
        "bob saw all 3 bids in order, from ['s1', 's2']",
        "erin saw the same 3 bids over SSE",  # the other transport, same events
        "0 after: nothing leaked",  # a vanished subscriber's generator was closed
        "code 4408", "code 4403", "code 4401", "code 4409", "code 4400",
        "exceeds maximum operation depth",
    ]),
    "learn_proxy.demo": ([], [
        "the main site received x-forwarded-for: 127.0.0.1",  # act 1: forwarding headers
        "X-Secret was named in Connection",  # act 1: hop-by-hop removal
        "Location: /blog/posts/hello-proxy/", "Path=/blog",  # act 2: redirect and cookie rewritten
        "Disallow: /blog/drafts/",  # act 2: merged robots.txt
        "through the proxy: None",  # act 2: X-Robots-Tag only on the blog's own origin
        "/blog/%2e%2e/%2e%2e/etc/passwd -> 400",  # act 3
        "-> 504 after", "/blog/ -> 502",  # act 4
        "Content-Length and Transfer-Encoding: 400", "a 20 KB header: 431",  # act 5
    ]),
    "learn_streaming.demo": ([], [
        "dash.mpd: 4 representations",  # act 1: DASH beside HLS
        ": down: ", "ffprobe: every frame once",  # act 2: stepped down under the throttle
        "failed twice at r2 (HTTP 404): step down to r1", "(TimeoutError): retry once",  # act 3
        "now answers 404", "live stream stalled",  # act 4: the window slid; the encoder stopped
        "ffprobe sees 3 programs",  # act 5: ffmpeg and ffprobe as clients
        "Act 6: the same throttle in the kernel",  # tc tbf in a namespace (if not root: skipped, saying so)
    ]),
    "learn_tunnel.demo": ([], [
        "x-forwarded-for '127.0.0.1'", "nobody.localhost -> 404",  # act 1: the public URL reaches the app
        "answered first: the quick download",  # act 2: streams interleave
        "meanwhile 5 small requests -> [200, 200, 200, 200, 200]",  # act 3: flow control
        "the public client got 502",  # act 4: agent killed mid-request
        "the agent reconnected after a backoff and registered again",  # act 4: relay restart
        "(attempt 1, timeout)", "all 11 events processed exactly once",  # act 5: redelivery, dedupe
        "(attempt 1, connection_closed)", "all 17 events processed exactly once",  # act 5: an agent died
        "the app echoed 'echo: through the tunnel'; closed with 4000",  # act 6: a WebSocket through it
    ]),
    "learn_acme.demo": ([], [
        "chain verified against our root: CN=www.wirelab.test <- CN=wirelab ACME Intermediate E1",  # act 1
        "400 badNonce", "-> unauthorized", "authorization invalid", "-> badCSR",  # act 2
        "Handshake [length", "CertificateVerify", "chain and hostname verified",  # act 3: openssl
        "'hello over HTTPS, certificate by the wirelab ACME CA'",  # act 3: curl --cacert
        "the dns/ server answers _acme-challenge.www.wirelab.test TXT",  # act 4: DNS-01 via dns/
        "(dns-01): pending -> valid", "resolver: 127.54.0.2   NOERROR aa",  # the CA asked the dns/ resolver
        "renewed with the zone unchanged",  # act 5: DNS-PERSIST-01
        "another account is refused: unauthorized",
    ]),
    "learn_choose.demo": ([], [
        "sse        all 24 events, in order, none twice",  # act 1: a lossless one
        "short-poll 8 of 24: exactly the last of each burst",  # act 1: the loss by design, exact
        "sse        all 12 events, in order, none twice",  # act 2: resumed across a server restart
        "| latency p50 event -> client |",  # act 2: the quick lab's table
        "handshake refused: HTTP 404 instead of 101",  # act 2: WebSocket through nginx's defaults
    ]),
    "learn_choose.hybrid.demo": ([], [
        "REFUSED 401: signature mismatch",  # act 2: a forged delivery
        "duplicate of",  # act 2: the same webhook-id again reaches nobody
        "resumes after",  # act 3: a killed server's subscribers resume on the other
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
