"""RQ's side of the queue benchmark: one ``SimpleWorker`` in burst mode.

    python bench/bench_queue_rq_peer.py REDIS_URL

RQ's default ``Worker`` forks a child per job (isolation, at a cost of a few
milliseconds each); ``SimpleWorker`` runs jobs in its own process, which is the
fastest RQ can go and the fair comparison for a no-op job.  Burst mode: work
until the queue is empty, then exit.  The job function is :func:`noop` below,
which RQ imports as ``bench_queue_rq_peer.noop`` (this file's folder is first on
``sys.path`` when it runs as a script).  It prints ``rq worker ready`` before
its first fetch.
"""

from __future__ import annotations

import sys

from redis import Redis
from rq import Queue, SimpleWorker


def noop() -> None:
    """The job: nothing, so the benchmark measures the queue and not the work."""
    return None


def main() -> None:
    connection = Redis.from_url(sys.argv[1])
    worker = SimpleWorker([Queue("default", connection=connection)], connection=connection)
    print("rq worker ready", flush=True)
    worker.work(burst=True, logging_level="WARNING")


if __name__ == "__main__":
    main()
