"""The queue demo: ``make demo-queue`` (``python -m learn_queue.demo [-v]``).

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

Redis: ``REDIS_URL`` if set, else a throwaway ``redis-server`` on a free port.
Exit 0 when every check passed, 1 when one failed, 2 when Redis cannot be had.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import httpx

from wirelab_common.errors import check, run_main
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, start_process
from wirelab_common.redis_server import redis_url
from wirelab_common.wiretrace import Trace, shorten

PY = sys.executable


def start_worker(url: str, worker_id: str, verbose: bool) -> ManagedProcess:
    argv = [PY, "-m", "learn_queue.worker", "--redis-url", url, "--worker-id", worker_id,
            "--concurrency", "4", "--heartbeat", "0.5", "--dead-after", "2", "--poll", "0.2",
            "--backoff-scale", "0.02"] + (["-v"] if verbose else [])
    return start_process(argv, name=worker_id, ready_line="fetching", echo=True)


async def enqueue(trace: Trace, http: httpx.AsyncClient, job_class: str, args: list, **extra) -> str:
    body = {"class": job_class, "args": args, **extra}
    trace.sent(f"POST /jobs {body}")
    reply = await http.post("/jobs", json=body)
    check(reply.status_code == 201, f"POST /jobs answered {reply.status_code}: {reply.text}")
    trace.received(f"201 {reply.json()}")
    return reply.json()["jid"]


async def wait_status(http: httpx.AsyncClient, jid: str, wanted: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = (await http.get(f"/jobs/{jid}")).json()
        if state.get("status") == wanted:
            return state
        check(time.monotonic() < deadline, f"job {jid} should become {wanted}; it is {state}")
        await asyncio.sleep(0.1)


async def act_run(trace: Trace, http: httpx.AsyncClient) -> None:
    trace.banner("Act 1: the web API enqueues and answers at once; workers fetch and run")
    jids = [await enqueue(trace, http, "checksum", ["hello, queue"]),
            await enqueue(trace, http, "thumbnail", [64])]
    for jid in jids:
        state = await wait_status(http, jid, "done")
        trace.received(f"GET /jobs/{jid}: done, result {shorten(str(state['result']), 80)}")


async def act_retry(trace: Trace, http: httpx.AsyncClient) -> None:
    trace.banner("Act 2: a job that keeps failing is retried with growing delays, then dead")
    jid = await enqueue(trace, http, "fail", ["the SMTP server said no"], retry=3)
    await wait_status(http, jid, "dead")
    dead = (await http.get("/dead")).json()
    entry = next((j for j in dead["jobs"] if j.get("jid") == jid), None)
    check(entry is not None, f"{jid} should be in the dead set: {dead}")
    check(entry["retry_count"] == 4 and "SMTP" in entry["error_message"],
          f"expected 3 retries after the first failure and the error kept: {entry}")
    trace.received(f"GET /dead: {jid} after {entry['retry_count'] - 1} retries: "
                   f"{entry['error_class']}: {entry['error_message']}")
    reply = await http.delete(f"/dead/{jid}")
    check(reply.status_code in (200, 204), f"DELETE /dead/{jid} answered {reply.status_code}")
    trace.note("an operator read the error and deleted the job (POST /dead/{jid}/retry would rerun it)")


async def act_crash(trace: Trace, http: httpx.AsyncClient, workers: dict[str, ManagedProcess]) -> None:
    trace.banner("Act 3: SIGKILL to the worker running a job; the reaper gives the job back")
    jid = await enqueue(trace, http, "sleep", [1.5])
    state = await wait_status(http, jid, "running")
    queues = (await http.get("/queues")).json()
    holder = next(w["id"] for w in queues["workers"] if w["processing"])
    trace.note(f"{jid} is in {holder}'s processing list; SIGKILL to {holder}")
    workers[holder].kill()
    state = await wait_status(http, jid, "done", timeout=30)
    check(state["status"] == "done", f"the job should complete after the reaper: {state}")
    trace.note(f"{jid} completed on the surviving worker: at least once, and here exactly once")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_queue.demo", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="job payloads on every side")
    args = parser.parse_args(argv)
    trace = Trace("demo", verbose=args.verbose)
    with redis_url() as url:
        trace.state(f"redis at {url}")
        port = free_port()
        web = start_process([PY, "-m", "learn_queue.web", "--port", str(port), "--redis-url", url],
                            name="web", ready_line=r"listening on http://", echo=True)
        workers = {wid: start_worker(url, wid, args.verbose) for wid in ("w1", "w2")}
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                await act_run(trace, http)
                await act_retry(trace, http)
                await act_crash(trace, http, workers)
        finally:
            for proc in (*workers.values(), web):
                proc.stop()
    trace.banner("all checks passed")


if __name__ == "__main__":
    run_main(main)
