"""The queue demo: ``make demo-queue`` (``python -m learn_queue.demo [-v] [--act N] [--no-...]``).

Reading order: read this last; it drives everything else in the folder.

Three acts, each checked, so the demo is also a test (CI runs it as one):

1. **Enqueue, fetch, run.**  Jobs are enqueued through the web API (``web.py``)
   and answered at once with a job id; two worker processes (``worker.py``)
   move them from the queue to their processing lists and run them; the API
   reports each job's status and result.
2. **Retry, then dead.**  A job that always raises is retried with growing
   delays (``lq:schedule``), then lands in the dead set, where the API shows its
   error; from there it can be retried or deleted.
3. **A worker dies with a job in its hands.**  A slow job starts on a worker,
   which is then killed with SIGKILL.  Its heartbeat stops; the other worker's
   reaper moves the job from the dead worker's processing list back to the
   queue, and it completes.  Nothing was lost.

Every check can fail, and one switch per act shows it: each turns off the
mechanism its act shows, and that act's check then fails (exit 1, saying what
went wrong).  ``--act N`` runs act N alone.

- ``--no-workers`` (act 1): no worker process is started: jobs stay queued;
- ``--no-retry`` (act 2): the failing job is enqueued with ``retry: 0``, so it
  is dead after its first failure;
- ``--no-reaper`` (act 3): the workers heartbeat but never reap
  (``worker --no-reaper``): the killed worker's job stays in its processing list.

The web server is started as every wirelab server is: ``--port 0``, its port
read from its ready line.  Redis: ``REDIS_URL`` if set, else a throwaway
``redis-server`` on a free port.
Exit 0 when every check passed, 1 when one failed, 2 when Redis cannot be had.
"""

from __future__ import annotations

import argparse
import sys

import httpx

from wirelab_common.errors import check, run_main
from wirelab_common.processes import ManagedProcess, start_process, start_server
from wirelab_common.redis_server import redis_url
from wirelab_common.waiting import NotInTime, eventually_async
from wirelab_common.wiretrace import Trace, shorten

PY = sys.executable
# The web API in the structured trace events (``peer``): the name web.py's trace uses.
# A job's id is the events' correlation id (``cid``), from the 201 on.
WEB = "web"


def start_worker(url: str, worker_id: str, verbose: bool, reaper: bool = True) -> ManagedProcess:
    argv = [PY, "-m", "learn_queue.worker", "--redis-url", url, "--worker-id", worker_id,
            "--concurrency", "4", "--heartbeat", "0.5", "--dead-after", "2", "--poll", "0.2",
            "--backoff-scale", "0.02"] + (["-v"] if verbose else []) + ([] if reaper else ["--no-reaper"])
    return start_process(argv, name=worker_id, ready_line="fetching", echo=True)


async def enqueue(trace: Trace, http: httpx.AsyncClient, job_class: str, args: list, **extra) -> str:
    body = {"class": job_class, "args": args, **extra}
    trace.sent(f"POST /jobs {body}", peer=WEB)  # no cid yet: the web API draws the job id
    reply = await http.post("/jobs", json=body)
    check(reply.status_code == 201, f"POST /jobs answered {reply.status_code}: {reply.text}")
    trace.received(f"201 {reply.json()}", peer=WEB, cid=reply.json()["jid"])
    return reply.json()["jid"]


async def wait_status(http: httpx.AsyncClient, jid: str, wanted: str, timeout: float = 20,
                      why: str = "") -> dict:
    """The job's status once it is ``wanted``; a failed check, saying what it is, if not in time."""
    seen: list[dict] = [{}]

    async def reached() -> bool:
        seen[0] = (await http.get(f"/jobs/{jid}")).json()
        return seen[0].get("status") == wanted

    try:
        await eventually_async(reached, timeout, f"job {jid} {wanted}", interval=0.1)
    except NotInTime:
        check(False, f"job {jid} should become {wanted} within {timeout:g} s; it is {seen[0]}{why}")
    return seen[0]


async def act_run(trace: Trace, http: httpx.AsyncClient, workers: bool = True) -> None:
    trace.banner("Act 1: the web API enqueues and answers at once; workers fetch and run")
    jids = [await enqueue(trace, http, "checksum", ["hello, queue"]),
            await enqueue(trace, http, "thumbnail", [64])]
    why = "" if workers else " (--no-workers: nobody fetches from the queue)"
    for jid in jids:
        state = await wait_status(http, jid, "done", timeout=20 if workers else 3, why=why)
        trace.received(f"GET /jobs/{jid}: done, result {shorten(str(state['result']), 80)}",
                       peer=WEB, cid=jid)


async def act_retry(trace: Trace, http: httpx.AsyncClient, retry: bool = True) -> None:
    trace.banner("Act 2: a job that keeps failing is retried with growing delays, then dead")
    jid = await enqueue(trace, http, "fail", ["the SMTP server said no"], retry=3 if retry else 0)
    await wait_status(http, jid, "dead")
    dead = (await http.get("/dead")).json()
    entry = next((j for j in dead["jobs"] if j.get("jid") == jid), None)
    check(entry is not None, f"{jid} should be in the dead set: {dead}")
    check(entry["retry_count"] == 4 and "SMTP" in entry["error_message"],
          f"expected 3 retries after the first failure and the error kept; it died after "
          f"{entry['retry_count'] - 1} retries" + ("" if retry else " (--no-retry: enqueued with retry 0)"))
    trace.received(f"GET /dead: {jid} after {entry['retry_count'] - 1} retries: "
                   f"{entry['error_class']}: {entry['error_message']}", peer=WEB, cid=jid)
    reply = await http.delete(f"/dead/{jid}")
    check(reply.status_code in (200, 204), f"DELETE /dead/{jid} answered {reply.status_code}")
    trace.note("an operator read the error and deleted the job (POST /dead/{jid}/retry would rerun it)")


async def act_crash(trace: Trace, http: httpx.AsyncClient, workers: dict[str, ManagedProcess],
                    reaper: bool = True) -> None:
    trace.banner("Act 3: SIGKILL to the worker running a job; the reaper gives the job back")
    jid = await enqueue(trace, http, "sleep", [1.5])
    await wait_status(http, jid, "running")
    queues = (await http.get("/queues")).json()
    holder = next(w["id"] for w in queues["workers"] if w["processing"])
    trace.note(f"{jid} is in {holder}'s processing list; SIGKILL to {holder}")
    workers[holder].kill()
    # Its heartbeat key lives 2 s, a reaper round runs every second, the job takes 1.5 s.
    await wait_status(http, jid, "done", timeout=10,
                      why=" after the reaper" + ("" if reaper else " (--no-reaper: nobody gave the dead "
                                                                  "worker's job back to the queue)"))
    trace.note(f"{jid} completed on the surviving worker: at least once, and here exactly once")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m learn_queue.demo", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="job payloads on every side")
    parser.add_argument("--act", type=int, choices=range(1, 4), help="run this act alone")
    # One switch per act: each turns off what its act shows, and that act's check must then fail.
    parser.add_argument("--no-workers", action="store_true",
                        help="act 1: start no worker; the jobs stay queued and the check fails (exit 1)")
    parser.add_argument("--no-retry", action="store_true",
                        help="act 2: enqueue the failing job with retry 0; the retry check fails")
    parser.add_argument("--no-reaper", action="store_true",
                        help="act 3: workers never reap; the killed worker's job is never done")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trace = Trace("demo", verbose=args.verbose)
    runs = lambda act: args.act in (None, act)  # noqa: E731
    with redis_url() as url:
        trace.state(f"redis at {url}")
        web = start_server([PY, "-m", "learn_queue.web", "--port", "0", "--redis-url", url],
                           name="web", echo=True)
        workers = {} if args.no_workers else {
            wid: start_worker(url, wid, args.verbose, reaper=not args.no_reaper) for wid in ("w1", "w2")}
        try:
            # Its User-Agent lets the web API's trace events name "demo" as the other end.
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web.port}", timeout=10,
                                         headers={"user-agent": "wirelab-queue-demo/0.1"}) as http:
                if runs(1):
                    await act_run(trace, http, workers=not args.no_workers)
                if runs(2):
                    await act_retry(trace, http, retry=not args.no_retry)
                if runs(3):
                    await act_crash(trace, http, workers, reaper=not args.no_reaper)
        finally:
            for proc in (*workers.values(), web):
                proc.stop()
    trace.banner("all checks passed")

if __name__ == "__main__":
    run_main(main)
