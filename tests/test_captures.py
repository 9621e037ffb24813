"""Wireshark as a second judge: tshark decodes what our demos put on the wire.

Each test records one act of a demo (for webrtc also our STUN server and client, the pair
the NAT lab runs in namespaces, here on ``lo``) with ``python -m wirelab_common.capture``
(tcpdump on ``lo``, as root) while the demo writes its trace events, then reads
the capture with tshark (Debian's Wireshark dissectors, written by other people
from the same RFCs) and asserts that (1) the expected protocol is decoded,
(2) no packet to or from the demo's servers is malformed or flagged as an
error or warning, and (3) the fields tshark reads equal what our trace says
crossed the wire.  Other work on this machine also talks on ``lo``: every
query is limited to the ports of this run's servers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import need_binary, need_demo_commands, unavailable
from wirelab_common.capture import decode_as, ready_lines
from wirelab_common.server_cli import parse_ready
from wirelab_common.trace_events import ENV, read_events

pytestmark = pytest.mark.differential

PYTHON = sys.executable
WARNING = 0x00600000  # expert severity: Warning (Error is 0x00800000)
STUN_PAIR = """
import subprocess, sys
from wirelab_common.processes import start_server
server = [sys.executable, "-m", "learn_webrtc.stun_server", "--port", "0"]
with start_server(server, name="stun") as stun:
    client = [sys.executable, "-m", "learn_webrtc.stun_client", "--url", stun.url]
    sys.exit(subprocess.call(client))
"""


@pytest.fixture(autouse=True)
def _capture_tools() -> None:
    need_binary("tshark", "tshark")
    need_binary("tcpdump", "tcpdump")
    if os.geteuid() != 0:
        unavailable("capturing on lo needs root (tcpdump)")


@dataclass
class Run:
    pcap: Path
    events: list[dict]
    options: list[str]  # tshark -d options for the run's servers
    ports: dict[str, int]  # server name -> port

    def our(self, transport: str = "tcp") -> str:
        """A display filter for packets to or from this run's servers."""
        return " || ".join(f"{transport}.port == {p}" for p in sorted(set(self.ports.values())))

    def fields(self, display_filter: str, *fields: str) -> list[list[str]]:
        """One row per matching packet; a field seen several times in a packet is comma-joined."""
        argv = ["tshark", "-r", str(self.pcap), *self.options, "-Y", display_filter, "-T", "fields",
                "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
        for field in fields:
            argv += ["-e", field]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
        return [line.split("\t") for line in out.splitlines()]

    def assert_clean(self, transport: str = "tcp") -> None:
        bad = self.fields(f"({self.our(transport)}) && (_ws.malformed || _ws.expert.severity >= {WARNING})",
                          "frame.number", "_ws.col.Info")
        assert bad == [], f"tshark flags packets of our servers: {bad}"

    def said(self, actor: str, direction: str) -> list[dict]:
        return [e for e in self.events if e["actor"] == actor and e["direction"] == direction]


def capture(tmp_path: Path, *python_args: str) -> Run:
    """Run ``python ARGS`` inside ``wirelab_common.capture``, with its trace events in a file."""
    pcap, events = tmp_path / "demo.pcap", tmp_path / "events.jsonl"
    argv = [PYTHON, "-m", "wirelab_common.capture", "--pcap", str(pcap), "--", PYTHON, *python_args]
    env = {**os.environ, ENV: str(events)}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "# open it: wireshark" in done.stdout  # the capture says how to read it
    lines = ready_lines(str(events))
    ports = {name: port for name, _url, port in filter(None, map(parse_ready, lines))}
    return Run(pcap, read_events(str(events)), decode_as(lines), ports)


def test_websocket_frames_as_tshark_reads_them(tmp_path: Path) -> None:
    """Act 1 (the hand-written RFC 6455 client and server): opcode, FIN, MASK, length of every frame."""
    run = capture(tmp_path, "-m", "learn_websocket.demo", "--act", "1")
    port = run.ports["server"]
    rows = run.fields(f"tcp.port == {port} && websocket", "tcp.dstport", "websocket.opcode", "websocket.fin",
                      "websocket.mask", "websocket.payload_length")
    seen: dict[str, list[tuple[int, ...]]] = {"to server": [], "to client": []}
    for dst, *columns in rows:  # one TCP segment may carry several frames
        way = "to server" if int(dst) == port else "to client"
        frames = zip(*(c.split(",") for c in columns), strict=True)
        seen[way] += [tuple(int(v) for v in frame) for frame in frames]
    header = re.compile(r"fin=(\d) rsv=\d+ opcode=0x([0-9a-f]+) .*mask=(\d) payload_length=(\d+)")
    traced: dict[str, list[tuple[int, ...]]] = {"to server": [], "to client": []}
    payloads: dict[str, list[bytes]] = {"to server": [], "to client": []}
    for way, direction in (("to server", "sent"), ("to client", "received")):
        for event in run.said("client", direction):
            match = next((header.match(d) for d in event["detail"] if header.match(d)), None)
            if match:
                fin, opcode, mask, length = match.groups()
                traced[way].append((int(opcode, 16), int(fin), int(mask), int(length)))
                payloads[way].append(bytes.fromhex(event["detail"][1].removeprefix("payload:")))
    assert traced["to server"] and traced["to client"]
    assert seen == traced  # client frames masked, server frames not, opcodes 1 0 0 2 9 8 / 1 1 2 10 8
    # tshark unmasks with the key it reads and joins the fragments: each message, as our trace says
    assert unmasked_messages(run, port) == {way: messages(traced[way], payloads[way]) for way in traced}
    upgrade = run.fields(f"tcp.port == {port} && http", "http.request.method", "http.response.code",
                         "http.upgrade", "http.response.line")
    assert [r[0] for r in upgrade if r[0]] == ["GET"] and [r[1] for r in upgrade if r[1]] == ["101"]
    accept = next(d for e in run.said("client", "received") for d in e["detail"]
                  if d.startswith("Sec-WebSocket-Accept:"))
    assert headers(next(r[3] for r in upgrade if r[1]))["sec-websocket-accept"] == accept.split(": ")[1]
    run.assert_clean()


def messages(frames: list[tuple[int, ...]], payloads: list[bytes]) -> list[tuple[int, bytes]]:
    """(opcode, payload) per message: a data frame and its continuations joined."""
    out: list[tuple[int, bytes]] = []
    for (opcode, *_fin_mask_length), payload in zip(frames, payloads, strict=True):
        if opcode >= 8:
            out.append((opcode, payload))
            continue
        if opcode:
            out.append((opcode, payload))
        else:
            out[-1] = (out[-1][0], out[-1][1] + payload)
    return out


def unmasked_messages(run: Run, port: int) -> dict[str, list[tuple[int, bytes]]]:
    """The same as tshark reads it (one message per TCP segment in act 1)."""
    rows = run.fields(f"tcp.port == {port} && websocket", "tcp.dstport", "websocket.payload.text",
                      "data.data", "websocket.payload.ping", "websocket.payload.pong",
                      "websocket.payload.close.status_code")
    seen: dict[str, list[tuple[int, bytes]]] = {"to server": [], "to client": []}
    for dst, text, binary, ping, pong, close in rows:
        way = "to server" if int(dst) == port else "to client"
        message = (1, text.encode()) if text else (2, bytes.fromhex(binary)) if binary else \
            (9, bytes.fromhex(ping)) if ping else (10, bytes.fromhex(pong)) if pong else \
            (8, int(close).to_bytes(2, "big"))
        seen[way].append(message)
    return seen


def headers(lines: str) -> dict[str, str]:
    """tshark's http.request.line / http.response.line (escaped CRLFs, comma-joined) as name -> value."""
    pairs = (line.split(": ", 1) for line in lines.split("\\r\\n,") if ": " in line)
    return {name.lower(): value.removesuffix("\\r\\n") for name, value in pairs}


def http_exchanges(run: Run, port: int) -> list[list[str]]:
    return run.fields(f"tcp.port == {port} && http", "http.request.method", "http.request.uri",
                      "http.response.code", "http.content_type", "http.request.line", "http.response.line",
                      "http.response_for.uri")


def test_sse_stream_as_tshark_reads_it(tmp_path: Path) -> None:
    """Act 1: GET /events answered 200 text/event-stream with the headers the subscriber saw."""
    run = capture(tmp_path, "-m", "learn_sse.demo", "--act", "1")
    rows = http_exchanges(run, run.ports["sse"])
    assert [r[0] for r in rows if r[0]] == ["GET"] and rows[0][1].startswith("/events")
    response = next(r for r in rows if r[2])
    traced = next(e for e in run.said("demo", "received") if e["summary"].startswith("HTTP "))
    assert traced["summary"] == f"HTTP {response[2]} {response[3]}"
    for header in ("cache-control: no-cache", "x-accel-buffering: no"):
        name, value = header.split(": ", 1)
        assert header in traced["detail"] and headers(response[5])[name] == value
    # the body, de-chunked by tshark (newlines shown as \\n): every event the server says it sent
    body = run.fields(f"tcp.srcport == {run.ports['sse']} && http.response", "http.file_data")[0][0]
    sent = [re.match(r"\S+ event=(\S+) id=(\d+) (.*?)(\.\.\.\(\+\d+ chars\))?$", e["summary"])
            for e in run.said("sse", "sent")]
    assert sent and all(sent)
    for event in sent:
        assert f"id: {event[2]}\\nevent: {event[1]}\\ndata: {event[3]}" in body, (event[0], body)
    run.assert_clean()


def test_webhook_delivery_as_tshark_reads_it(tmp_path: Path) -> None:
    """Act 2: the signed POST, its Standard Webhooks headers byte for byte, and the 202."""
    run = capture(tmp_path, "-m", "learn_webhook.demo", "--act", "2")
    rows = http_exchanges(run, run.ports["receiver"])
    posts = [r for r in rows if r[0] == "POST"]
    deliveries = [e for e in run.said("provider", "sent") if e["summary"].startswith("POST ")]
    assert deliveries and len(posts) == len(deliveries)
    for post, event in zip(posts, deliveries, strict=True):
        assert post[1] == "/webhook"
        for header in (d for d in event["detail"] if d.startswith(("webhook-", "content-type"))):
            name, value = header.split(": ", 1)
            assert headers(post[4])[name.lower()] == value, header
    codes = [r[2] for r in rows if r[2] and r[6].endswith("/webhook")]
    traced = [e["summary"].split()[0] for e in run.said("provider", "received")]
    assert codes == traced == ["202"] * len(posts)
    run.assert_clean()


def test_dns_messages_as_tshark_reads_them(tmp_path: Path) -> None:
    """Act 2 (one resolution, iterative) over act 1's zone transfer: ids, QR, AA, RCODE, counts."""
    run = capture(tmp_path, "-m", "learn_dns.demo", "--act", "2")
    port = run.ports["resolver"]
    rows = run.fields(f"(udp.port == {port} || tcp.port == {port}) && dns", "dns.id", "dns.flags.response",
                      "dns.flags.authoritative", "dns.flags.rcode", "dns.qry.name", "dns.qry.type",
                      "dns.count.answers", "dns.count.auth_rr", "dns.count.add_rr", "dns.resp.type",
                      "dns.rr.udp_payload_size")
    by_id: dict[tuple[int, str], list[str]] = {(int(r[0], 16), r[1]): r for r in rows}
    checked = 0
    for server in (n for n in run.ports if n.startswith("127.53.")):
        pending = None
        for event in run.events:
            if event["actor"] != server:
                continue
            query = re.match(r"query (\S+)\. (\S+) from \S+ id=(\d+)(?: edns=(\d+))?", event["summary"])
            if event["direction"] == "received" and query:
                pending = query
                packet = by_id[(int(query[3]), "0")]
                assert packet[4] == query[1].rstrip(".")
                assert packet[10] == (query[4] or "")  # the EDNS UDP payload size our server read
                continue
            reply = re.match(r"(answer|referral) (\S+)( aa)? an=(\d+) ns=(\d+) ar=(\d+)", event["summary"])
            if event["direction"] == "sent" and reply and pending:
                packet = by_id[(int(pending[3]), "1")]
                opt = packet[9].split(",").count("41")  # EDNS's OPT pseudo-record: in ARCOUNT, not in our ar=
                assert packet[2] == ("1" if reply[3] else "0"), (server, packet)
                assert packet[3] == "0" and reply[2] == "NOERROR"
                assert [int(packet[6]), int(packet[7]), int(packet[8]) - opt] == \
                    [int(reply[4]), int(reply[5]), int(reply[6])], (server, event["summary"], packet)
                pending, checked = None, checked + 1
    assert checked >= 4  # the SOA, the AXFR, and the three steps of the walk
    run.assert_clean("udp")
    run.assert_clean("tcp")


def test_mcp_streamable_http_as_tshark_reads_it(tmp_path: Path) -> None:
    """Act 2 (Streamable HTTP): every POST, its Mcp-Session-Id and MCP-Protocol-Version, every status."""
    run = capture(tmp_path, "-m", "learn_mcp.demo", "--act", "2")
    rows = http_exchanges(run, run.ports["mcp"])
    methods = [r[0] for r in rows if r[0]]
    traced = [e for e in run.said("host", "sent") if e["summary"].startswith("POST ")]
    assert methods.count("POST") == len(traced) and methods[-1] == "DELETE"
    posts = [r for r in rows if r[0] == "POST"]
    for post, event in zip(posts, traced, strict=True):
        for header in (d for d in event["detail"] if d.startswith(("Mcp-Session-Id", "MCP-Protocol-"))):
            name, value = header.split(": ", 1)
            assert headers(post[4])[name.lower()] == value, header
    # tshark shows a response once its body has ended; the SSE stream of the cancelled call #3
    # never ends (no response will be sent; the connection closes), so it is the one not shown
    codes = [r[2] for r in rows if r[2]]
    statuses = [m[1] for e in run.said("host", "received")
                if (m := re.match(r"(\d{3}) (?!text/event-stream)", e["summary"]))]
    assert codes == [*statuses, "204"]  # the DELETE's
    run.assert_clean()


def test_git_smart_http_as_tshark_reads_it(tmp_path: Path) -> None:
    """Network act 1: real git clones from our smart HTTP server; requests, statuses, content types."""
    need_demo_commands("mini_git")
    run = capture(tmp_path, "-m", "learn_git.network.demo", "--act", "1")
    rows = http_exchanges(run, run.ports["server"])
    requests = [f"{r[0]} {r[1]}" for r in rows if r[0]]
    traced = [e["summary"].split(" (")[0] for e in run.said("server", "received")]
    assert requests == traced
    responses = [(r[2], r[3]) for r in rows if r[2]]
    sent = [tuple(e["summary"].split()[:2]) for e in run.said("server", "sent")]
    assert responses == sent
    # Wireshark's git dissector splits our bodies into pkt-lines: the lengths our trace shows
    # (the first lines of each body; tshark lists data lines only, not flush 0000 or delim 0001)
    pkt_lines = run.fields(f"tcp.srcport == {run.ports['server']} && git", "git.length")
    traced = [[n for d in e["detail"] if re.match(r"[0-9a-f]{4} ", d) and (n := int(d[:4], 16)) >= 4]
              for e in run.said("server", "sent")]
    assert len(pkt_lines) == len(traced)
    for (lengths,), ours in zip(pkt_lines, traced, strict=True):
        assert [int(n, 16) for n in lengths.split(",")][:len(ours)] == ours
    assert run.fields(f"tcp.port == {run.ports['server']} && (git.malformed || git.bad_pkt_len)",
                      "frame.number") == []
    run.assert_clean()


def test_stun_binding_as_tshark_reads_it(tmp_path: Path) -> None:
    """Our STUN server and client (the NAT lab's pair, here on lo): types, transaction ids, attributes."""
    run = capture(tmp_path, "-c", STUN_PAIR)
    rows = run.fields(f"udp.port == {run.ports['stun']} && stun", "stun.type", "stun.id", "stun.attribute",
                      "stun.att.type", "stun.att.ipv4", "stun.att.port", "stun.length",
                      "stun.att.crc32.status")
    server = run.said("stun", "received") + run.said("stun", "sent")  # its lines name every attribute
    assert len(rows) == len(server) == 2
    names = {0x0020: "XOR-MAPPED-ADDRESS", 0x8022: "SOFTWARE", 0x8028: "FINGERPRINT"}
    for row, event in zip(rows, server, strict=True):
        kind = {"0x0001": "Binding request", "0x0101": "Binding success response"}[row[0]]
        assert event["summary"].startswith(kind)
        tid = re.search(r"tid=([0-9a-f]+)", event["summary"])[1]  # the trace shows its first 6 bytes
        assert row[1].removeprefix("0x").startswith(tid)
        attributes = [names.get(int(t, 16), t) for t in row[3].split(",")]
        assert f"{tid} {' '.join(attributes)} " in event["summary"], (row, event["summary"])
        header = bytes.fromhex(" ".join(event["detail"][0].split()[:4]))
        assert int(row[6]) == int.from_bytes(header[2:4], "big")  # the message length
        assert row[7] == "1"  # tshark recomputed our FINGERPRINT (CRC-32 ^ 0x5354554e): good
    mapped = re.search(r"mapped=([\d.]+):(\d+)", run.said("client", "received")[0]["summary"])
    assert (rows[1][4], rows[1][5]) == (mapped[1], mapped[2])
    run.assert_clean("udp")


def test_tour_pcap_records_the_demo(tmp_path: Path) -> None:
    """``make demo-dns ARGS="--pcap FILE"``: the tour wraps the demo in the capture."""
    pcap = tmp_path / "tour.pcap"
    argv = [PYTHON, "-m", "wirelab_common.tour", "--only", "dns", "--pcap", str(pcap), "--act", "1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    option = re.search(r"-d (udp\.port==\d+,dns)", done.stdout)
    assert option, done.stdout[-500:]
    port = option[1].split("==")[1].split(",")[0]
    soa = subprocess.run(["tshark", "-r", str(pcap), "-d", option[1], "-Y", f"udp.port == {port} && dns",
                          "-T", "fields", "-e", "dns.qry.name"], capture_output=True, text=True, timeout=30)
    assert "example.com" in soa.stdout.split()  # the secondary's SOA query of act 1


def test_webrtc_ice_checks_and_signaling_as_tshark_reads_them(tmp_path: Path) -> None:
    """Act 2: STUN connectivity checks on the pair the demo says it selected, DTLS, and the signaling."""
    run = capture(tmp_path, "-m", "learn_webrtc.demo", "--act", "2")
    pair = next(re.search(r"selected pair: host [\d.]+:(\d+) <-> host [\d.]+:(\d+)", e["summary"])
                for e in run.said("demo", "note") if e["summary"].startswith("selected pair"))
    assert pair
    a, b = pair[1], pair[2]
    run.options += ["-d", f"udp.port=={a},stun", "-d", f"udp.port=={b},stun"]  # aioice's ports, not announced
    run.ports.update({"alice": int(a), "bob": int(b)})
    checks = run.fields(f"udp.port == {a} && udp.port == {b} && stun", "udp.srcport", "stun.type",
                        "stun.att.crc32.status")
    for src in (a, b):  # each side asks and each side answers: ICE's checks both ways (RFC 8445 §7.2)
        sent = {row[1] for row in checks if row[0] == src}
        assert {"0x0001", "0x0101"} <= sent, checks
    assert all(row[2] == "1" for row in checks)  # FINGERPRINT good on every check
    assert run.fields(f"udp.port == {a} && udp.port == {b} && dtls.handshake.type == 1", "frame.number")
    # the signaling server's WebSocket: every short message it traced is a text frame on the wire
    texts = {t for (t,) in run.fields(f"tcp.port == {run.ports['signal']} && websocket.payload.text",
                                      "websocket.payload.text")}
    traced = [e["summary"].split(" ", 1)[1].strip() for e in run.said("signal", "sent")]
    lost = {e["summary"].split("not delivered: ", 1)[1].removesuffix(" (its connection had closed)")
            for e in run.said("signal", "state") if "not delivered: " in e["summary"]}
    short = [m for m in traced if "<" not in m and "...(+" not in m and m not in lost]
    assert short and all(json.loads(m) in [json.loads(t) for t in texts] for m in short), (short, texts)
    run.assert_clean("udp")
    run.assert_clean("tcp")


BOGUS_DNS = """
import json, os, socket
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
event = {"t": 0, "pid": os.getpid(), "actor": "bogus", "direction": "state",
         "summary": f"listening on udp://127.0.0.1:{port}", "detail": []}
with open(os.environ["WIRELAB_TRACE_FILE"], "a") as f:
    f.write(json.dumps(event) + "\\n")
# a header that promises one question, and no question after it
sock.sendto(bytes.fromhex("1234 0100 0001 0000 0000 0000"), ("127.0.0.1", port))
"""


def test_the_judge_flags_a_malformed_message(tmp_path: Path) -> None:
    """The checks above can fail: a truncated DNS message on an announced port is flagged."""
    run = capture(tmp_path, "-c", BOGUS_DNS)
    with pytest.raises(AssertionError, match="tshark flags packets"):
        run.assert_clean("udp")
