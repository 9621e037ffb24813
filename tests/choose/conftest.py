"""Fixtures for the choose/ tests: the feed server as a real process, and running a client of it.

(pytest runs with ``--import-mode=importlib``, so helpers are shared as fixtures.)
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from learn_choose.methods import METHODS
from learn_choose.sink import Sink
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

PYTHON = sys.executable


@dataclass
class FeedServer:
    proc: ManagedProcess
    port: int
    data_dir: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def publish(self, count: int = 1) -> int:
        response = httpx.post(f"{self.base}/publish", params={"count": count}, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()["last"]

    def stats(self) -> dict:
        return httpx.get(f"{self.base}/stats", timeout=5).json()


@pytest.fixture
def feed_server(procs, tmp_path) -> Callable[..., FeedServer]:
    """``feed_server(*args, port=None)`` starts ``learn_choose.server``; a second call restarts it
    on the same data directory (pass the old port to come back where clients look)."""

    def start(*args: str, port: int | None = None) -> FeedServer:
        data = tmp_path / "data"
        proc = start_server([PYTHON, "-m", "learn_choose.server", "--port", str(port or 0),
                             "--data-dir", str(data), *args], name="choose")
        procs.started.append(proc)
        return FeedServer(proc, proc.port, data)

    return start


@dataclass
class Running:
    sink: Sink
    stop: asyncio.Event
    task: asyncio.Task

    async def wait_seqs(self, predicate: Callable[[list[int]], bool], what: str, timeout: float = 10) -> None:
        await eventually_async(lambda: predicate(self.sink.seqs), timeout, what)

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def run_client():
    """``await run_client(method, base, **options)``: the method's client running in this loop."""
    running: list[Running] = []

    async def start(method: str, base: str, **options) -> Running:
        sink = Sink(method, Trace(method, quiet=True))
        stop = asyncio.Event()
        task = asyncio.ensure_future(METHODS[method].receive(base, sink, stop, **options))
        running.append(Running(sink, stop, task))
        return running[-1]

    yield start
    for client in running:
        if not client.task.done():
            await client.finish()
