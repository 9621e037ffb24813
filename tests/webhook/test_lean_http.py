"""The lean HTTP client against httpx, differentially: same bytes on the wire, same recorded outcome.

Each case starts a raw TCP server on 127.0.0.1 (asyncio streams, written here so that
it sees the request exactly as sent and answers exactly as scripted), then lets the
dispatcher make one attempt with ``--http-client httpx`` and one with ``lean``, each
from its own outbox with the same ids and a stopped clock.  The receiver must see
byte-identical requests, and the delivery log must record the same status, error
class and state.  httpx is the reference here: nobody here wrote it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

import pytest

from learn_webhook import lean_http
from learn_webhook.dispatcher import Dispatcher
from learn_webhook.outbox import Outbox
from learn_webhook.retry_schedule import RetryPolicy
from learn_webhook.ssrf_guard import TargetGuard, parse_networks
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.loopback

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1_760_000_000.0
Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def answer_with(raw: bytes, close: bool = False) -> Answer:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()
        if close:
            writer.close()
    return answer


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()  # read the request, answer nothing


CASES: dict[str, Answer] = {
    "202 with a length": answer_with(b"HTTP/1.1 202 Accepted\r\ncontent-length: 19\r\n\r\n"
                                     b'{"status":"queued"}'),
    "500 with a body": answer_with(b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\n"
                                   b"content-length: 5\r\n\r\noops!"),
    "chunked 200": answer_with(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                               b"4\r\nwiki\r\n6;ext=1\r\npedia \r\n0\r\nx-trailer: 1\r\n\r\n"),
    "503 Retry-After": answer_with(b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 7\r\n"
                                   b"content-length: 0\r\n\r\n"),
    "100 Continue first": answer_with(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
    "HTTP/1.0, no length": answer_with(b"HTTP/1.0 200 OK\r\n\r\nuntil close", close=True),
    "410 Gone": answer_with(b"HTTP/1.1 410 Gone\r\ncontent-length: 4\r\nconnection: close\r\n\r\ngone",
                            close=True),
    "garbage status line": answer_with(b"SPDY/3 200 OK\r\n\r\n", close=True),
    "hang up, no answer": hang_up,
}


class RawServer:
    """Reads one request per turn (head + Content-Length body), records its bytes, runs ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                self.requests.append(head + await reader.readexactly(length))
                await self.answer(reader, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def sequential_ids():
    counters: dict[str, itertools.count] = {}
    return lambda prefix: f"{prefix}_{next(counters.setdefault(prefix, itertools.count(1)))}"


async def one_attempt(tmp_path, name: str, port: int, client: str, events: int = 1) -> list[dict]:
    """Deliver ``events`` events from a fresh outbox, one attempt each; their delivery log rows."""
    outbox = Outbox.open(tmp_path / f"{name}-{client}", clock=lambda: NOW, new_id=sequential_ids())
    outbox.add_subscription(f"http://127.0.0.1:{port}/hook?tenant=7", SECRET, "gh-secret")
    for n in range(events):
        outbox.add_event("invoice.paid", {"n": n, "note": "café"})
    dispatcher = Dispatcher(outbox, RetryPolicy(max_attempts=3), TargetGuard(parse_networks(["127.0.0.0/8"])),
                            clock=lambda: NOW, trace=Trace("provider", quiet=True), loud=False,
                            http_client=client, timeout=3.0)
    try:
        jobs, _ = outbox.claim_due(NOW, events)
        for job in jobs:  # one after another: the second may reuse the first's connection
            await dispatcher._attempt(job)
        return [outbox.delivery(job.delivery_id) for job in jobs]
    finally:
        await dispatcher.stop(grace=1.0)
        outbox.close()


def outcome(row: dict) -> tuple:
    [attempt] = row["attempt_log"]
    error = attempt["error"]
    # The error's class name and whether there is one must agree; httpx's wording after it may not.
    kind = error.split(":")[0].split(" ")[0] if error else None
    return row["state"], row["next_attempt_at"] > NOW, attempt["status"], kind, row["last_status"]


@pytest.mark.parametrize("case", list(CASES))
def test_both_clients_send_the_same_bytes_and_record_the_same_outcome(tmp_path, case):
    async def both() -> tuple[list[bytes], list[tuple], list[bytes], list[tuple]]:
        got = {}
        async with RawServer(CASES[case]) as server:  # one server, one port: the same Host for both
            for client in ("httpx", "lean"):
                before = len(server.requests)
                name = case.replace(" ", "_").replace("/", "_")
                rows = await one_attempt(tmp_path, name, server.port, client)
                got[client] = (server.requests[before:], [outcome(row) for row in rows])
        return (*got["httpx"], *got["lean"])

    httpx_sent, httpx_outcome, lean_sent, lean_outcome = asyncio.run(asyncio.wait_for(both(), 20))
    assert len(httpx_sent) == 1 and httpx_sent == lean_sent  # byte for byte
    assert httpx_outcome == lean_outcome
    head = lean_sent[0].split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"POST /hook?tenant=7 HTTP/1.1" and head[1].startswith(b"Host: 127.0.0.1:")
    assert head[-1].startswith(b"Content-Length: ")  # and no Accept / Accept-Encoding / Connection
    assert not {b"accept", b"accept-encoding", b"connection"} & {h.split(b":")[0].lower() for h in head[1:]}


def test_a_refused_connection_is_the_same_failure_for_both(tmp_path):
    async def both() -> dict[str, tuple]:
        async with RawServer(hang_up) as server:
            port = server.port
        # the server is closed now: nothing listens on that port
        return {client: outcome((await one_attempt(tmp_path, "refused", port, client))[0])
                for client in ("httpx", "lean")}

    got = asyncio.run(asyncio.wait_for(both(), 20))
    assert got["httpx"] == got["lean"]
    assert got["lean"][2:4] == (None, "ConnectError")


def test_the_lean_client_keeps_the_connection_and_survives_a_server_that_closed_it():
    async def run() -> tuple[int, int, list[int]]:
        calls = 0

        async def close_after_the_second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal calls
            calls += 1
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
            if calls == 2:
                await asyncio.sleep(0.05)
                writer.close()  # idle-timeout style: no Connection: close, the socket just goes away

        async with RawServer(close_after_the_second) as server:
            client = lean_http.LeanClient()
            statuses = []
            for n in range(4):
                if n == 2:
                    await asyncio.sleep(0.3)  # the server has closed the pooled connection by now
                answer = await client.post(f"http://127.0.0.1:{server.port}/hook", {"x-n": str(n)}, b"{}",
                                           limit=1024)
                statuses.append(answer.status)
            await client.aclose()
            return server.connections, len(server.requests), statuses

    connections, requests, statuses = asyncio.run(asyncio.wait_for(run(), 20))
    assert statuses == [200, 200, 200, 200]
    assert requests == 4  # the stale connection carried nothing: no request was sent twice
    assert connections == 2  # one keep-alive connection for two POSTs, then a new one


def test_a_body_past_the_limit_is_cut_and_the_connection_not_reused():
    async def run() -> tuple[bytes, int]:
        big = b"x" * 5000
        answer = answer_with(b"HTTP/1.1 500 Oops\r\ncontent-length: %d\r\n\r\n%s" % (len(big), big))
        async with RawServer(answer) as server:
            client = lean_http.LeanClient()
            first = await client.post(f"http://127.0.0.1:{server.port}/", {}, b"", limit=100)
            await client.post(f"http://127.0.0.1:{server.port}/", {}, b"", limit=100)
            await client.aclose()
            return first.body, server.connections

    body, connections = asyncio.run(asyncio.wait_for(run(), 20))
    assert body == b"x" * 100
    assert connections == 2  # 4,900 unread bytes: that connection could not carry another request
