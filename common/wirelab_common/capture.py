"""Record a demo's loopback traffic in a pcap file that Wireshark and tshark read.

    python -m wirelab_common.capture --pcap FILE -- COMMAND...
    make demo-dns ARGS="--pcap /tmp/dns.pcap"     # the tour wraps the demo in it

As root, tcpdump (Debian ``tcpdump``) records every TCP and UDP packet on
``lo`` while COMMAND runs, and is stopped by its PID when COMMAND ends.  Our
servers listen on free ports chosen at run time, where Wireshark would not
know which dissector to use; so COMMAND writes its trace events too
(``WIRELAB_TRACE_FILE``, a temporary file unless already set), and the ready
lines in them (``= NAME listening on URL``) give the ``-d`` ("decode as")
options printed at the end, next to ``wireshark FILE``.

Exit: COMMAND's exit code; 2 when tcpdump cannot record (not root, not
installed, no ``lo``), with what to do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from .errors import SetupError, run_main
from .server_cli import parse_ready
from .system_deps import find, fix_hint
from .trace_events import ENV, read_events
from .waiting import NotInTime, eventually

START_TIMEOUT = 10.0  # seconds for tcpdump to say "listening on lo"
SETTLE = 0.2  # seconds: the last packets sent may not have reached tcpdump yet


def dissector(name: str, url: str) -> str | None:
    """The Wireshark dissector for a server's ready line (``-d transport.port==P,<this>``)."""
    scheme = urlsplit(url).scheme
    if scheme in ("http", "ws"):
        return "http"  # the http dissector follows an Upgrade: websocket by itself
    if scheme == "udp":
        # UDP servers are DNS servers (named by address, or "resolver") except STUN and TURN
        return "stun" if name.startswith(("stun", "relay", "turn")) else "dns"
    return None


def decode_as(ready_lines: Iterable[str]) -> list[str]:
    """tshark's ``-d`` options for the servers these ready lines (``= NAME listening on URL``) announce."""
    options: list[str] = []
    for line in ready_lines:
        ready = parse_ready(line)
        if ready is None:
            continue
        name, url, port = ready
        proto = dissector(name, url)
        if proto is None:
            continue
        # a DNS server answers on TCP too, on the same port (AXFR, truncated answers)
        transports = ["udp", "tcp"] if proto == "dns" else ["udp"] if proto == "stun" else ["tcp"]
        for transport in transports:
            option = f"{transport}.port=={port},{proto}"
            if option not in options:
                options += ["-d", option]
    return options


def ready_lines(events_path: str) -> list[str]:
    """The ready lines (``NAME listening on URL``) among a run's trace events."""
    if not os.path.exists(events_path):
        return []
    return [f"= {e['actor']} {e['summary']}" for e in read_events(events_path)
            if e["direction"] == "state" and e["summary"].startswith("listening on ")]


class Tcpdump:
    """A running tcpdump and what it has said on stderr ("listening on", "N packets captured")."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.said: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.said.append(line.strip())

    def listening(self) -> bool:
        return any("listening on" in s for s in self.said)

    def stop(self) -> None:
        """Stop tcpdump by its PID (SIGTERM: it closes the file), bounded."""
        if self.proc.poll() is None:
            time.sleep(SETTLE)
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(2)  # its last words: how many packets it captured


def start_tcpdump(pcap: str, interface: str = "lo") -> Tcpdump:
    """tcpdump writing ``pcap``, once it has said it is listening (bounded wait)."""
    if os.geteuid() != 0:
        raise SetupError("capturing packets needs root (tcpdump opens a raw socket)",
                         "run as root, e.g. sudo make demo-dns ARGS='--pcap /tmp/dns.pcap'")
    binary = find("tcpdump")
    if binary is None:
        raise SetupError("tcpdump not found", fix_hint("tcpdump"))
    # --immediate-mode: take each packet from the kernel as it comes (by default libpcap waits up to
    # 1 s to fill a block, and a stop within that second loses the block); -U: write each packet
    # to the file at once; -n: no DNS look-ups of our own in the capture; -B: a 64 MiB kernel
    # buffer (KiB) instead of 2 MiB, so that a loaded machine (a parallel test run) starving tcpdump
    # of CPU delays packets instead of dropping them ("TCP previous segment not captured")
    argv = [binary, "-i", interface, "--immediate-mode", "-U", "-n", "-s", "0", "-B", "65536", "-w", pcap,
            "tcp or udp"]
    tcpdump = Tcpdump(argv)
    try:
        eventually(lambda: tcpdump.listening() or tcpdump.proc.poll() is not None, START_TIMEOUT,
                   "tcpdump listening")
    except NotInTime:
        pass
    if not tcpdump.listening() or tcpdump.proc.poll() is not None:
        tcpdump.stop()
        raise SetupError(f"tcpdump did not start on {interface}: {' / '.join(tcpdump.said) or 'no output'}",
                         f"check that the folder of {pcap} exists and `tcpdump -i {interface}` works here")
    return tcpdump


@contextlib.contextmanager
def capturing(pcap: str, interface: str = "lo") -> Iterator[Tcpdump]:
    """Record ``interface`` to ``pcap`` while inside."""
    tcpdump = start_tcpdump(pcap, interface)
    try:
        yield tcpdump
    finally:
        tcpdump.stop()


def how_to_open(pcap: str, options: list[str]) -> str:
    """What to type to read the capture, with the decode-as options for this run's ports."""
    tshark = " ".join(["tshark", "-r", pcap, *options])
    gui = " ".join(["wireshark", pcap, *options])
    return f"# open it: {gui}\n#      or: {tshark}"


def run(pcap: str, command: list[str]) -> int:
    """Run ``command`` while recording; print how to open the file; COMMAND's exit code."""
    with tempfile.TemporaryDirectory(prefix="wirelab-capture-") as tmp:
        events = os.environ.get(ENV) or os.path.join(tmp, "events.jsonl")
        env = {**os.environ, ENV: events}
        with capturing(pcap) as tcpdump:
            code = subprocess.call(command, env=env)
        summary = next((s for s in tcpdump.said if "captured" in s), "")
        print(f"# capture: {pcap} ({summary or 'tcpdump stopped'})", flush=True)
        print(how_to_open(pcap, decode_as(ready_lines(events))), flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wirelab_common.capture",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--pcap", required=True, metavar="FILE", help="the pcap file to write")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run (put it after --)")
    return run(args.pcap, command)


if __name__ == "__main__":
    run_main(lambda: sys.exit(main()))
