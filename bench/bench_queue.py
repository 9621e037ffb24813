"""queue benchmark: no-op jobs per second, end to end, beside arq and RQ.

    python bench/bench_queue.py [--quick]

N no-op jobs are enqueued into a private redis-server (each system with its own
client API), then 1 or 4 worker processes start, and the clock runs from the
first worker's ready line until the system's own records say all N are done
(bench_queue_peers.py says how each one is counted).  Interpreter start-up and
imports are left out of the clock, for every system alike; jobs run while the
other workers still start are in it.

Ours runs twice: ``learn_queue.fast_worker`` (the figure held against the
targets) and the lesson's ``learn_queue.worker``, for comparison.  The systems
share one Redis, flushed before each measurement; rounds are interleaved
(ours, lesson, arq, RQ, ours, ...) so a slow moment of the machine hits all
of them, and the median of the rounds is reported.  Targets (bench/README.md, issue 27):
ours >= 2x arq with ``poll_delay=0``, >= 10x RQ's ``SimpleWorker``, 1 worker.

arq 0.28 needs redis-py < 6; it runs from its own venv in ``.cache/arq-venv``,
built on first use.  If that cannot be built, arq is skipped and the rest runs.
Timings are printed, never asserted: a benchmark is read, not passed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import redis
from bench_queue_peers import RQ, Arq, Ours, ensure_arq_venv

from wirelab_common.bench_report import report
from wirelab_common.errors import SetupError
from wirelab_common.redis_server import start_redis

WORKERS = (1, 4)
TARGETS = {"arq": 2.0, "RQ": 10.0}  # bench/README.md


def measure(system, url: str, client: redis.Redis, workers: int, count: int, timeout: float) -> float:
    """Jobs per second for one run: enqueue, start workers, wait until all are done."""
    client.flushall()
    system.enqueue(url, count)
    procs = [system.start(url, n) for n in range(workers)]
    try:
        deadline = time.monotonic() + timeout
        while not any(system.ready in proc.output() for proc in procs):
            if time.monotonic() > deadline or not any(proc.alive() for proc in procs):
                raise RuntimeError(f"no worker became ready; the first said:\n{procs[0].output()[-800:]}")
            time.sleep(0.002)
        start = time.perf_counter()
        while (done := system.finished(client, count)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done}/{count} jobs done after {timeout:.0f}s")
            time.sleep(0.01)
        return count / (time.perf_counter() - start)
    finally:
        for proc in procs:
            proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: checks the benchmark runs")
    args = parser.parse_args()
    count, rounds = (300, 1) if args.quick else (5000, 3)
    systems: list = [Ours(fast=True), Ours(fast=False)]
    try:
        systems.append(Arq(ensure_arq_venv()))
    except SetupError as exc:
        print(f"arq: skipped ({str(exc).splitlines()[0]})")
    systems.append(RQ())
    rates: dict[tuple[str, int], list[float]] = {}
    failed: dict[str, str] = {}
    redis_proc, url = start_redis()
    with redis_proc:
        client = redis.Redis.from_url(url)
        for _ in range(rounds):
            for workers in WORKERS:
                for system in systems:
                    if system.name in failed:
                        continue
                    try:
                        rate = measure(system, url, client, workers, count, timeout=120)
                    except Exception as exc:  # one broken peer must not hide the others' numbers
                        failed[system.name] = f"{type(exc).__name__}: {exc}"
                        continue
                    rates.setdefault((system.name, workers), []).append(rate)
        client.close()
    print(f"# no-op jobs/s end to end: {count} jobs, median of {rounds} round(s); "
          f"clock from the first worker's ready line to all done")
    print(f"{'system':<28}" + "".join(f"{f'{w} worker process' + ('es' if w > 1 else ''):>22}"
                                      for w in WORKERS))
    medians = {key: statistics.median(values) for key, values in rates.items()}
    for system in systems:
        cells = [f"{medians[(system.name, w)]:>22.0f}" if (system.name, w) in medians else f"{'-':>22}"
                 for w in WORKERS]
        print(f"{system.name:<28}" + "".join(cells))
    for name, reason in failed.items():
        print(f"{name}: failed ({reason.splitlines()[0]})")
    for mine in systems[:2]:
        label = "ours" if mine.fast else "lesson"
        for system in systems[2:]:
            short = "arq" if isinstance(system, Arq) else "RQ"
            for workers in WORKERS:
                ours, theirs = medians.get((mine.name, workers)), medians.get((system.name, workers))
                if ours is None or theirs is None:
                    continue
                ratio, target = ours / theirs, TARGETS[short]
                print(f"{label:<6} / {short:<4} {workers} worker(s)  x{ratio:5.2f}  (target >= {target})  "
                      f"{'ok' if ratio >= target else 'MISS'}")
                plural = "s" if workers > 1 else ""
                row = f"{'fast' if mine.fast else 'lesson'} worker vs {short}, {workers} worker{plural}"
                if mine.fast or workers == 1:  # the summary's rows (bench/summary.py)
                    report("queue", row, ratio, target if mine.fast and workers == 1 else None,
                           anchor="arq 0.28 poll_delay=0" if short == "arq" else "RQ SimpleWorker")


if __name__ == "__main__":
    main()
