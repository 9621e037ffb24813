"""The one list of wirelab's patterns, and the Debian packages their peers come from.

Everything else that names the patterns is derived from this list or checked
against it by ``tests/test_repository.py``: the Makefile's ``PATTERNS`` (it runs
this file), ``make demo`` (``tour.py``), the package map in ``pyproject.toml``,
ruff's first-party list, and the Docker image.  Adding a pattern starts here.

It imports nothing outside the standard library, because the Makefile runs it
with the system Python before any virtual environment exists::

    python3 common/wirelab_common/patterns.py names    # websocket sse webhook ...
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    folder: str  # the top-level folder (never importable: several are names of real modules)
    package: str  # the uniquely named package the folder's code lives in
    demos: tuple[str, ...]  # the modules `make demo-<folder>` runs, in order
    needs: tuple[str, ...] = ()  # commands the demo cannot run without (keys of SYSTEM_COMMANDS)


PATTERNS: tuple[Pattern, ...] = (
    Pattern("websocket", "learn_websocket", ("learn_websocket.demo",), ("redis-server", "nginx")),
    Pattern("sse", "learn_sse", ("learn_sse.demo",), ("nginx",)),
    Pattern("webhook", "learn_webhook", ("learn_webhook.demo",)),
    Pattern("pubsub", "learn_pubsub", ("learn_pubsub.demo",), ("redis-server",)),
    Pattern("queue", "learn_queue", ("learn_queue.demo",), ("redis-server",)),
    Pattern("dns", "learn_dns", ("learn_dns.demo",)),
    Pattern("mcp", "learn_mcp", ("learn_mcp.demo",)),
    Pattern("mini_git", "learn_git", ("learn_git.demo", "learn_git.network.demo"), ("git",)),
    Pattern("webrtc", "learn_webrtc", ("learn_webrtc.demo",), ("turnserver",)),
    Pattern("unix_socket", "learn_unix_socket", ("learn_unix_socket.demo",)),
    Pattern("graphql", "learn_graphql", ("learn_graphql.demo",), ("redis-server",)),
    Pattern("proxy", "learn_proxy", ("learn_proxy.demo",)),
    Pattern("streaming", "learn_streaming", ("learn_streaming.demo",), ("ffmpeg", "ffprobe")),
    Pattern("tunnel", "learn_tunnel", ("learn_tunnel.demo",)),
    Pattern("acme", "learn_acme", ("learn_acme.demo",), ("openssl", "curl")),
    Pattern("choose", "learn_choose", ("learn_choose.demo", "learn_choose.hybrid.demo"),
            ("nginx", "redis-server")),
)


@dataclass(frozen=True)
class SystemCommand:
    package: str  # the Debian package that provides it
    used_for: str  # what does not work without it


# Every command from Debian that a demo, a test or a benchmark runs: the peers
# our code is checked against, and the servers the demos start for themselves.
SYSTEM_COMMANDS: dict[str, SystemCommand] = {
    "git": SystemCommand("git", "mini_git (every test is differential against real git)"),
    "redis-server": SystemCommand("redis-server", "the websocket, pubsub, queue and graphql demos and tests"),
    "redis-cli": SystemCommand("redis-tools", "pubsub tests that compare our RESP client with redis-cli"),
    "nginx": SystemCommand("nginx-light", "the websocket and sse demos (the proxy acts) and their tests"),
    "chromium": SystemCommand("chromium", "browser tests (websocket, sse, webrtc, graphql, proxy, tunnel, "
                                          "streaming, choose) and the trace viewer's pictures"),
    "dig": SystemCommand("dnsutils", "dns tests against dig"),
    "nsupdate": SystemCommand("dnsutils", "dns tests of RFC 2136 UPDATE (nsupdate as the client)"),
    "kdig": SystemCommand("knot-dnsutils", "dns tests against kdig"),
    "dnsperf": SystemCommand("dnsperf", "dns benchmarks"),
    "unbound": SystemCommand("unbound", "dns benchmarks and tests beside unbound"),
    "dnsmasq": SystemCommand("dnsmasq", "dns benchmarks beside dnsmasq"),
    "turnserver": SystemCommand("coturn", "the webrtc demo (TURN act) and relay tests"),
    "iptables": SystemCommand("iptables", "the webrtc NAT lab (as root)"),
    "ip": SystemCommand("iproute2", "the webrtc NAT lab and Chromium peer (network namespaces)"),
    "tcpdump": SystemCommand("tcpdump", "demo captures (--pcap) and the tests that let tshark judge them"),
    "tshark": SystemCommand("tshark", "tests that decode our captures with Wireshark's dissectors"),
    "socat": SystemCommand("socat", "unix_socket tests (socat as a peer of the session server)"),
    "nc": SystemCommand("netcat-openbsd", "unix_socket tests (nc -U against the session server)"),
    "tmux": SystemCommand("tmux", "unix_socket tests (a full-screen program through our client, in tmux)"),
    "curl": SystemCommand("curl", "the client in the sse, graphql, unix_socket, proxy, tunnel, acme and "
                                  "choose tests"),
    "wrk": SystemCommand("wrk", "the proxy and tunnel benchmarks and the tunnel's load test"),
    "ffmpeg": SystemCommand("ffmpeg", "the streaming demo and tests (packaging, live encoder, a client)"),
    "ffprobe": SystemCommand("ffmpeg", "the streaming demo and tests (frame continuity, a client)"),
    "openssl": SystemCommand("openssl", "the acme demo (s_client shows and verifies the TLS handshake)"),
    "lego": SystemCommand("lego", "acme tests (lego as a client of our CA)"),
    "certbot": SystemCommand("certbot", "acme tests (certbot as a client of our CA)"),
    "pebble": SystemCommand("pebble", "acme tests and benchmark (Let's Encrypt's test CA for our client)"),
    "pebble-challtestsrv": SystemCommand("pebble", "acme tests and benchmark (pebble's DNS)"),
}

# Where sbin commands live when PATH (a non-root user's) leaves them out.
SBIN = "/usr/local/sbin:/usr/sbin:/sbin"


def by_folder(folder: str) -> Pattern:
    for pattern in PATTERNS:
        if pattern.folder == folder:
            return pattern
    names = " ".join(p.folder for p in PATTERNS)
    raise KeyError(f"no pattern {folder!r}; the patterns are: {names}")


if __name__ == "__main__":
    if sys.argv[1:] == ["names"]:
        print(" ".join(p.folder for p in PATTERNS))
    else:
        sys.exit("usage: patterns.py names")
