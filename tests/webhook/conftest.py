"""Fixtures for the webhook tests: receiver and provider processes, a capture server, signed deliveries.

The shared ``procs`` fixture lives in ``tests/conftest.py``; these build on it.
(pytest runs with ``--import-mode=importlib``, so helpers are shared as fixtures.)

``start_receiver(*args, secrets=..., data_dir=..., port=...)`` starts
``python -m learn_webhook.receiver`` (``--port 0`` unless a port is given: a
restart on the same port, or one already named in a subscription) and returns a
:class:`ReceiverProcess`; calling it again with the same ``data_dir`` restarts
"the same" receiver (same inbox).  ``receiver`` is one started with the default
secret.  ``start_provider`` does the same for ``learn_webhook.provider``, and
``capture`` is a recording server in this process (a uvicorn thread).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from learn_webhook.signatures import standard_headers
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.waiting import eventually

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's example secret
PYTHON = sys.executable


@dataclass
class ReceiverProcess:
    proc: ManagedProcess
    port: int
    data_dir: Path
    secrets: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The webhook endpoint, as a provider would be configured with it."""
        return f"http://127.0.0.1:{self.port}/webhook"

    @property
    def secret(self) -> str:
        return self.secrets[0]

    def base(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def deliver(self, payload: object = None, *, msg_id: str = "msg_1", body: bytes | None = None,
                timestamp: int | None = None, secrets: Sequence[str] | None = None,
                headers: dict[str, str] | None = None) -> httpx.Response:
        """POST a Standard Webhooks delivery signed with our signer (``headers`` override)."""
        if body is None:
            body = json.dumps(payload if payload is not None else {"type": "test.event", "data": {}}).encode()
        when = int(time.time()) if timestamp is None else timestamp
        signed = standard_headers(list(secrets or self.secrets), msg_id, when, body)
        all_headers = {"content-type": "application/json", **signed, **(headers or {})}
        return httpx.post(self.url, content=body, headers=all_headers, timeout=5)

    def received(self) -> dict:
        return httpx.get(self.base("/received"), timeout=5).json()

    def wait_processed(self, count: int, timeout: float = 10.0) -> dict:
        """Poll /received until ``count`` events are processed; returns that state."""
        return eventually(lambda: (state := self.received())["counts"]["processed"] >= count and state,
                          timeout, f"{count} processed events at the receiver")


def start_our_server(procs, module: str, *args: str) -> ManagedProcess:
    """``python -m module args`` via start_server (the ready line gives the port); ``procs`` stops it."""
    proc = start_server([PYTHON, "-m", module, *args], name=module.rsplit(".", 1)[-1])
    procs.started.append(proc)
    return proc


@pytest.fixture
def start_receiver(procs, tmp_path) -> Callable[..., ReceiverProcess]:
    def start(*args: str, secrets: Sequence[str] = (SECRET,), data_dir: Path | None = None,
              port: int | None = None) -> ReceiverProcess:
        data_dir = data_dir or tmp_path / "receiver"
        secret_args = [arg for secret in secrets for arg in ("--secret", secret)]
        proc = start_our_server(procs, "learn_webhook.receiver", "--port", str(port or 0), "--data-dir",
                                str(data_dir), *secret_args, *args)
        return ReceiverProcess(proc, proc.port, data_dir, list(secrets))

    return start


@pytest.fixture
def receiver(start_receiver) -> ReceiverProcess:
    """A receiver with the spec's example secret, a fresh inbox, on a free port."""
    return start_receiver()


@dataclass
class ProviderProcess:
    proc: ManagedProcess
    port: int
    data_dir: Path

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.request(method, f"http://127.0.0.1:{self.port}{path}", timeout=5, **kwargs)

    def subscribe(self, url: str, **fields) -> dict:
        response = self.api("POST", "/subscriptions", json={"url": url, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    def publish(self, type_: str, payload: object) -> dict:
        response = self.api("POST", "/events", json={"type": type_, "payload": payload})
        assert response.status_code == 202, response.text
        return response.json()

    def deliveries(self, state: str | None = None) -> list[dict]:
        return self.api("GET", "/deliveries", params={"limit": 1000, **({"state": state} if state else {})}
                        ).json()["deliveries"]

    def delivery(self, delivery_id: str) -> dict:
        return self.api("GET", f"/deliveries/{delivery_id}").json()

    def wait_all(self, state: str, count: int, timeout: float = 10.0) -> list[dict]:
        return eventually(lambda: (rows := self.deliveries(state)) and len(rows) >= count and rows,
                          timeout, f"{count} deliveries {state}")


@pytest.fixture
def start_provider(procs, tmp_path) -> Callable[..., ProviderProcess]:
    """``start_provider(*args, data_dir=None, port=None)``; the same data_dir restarts "the same" one."""

    def start(*args: str, data_dir: Path | None = None, port: int | None = None) -> ProviderProcess:
        data_dir = data_dir or tmp_path / "provider"
        proc = start_our_server(procs, "learn_webhook.provider", "--port", str(port or 0), "--data-dir",
                                str(data_dir), *args)
        return ProviderProcess(proc, proc.port, data_dir)

    return start


@dataclass
class Captured:
    at: float
    headers: dict[str, str]
    body: bytes


@dataclass
class CaptureServer:
    """Records raw requests; answers ``statuses`` in turn (then 200), after ``delays`` (then none).

    ``retry_after`` (seconds), if set, goes out as ``Retry-After`` with every non-2xx answer.
    """

    port: int = 0  # known once the server listens
    statuses: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    retry_after: int | None = None
    requests: list[Captured] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __call__(self, scope, receive, send) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        self.requests.append(Captured(time.time(), headers, body))
        if self.delays and (delay := self.delays.pop(0)):
            await asyncio.sleep(delay)
        status = self.statuses.pop(0) if self.statuses else 200
        headers = [(b"content-type", b"application/json")]
        if self.retry_after is not None and not 200 <= status <= 299:
            headers.append((b"retry-after", str(self.retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"recorded": true}'})

    def wait(self, count: int, timeout: float = 10.0) -> list[Captured]:
        eventually(lambda: len(self.requests) >= count, timeout, f"{count} captured requests")
        return self.requests


@pytest.fixture
def capture():
    """A uvicorn server in a thread of this process; stopped after the test."""
    server_app = CaptureServer()
    server = uvicorn.Server(uvicorn.Config(server_app, host="127.0.0.1", port=0, lifespan="off",
                                           log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=0.5))  # cut off a scripted delay
    thread = threading.Thread(target=server.run, daemon=True)  # signal handlers: main thread only
    thread.start()
    eventually(lambda: server.started, 10, "the capture server to start")
    server_app.port = server.servers[0].sockets[0].getsockname()[1]
    yield server_app
    server.should_exit = True
    thread.join(5)
