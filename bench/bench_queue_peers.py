"""The three queues of the benchmark, behind one small interface: enqueue, start, count.

Used by bench_queue.py.  Each system enqueues N no-op jobs its own way, starts
worker processes the way its documentation says, and tells how many jobs are
finished by reading its own keys in Redis, so the clock never waits for a
signal that one system gives and another does not:

- **ours**: ``client.enqueue_many``; ``python -m learn_queue.fast_worker --quiet``
  (``--concurrency`` 10), and the lesson's ``learn_queue.worker`` with the same
  options beside it; finished = the queue and every processing list are
  empty, then every status hash says ``done`` (checked, not assumed);
- **arq 0.28**: ``enqueue_job`` in bench_queue_arq_peer.py, run by the arq venv's
  python; its ``Worker`` with ``poll_delay=0`` and ``max_jobs`` = our concurrency;
  finished = how many ``arq:result:j<n>`` keys exist;
- **RQ 2.12**: ``Queue.enqueue_many``; ``SimpleWorker`` in burst mode
  (bench_queue_rq_peer.py); finished = the size of RQ's finished-job registry.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import redis
import redis.asyncio as aioredis
from rq import Queue

from learn_queue.client import enqueue_many
from wirelab_common.errors import SetupError
from wirelab_common.processes import ManagedProcess, start_process

BENCH = Path(__file__).resolve().parent
ARQ_VENV = BENCH.parent / ".cache" / "arq-venv"
ARQ_PYTHON = ARQ_VENV / "bin" / "python"
ARQ_PIN = "arq==0.28.0"
CONCURRENCY = 10


def ensure_arq_venv() -> Path:
    """The arq venv's python, built once (arq 0.28 and its redis-py 5 stay out of ours)."""
    check = [str(ARQ_PYTHON), "-c", "import arq; assert arq.VERSION == '0.28.0'"]
    if ARQ_PYTHON.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return ARQ_PYTHON
    print(f"# building {ARQ_VENV} ({ARQ_PIN}; once)", flush=True)
    for argv, what in ([["python3", "-m", "venv", "--clear", str(ARQ_VENV)], "creating the venv"],
                       [[str(ARQ_VENV / "bin" / "pip"), "install", "-q", ARQ_PIN], f"pip install {ARQ_PIN}"]):
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
            raise SetupError(f"{what} failed: {tail}", f"delete {ARQ_VENV} and retry")
    return ARQ_PYTHON


class Ours:
    ready = "fetching"

    def __init__(self, fast: bool = True) -> None:
        self.fast = fast
        self.name = "learn_queue fast_worker" if fast else "learn_queue (lesson)"
        self.jids: list[str] = []

    def enqueue(self, url: str, count: int) -> None:
        async def run() -> list[str]:
            client = aioredis.from_url(url)
            try:
                return [job.jid for job in await enqueue_many(client, "learn_queue.jobs.noop",
                                                              [[]] * count)]
            finally:
                await client.aclose()
        self.jids = asyncio.run(run())

    def start(self, url: str, n: int) -> ManagedProcess:
        program = "learn_queue.fast_worker" if self.fast else "learn_queue.worker"
        return start_process([sys.executable, "-m", program, "--redis-url", url,
                              "--concurrency", str(CONCURRENCY), "--worker-id", f"bench-{n}", "--quiet"],
                             name=f"ours-{n}")

    def finished(self, client: redis.Redis, count: int) -> int:
        waiting = client.llen("lq:queue:default")
        for worker in client.smembers("lq:workers"):
            waiting += client.llen(b"lq:processing:" + worker)
        if waiting:
            return count - waiting
        with client.pipeline(transaction=False) as pipe:
            for jid in self.jids:
                pipe.hget(f"lq:job:{jid}", "status")
            return sum(status == b"done" for status in pipe.execute())


class Arq:
    name = "arq 0.28 (poll_delay=0)"
    ready = "arq worker ready"

    def __init__(self, python: Path) -> None:
        self.python = str(python)
        self.peer = str(BENCH / "bench_queue_arq_peer.py")
        self.keys: list[str] = []

    def enqueue(self, url: str, count: int) -> None:
        result = subprocess.run([self.python, self.peer, "enqueue", url, str(count)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"arq enqueue failed: {result.stderr[-500:]}")
        self.keys = [f"arq:result:j{n}" for n in range(count)]

    def start(self, url: str, n: int) -> ManagedProcess:
        return start_process([self.python, self.peer, "worker", url, str(CONCURRENCY)], name=f"arq-{n}")

    def finished(self, client: redis.Redis, count: int) -> int:
        return client.exists(*self.keys)


class RQ:
    name = "RQ 2.12 SimpleWorker"
    ready = "rq worker ready"

    def enqueue(self, url: str, count: int) -> None:
        connection = redis.Redis.from_url(url)
        queue = Queue("default", connection=connection)
        for start in range(0, count, 1000):
            size = min(1000, count - start)
            with connection.pipeline() as pipe:
                queue.enqueue_many([Queue.prepare_data("bench_queue_rq_peer.noop") for _ in range(size)],
                                   pipeline=pipe)
                pipe.execute()
        connection.close()

    def start(self, url: str, n: int) -> ManagedProcess:
        return start_process([sys.executable, str(BENCH / "bench_queue_rq_peer.py"), url],
                             name=f"rq-{n}", cwd=str(BENCH))

    def finished(self, client: redis.Redis, count: int) -> int:
        return client.zcard("rq:finished:default")
