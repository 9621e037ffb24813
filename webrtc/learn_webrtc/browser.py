"""Headless Chromium talks to an aiortc peer through our signaling server: a differential check.

Reading order: after the demo; the browser's side is ``static/peer.js``.

    python -m learn_webrtc.browser [-v]           # as root: re-runs itself inside `unshare -n`
    python -m learn_webrtc.browser --relay [-v]   # both sides relay-only through coturn

Why a private network namespace.  Chromium, by default, hides local addresses
behind mDNS names and refuses loopback in peer connections; with
``--allow-loopback-in-peer-connection --disable-features=WebRtcHideLocalIpsWithMdns``
it still gathers no candidates on ``lo`` here, so the pair forms through a
*peer-reflexive* candidate (RFC 8445 §7.3.1.3): aiortc learns Chromium's address
from Chromium's first connectivity check.  aiortc, in turn, must offer a host
candidate Chromium can reach: aioice skips 127.0.0.1, so the namespace gets a
second loopback address, 127.0.0.2, and nothing else (no eth0 to leak through).
So ``main`` re-executes this module as::

    unshare -n sh -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && \
        exec python -m learn_webrtc.browser --inside'

and inside it starts the signaling server, Chromium on the page, and an aiortc
peer, then checks that chat lines crossed both ways.  Exit 0: the browser and
aiortc agree; 1: something did not cross; 2: cannot run here (not root, no
Chromium, no coturn for ``--relay``), with what to do.

``--relay`` also starts coturn on 127.0.0.1 inside the namespace and makes
both peers relay-only: the page gets the TURN server and
``iceTransportPolicy: "relay"`` from the signaling server's ``/config``
(``--ice-*`` options), aiortc from ``peer.configuration``.  The check is then
that *both* sides report a relay <-> relay pair: aiortc from aioice's
nominated pair, Chromium from its own ``getStats()``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import subprocess
import sys

from aiortc import RTCConfiguration, RTCIceTransportPolicy

from wirelab_common.errors import SetupError, check, require_binary, run_main
from wirelab_common.processes import start_server
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from .chat import say
from .inbox import channel_cid
from .netns import can_unshare
from .peer import LAB_HOST, Peer, configuration, lab_timers, restrict_host_addresses
from .signaling import user_agent
from .turn import coturn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
]
ROOM = "browser"


def namespace_argv(verbose: bool, relay: bool = False) -> list[str]:
    inner = [sys.executable, "-m", "learn_webrtc.browser", "--inside"]
    inner += (["-v"] if verbose else []) + (["--relay"] if relay else [])
    script = f"ip link set lo up && ip addr add {LAB_HOST}/8 dev lo && exec {shlex.join(inner)}"
    return ["unshare", "-n", "sh", "-c", script]


async def run_inside(trace: Trace, relay: bool = False) -> None:
    from playwright.async_api import async_playwright

    restrict_host_addresses([LAB_HOST])
    lab_timers()
    argv = [sys.executable, "-m", "learn_webrtc.signaling_server", "--port", "0"]
    with contextlib.ExitStack() as stack:
        config = None
        if relay:
            turn = stack.enter_context(coturn())
            trace.state(f"coturn on {turn.url}; both peers relay-only")
            argv += ["--ice-server", f"{turn.url}?transport=udp", "--ice-username", turn.user,
                     "--ice-credential", turn.password, "--ice-transport-policy", "relay"]
            config = configuration(turn.server, relay_only=True)
        server = stack.enter_context(start_server(argv, name="signal", echo=True))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                # The browser names itself in its handshakes, so the server's events say "chromium".
                page = await browser.new_page(user_agent=user_agent("chromium"))
                page.on("console", lambda msg: trace.note(f"chromium console: {msg.text}"))
                await page.goto(f"{server.url}/?room={ROOM}")
                await page.wait_for_function("window.webrtcLog && window.webrtcLog.some(l => "
                                             "l.includes('signal joined'))", timeout=30_000)
                trace.note("chromium joined the room first: it will offer (and trickle for real)")
                await talk_to(page, server.url.replace("http://", "ws://") + "/ws", trace, config)
            finally:
                await browser.close()


async def talk_to(page, url: str, trace: Trace, config: RTCConfiguration | None = None) -> None:
    """aiortc joins second and answers; chat both ways; relay-only ``config``: relay pairs both sides."""
    peer = Peer("aiortc", url, ROOM, trace.child("aiortc"), config)
    peer.remote = "chromium"
    try:
        await peer.join()
        await peer.connected(20)
        inbox = await peer.channel("chat", 20)  # Chromium created it and offered
        channel = inbox.channel
        local, remote = peer.selected_pair() or ("?", "?")
        peer.trace.state(f"selected pair {local} <-> {remote}")
        first = await inbox.next_json(10)
        check(first == {"type": "chat", "text": "hello from chromium"}, f"unexpected first line {first}")
        say(channel, peer.trace, "hello from aiortc", to="chromium")
        echo = await inbox.next_json(10)
        check(echo.get("text") == "echo: hello from aiortc", f"the browser did not echo: {echo}")
        log = await page.evaluate("window.webrtcLog")
        chromium = trace.child("chromium")
        trace.note("the browser's own log (window.webrtcLog), replayed with its marks:")
        counts = {">": 0, "<": 0}  # signaling messages numbered as the server numbers them (c1, s1)
        for line in log:  # "> signal offer", "= connectionState -> connected", ...
            mark, _, text = line.partition(" ")
            if mark not in counts:
                chromium.state(text)
            elif text.startswith("signal"):
                counts[mark] += 1
                cid = f"{'c' if mark == '>' else 's'}{counts[mark]}"
                (chromium.sent if mark == ">" else chromium.received)(text, peer="signal", cid=cid)
            else:  # the data channel, to and from aiortc
                (chromium.sent if mark == ">" else chromium.received)(text, peer="aiortc",
                                                                      cid=channel_cid(channel))
        check(any("chat" in line and "hello from aiortc" in line for line in log),
              "the browser's log lacks our line")
        if config is not None and config.iceTransportPolicy == RTCIceTransportPolicy.RELAY:
            check(local.startswith("relay") and remote.startswith("relay"),
                  f"aiortc's pair is not relay <-> relay: {local} <-> {remote}")
            theirs = [line for line in log if "selected pair" in line]
            check(theirs and re.search(r"selected pair relay \S+ <-> relay ", theirs[-1]),
                  f"Chromium's getStats() pair is not relay <-> relay: {theirs}")
            trace.state("both sides say relay <-> relay: every byte went through coturn")
        trace.state("chromium <-> aiortc: data channel works both ways")
    finally:
        await peer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_webrtc.browser",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--inside", action="store_true", help="already in the namespace (internal)")
    parser.add_argument("--relay", action="store_true", help="both peers relay-only through coturn")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    trace = Trace("browser", verbose=args.verbose, quiet=args.quiet)

    def outside() -> None:
        require_binary("chromium", "apt-get install chromium (Debian's; never `playwright install`)")
        if not os.path.exists(CHROMIUM):
            raise SetupError(f"{CHROMIUM} missing", "apt-get install chromium")
        why = can_unshare()
        if why:
            raise SetupError(why, "run as root (CI does), or in a container with CAP_SYS_ADMIN")
        if args.relay:
            require_binary("turnserver", "apt-get install coturn (the coturn TURN server)")
        result = subprocess.run(namespace_argv(args.verbose, args.relay), timeout=120)
        sys.exit(result.returncode)

    if args.inside:
        sys.stdout.reconfigure(line_buffering=True)
        run_main(lambda: run_inside(trace, args.relay))
    else:
        run_main(outside)


if __name__ == "__main__":
    main()
