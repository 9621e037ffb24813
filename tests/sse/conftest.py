"""Fixtures for the SSE tests: server processes, nginx in front of them, and stream readers.

The shared fixtures (``procs``, ``chromium_page``) live in ``tests/conftest.py``;
these build on ``procs``.  (pytest runs with ``--import-mode=importlib``, so helpers
are shared as fixtures, not imports.)

Servers start with ``--tick 0`` (no feed) unless a test asks for one: a test that
publishes its own events can predict every id.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse

from learn_sse.proxy import render_sse_proxy
from wirelab_common.nginx_proxy import NginxSetup
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.waiting import eventually_async

PYTHON = sys.executable


@dataclass
class SseServerProcess:
    proc: ManagedProcess
    port: int
    data_dir: Path

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def publish(self, type_: str, data: object) -> int:
        """POST /publish; returns the new event's id."""
        response = httpx.post(self.url("/publish"), json={"type": type_, "data": data}, timeout=5)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def stats(self) -> dict:
        return httpx.get(self.url("/stats"), timeout=5).json()


@pytest.fixture
def sse_server(procs, tmp_path) -> Callable[..., SseServerProcess]:
    """``sse_server(*args, port=None, data_dir=None, tick="0")`` starts ``learn_sse.server``.

    On ``--port 0`` unless ``port`` is given (a restart on the same port); the
    ready line names the port.

    ``data_dir`` defaults to one directory per test, so a second call in the same test
    restarts "the same" server (same log); pass another path for a fresh one.
    """

    def start(*args: str, port: int | None = None, data_dir: Path | None = None,
              tick: str = "0") -> SseServerProcess:
        data_dir = data_dir or tmp_path / "data"
        proc = start_server([PYTHON, "-m", "learn_sse.server", "--port", str(port or 0), "--data-dir",
                             str(data_dir), "--tick", tick, *args], name="sse")
        procs.started.append(proc)  # stopped after the test
        return SseServerProcess(proc, proc.port, data_dir)

    return start


@pytest.fixture
def sse_nginx(procs, nginx_path) -> Iterator[Callable[..., NginxSetup]]:
    """``sse_nginx(upstream_port, buffered=True)`` renders a config, starts nginx, waits for its port."""
    started: list[tuple[NginxSetup, ManagedProcess]] = []

    def start(upstream_port: int, *, buffered: bool) -> NginxSetup:
        setup = render_sse_proxy(("127.0.0.1", upstream_port), buffered=buffered, nginx=nginx_path)
        proc = procs.start(setup.argv, name="nginx", ready_port=setup.port)
        started.append((setup, proc))
        return setup

    yield start
    for setup, proc in started:
        proc.stop()  # before removing its directory: nginx writes its pid and logs there
        setup.remove()


class StreamCollector:
    """Reads one SSE stream in a background task (with httpx-sse) and keeps every event.

    A block with only ``retry:`` is not an event (WHATWG HTML §9.2.6: nothing is
    dispatched when the data buffer is empty); httpx-sse still yields it, so it is
    kept apart in ``retry``.
    """

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.events: list = []  # httpx_sse.ServerSentEvent, in arrival order
        self.retry: int | None = None
        self.response: httpx.Response | None = None
        self.ended = False
        self.error: BaseException | None = None
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))
        self._task: asyncio.Task | None = None

    async def start(self, wait_open: bool = True) -> StreamCollector:
        """Start reading; with ``wait_open``, return once the response headers are in."""
        opened = asyncio.Event()
        self._task = asyncio.create_task(self._read(opened))
        if wait_open:
            await asyncio.wait_for(opened.wait(), 10)
            if self.error is not None:
                raise self.error
        return self

    async def _read(self, opened: asyncio.Event) -> None:
        try:
            async with aconnect_sse(self._client, "GET", self.url, headers=self.headers) as source:
                self.response = source.response
                opened.set()
                async for event in source.aiter_sse():
                    if event.retry is not None and not event.data and not event.id:
                        self.retry = event.retry
                    else:
                        self.events.append(event)
            self.ended = True
        except BaseException as exc:  # noqa: BLE001 - reported to the test through .error
            self.error = exc
            raise
        finally:
            opened.set()

    @property
    def ids(self) -> list[str]:
        return [event.id for event in self.events]

    async def wait_count(self, count: int, timeout: float = 5.0) -> list:
        """Wait until ``count`` events arrived; returns them all (fails the test on timeout)."""
        def arrived() -> bool:
            if self.error is not None and not isinstance(self.error, asyncio.CancelledError):
                raise AssertionError(f"stream failed: {self.error!r}")
            return len(self.events) >= count

        await eventually_async(arrived, timeout, f"{count} events (so far: {self.events})", interval=0.02)
        return self.events

    async def wait_ended(self, timeout: float = 5.0) -> None:
        assert self._task is not None
        await asyncio.wait_for(asyncio.shield(self._task), timeout)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()


@pytest.fixture
async def sse_stream() -> AsyncIterator[Callable[..., Awaitable[StreamCollector]]]:
    """``await sse_stream(url, headers={...})``: an open :class:`StreamCollector`, closed after the test.

    ``wait_open=False`` returns at once: through a buffering proxy even the response
    headers may be held back.
    """
    collectors: list[StreamCollector] = []

    async def open_stream(url: str, headers: dict[str, str] | None = None,
                          wait_open: bool = True) -> StreamCollector:
        collector = StreamCollector(url, headers)
        collectors.append(collector)
        return await collector.start(wait_open)

    yield open_stream
    for collector in collectors:
        await collector.close()
