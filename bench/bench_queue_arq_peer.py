"""arq's side of the queue benchmark; runs with the arq venv's python, never ours.

    .cache/arq-venv/bin/python bench/bench_queue_arq_peer.py enqueue REDIS_URL N
    .cache/arq-venv/bin/python bench/bench_queue_arq_peer.py worker REDIS_URL MAX_JOBS

arq 0.28 needs redis-py < 6 and wirelab pins redis-py 8, so arq lives in its own
venv (bench_queue_peers.ensure_arq_venv builds it) and this file imports only arq
and the standard library.

``enqueue`` uses arq's own ``ArqRedis.enqueue_job`` with job ids ``j0 .. jN-1``,
so the benchmark can count finished jobs by their result keys
(``arq:result:j<n>``).  ``worker`` runs arq's ``Worker`` with ``poll_delay=0``:
arq's default polls the queue every 0.5 s and then caps at a few hundred jobs/s,
which would be a straw man.  ``max_jobs`` is our ``--concurrency``.  The line
``arq worker ready`` is printed from ``on_startup``, just before the first poll.
"""

from __future__ import annotations

import asyncio
import sys

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker


async def noop(ctx: dict) -> None:
    """The job: nothing, so the benchmark measures the queue and not the work."""
    return None


async def enqueue(url: str, count: int) -> None:
    pool = await create_pool(RedisSettings.from_dsn(url))
    try:
        batch = 200  # concurrent enqueue_job calls; each is a few round trips of its own
        for start in range(0, count, batch):
            await asyncio.gather(*(pool.enqueue_job("noop", _job_id=f"j{n}")
                                   for n in range(start, min(start + batch, count))))
    finally:
        await pool.aclose()


async def ready(ctx: dict) -> None:
    print("arq worker ready", flush=True)


def work(url: str, max_jobs: int) -> None:
    worker = Worker(functions=[noop], redis_settings=RedisSettings.from_dsn(url), poll_delay=0,
                    max_jobs=max_jobs, on_startup=ready, handle_signals=True)
    worker.run()  # until SIGTERM, as our worker


def main() -> None:
    command, url, number = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if command == "enqueue":
        asyncio.run(enqueue(url, number))
    elif command == "worker":
        work(url, number)
    else:
        sys.exit(f"unknown command {command!r}: enqueue or worker")


if __name__ == "__main__":
    main()
