"""``--route direct`` against ``--route fastapi``: the same requests, byte-identical answers.

Two receivers (and two providers) run side by side, one with each route; every
request is sent to both over a raw socket, and the whole answers (status line,
header fields but ``date``, body) must be equal, with the same effect on the inbox.
The provider's answers carry fresh random ids, so for ``POST /events`` the ids are
compared by shape and everything else byte for byte.
"""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from learn_webhook.signatures import standard_headers

pytestmark = pytest.mark.loopback

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def exchange(port: int, raw: bytes) -> bytes:
    """Send one request (``Connection: close``), return the whole answer without its Date field."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return re.sub(rb"\r\ndate: [^\r]*", b"", b"".join(chunks))


def request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n{fields}"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


def signed(msg_id: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"content-type": "application/json", **standard_headers([secret], msg_id, int(time.time()), body)}


def test_the_receiver_answers_the_same_both_ways(start_receiver, tmp_path):
    routed = start_receiver("--quiet", "--route", "fastapi", data_dir=tmp_path / "fastapi")
    direct = start_receiver("--quiet", data_dir=tmp_path / "direct")  # --route direct: the default
    good = json.dumps({"type": "invoice.paid", "data": {"n": 1, "note": "café"}}).encode()
    cases = {
        "accepted": request("/webhook", good, signed("msg_1", good)),
        "duplicate": request("/webhook", good, signed("msg_1", good)),
        "forged": request("/webhook", good, signed("msg_2", good, "whsec_" + "A" * 32)),
        "unsigned": request("/webhook", good, {"content-type": "application/json"}),
        "not JSON": request("/webhook", b"{nope", signed("msg_3", b"{nope")),
        "a JSON list": request("/webhook", b"[1]", signed("msg_4", b"[1]")),
        "too large": request("/webhook", b"x" * (1024 * 1024 + 1), signed("msg_5", b"x")),
        "another route": b"GET /received HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    }
    answers = {name: (exchange(routed.port, raw), exchange(direct.port, raw)) for name, raw in cases.items()}
    for name, (through_fastapi, straight) in answers.items():
        assert through_fastapi == straight, name
    assert answers["accepted"][1].startswith(b"HTTP/1.1 202 ")
    assert answers["duplicate"][1].startswith(b"HTTP/1.1 200 ") and b'"duplicate"' in answers["duplicate"][1]
    assert answers["forged"][1].startswith(b"HTTP/1.1 401 ")
    assert routed.wait_processed(1)["events"] == direct.wait_processed(1)["events"]


def test_the_providers_post_events_answers_the_same_both_ways(start_provider, tmp_path):
    quiet = ("--quiet", "--allow-target", "127.0.0.0/8", "--backoff-base", "30", "--backoff-cap", "30")
    routed = start_provider(*quiet, "--route", "fastapi", data_dir=tmp_path / "fastapi")
    direct = start_provider(*quiet, data_dir=tmp_path / "direct")
    for provider in (routed, direct):
        provider.subscribe("http://127.0.0.1:9/webhook")  # the discard port: attempts fail, rows stay
    json_type = {"content-type": "application/json"}
    cases = {
        "stored": request("/events", b'{"type": "invoice.paid", "payload": {"n": 1}}', json_type),
        "not JSON": request("/events", b"{nope", json_type),
        "bad type": request("/events", b'{"type": "no spaces allowed", "payload": 1}', json_type),
        "extra field": request("/events", b'{"type": "a", "payload": 1, "x": 2}', json_type),
        "too large": request("/events", b"x" * (64 * 1024 + 1), json_type),
    }
    ids = re.compile(rb"(evt|msg)_[0-9a-f]{24}")
    statuses = {}
    for name, raw in cases.items():
        through_fastapi, straight = exchange(routed.port, raw), exchange(direct.port, raw)
        assert ids.sub(rb"\1_ID", through_fastapi) == ids.sub(rb"\1_ID", straight), name
        statuses[name] = int(straight.split(b" ", 2)[1])
    assert statuses == {"stored": 202, "not JSON": 400, "bad type": 422, "extra field": 422, "too large": 413}
    assert len(direct.deliveries()) == len(routed.deliveries()) == 1
