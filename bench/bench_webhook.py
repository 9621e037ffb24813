"""webhook benchmark: verification beside the reference library, and deliveries end to end.

    make bench-webhook                 (or: python bench/bench_webhook.py [--quick])

1. Verify a 1 KiB Standard Webhooks delivery: our ``verify_standard`` beside the
   ``standardwebhooks`` library's ``Webhook.verify`` (as shipped: it also parses
   the JSON body) and a bare HMAC-SHA256 over the same bytes, in one process,
   rounds interleaved, median reported.
2. Signed deliveries per second, end to end: a provider process and a receiver
   process (both ``--quiet``); N events are created through the provider's API
   by 8 concurrent lean keep-alive clients, and the clock runs until the
   receiver has processed all N.  Every event is stored in the outbox (fsync'd before
   its 202), signed, POSTed, verified, recorded for idempotency (fsync'd before the
   receiver's 202), its attempt recorded (fsync'd) and processed (fsync'd).  Two rows:
   the fast path (``--http-client lean``, group commit, ``--route direct``: the
   defaults) and the readable one (``--http-client httpx --group-commit 1 --route
   fastapi``: httpx, a commit per write, every request through FastAPI's routing).
   The receiver is polled with ``GET /received?events=false`` every 20 ms.  The provider
   runs with ``--concurrency 32`` (``BENCH_WEBHOOK_CONCURRENCY``), 32 deliveries in
   flight to the one endpoint, in both configurations.  Printed per configuration: the
   rate; provider + receiver CPU per delivery; commits per delivery and the largest
   batch, from both servers' ``GET /healthz`` once the receiver has processed the last
   event (the provider may still be recording its last few attempts); the time of each
   ``POST /events`` to its 202, p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import os
import statistics
import sys
import tempfile
import time

import httpx
from standardwebhooks.webhooks import Webhook

from learn_webhook.signatures import decode_secret, signed_content, standard_headers, verify_standard
from wirelab_common.bench_report import report
from wirelab_common.ports import free_port
from wirelab_common.processes import start_server

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def measure_verify(rounds: int, count: int) -> dict[str, float]:
    body = json.dumps({"type": "push", "data": {"pad": "x" * 990}}).encode()[:1024]
    body = body[:-3] + b'"}}'  # still valid JSON, exactly 1 KiB
    now = int(time.time())
    headers = standard_headers([SECRET], "msg_bench", now, body)
    library = Webhook(SECRET)
    key, content = decode_secret(SECRET), signed_content("msg_bench", now, body)
    runs = {
        "standardwebhooks": lambda: library.verify(body, headers),
        "ours": lambda: verify_standard([SECRET], headers, body, now=now),
        "bare HMAC": lambda: hmac.digest(key, content, "sha256"),
    }
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(count):
                run()
            rates[name].append(count / (time.perf_counter() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


async def create_events(port: int, todo, latencies: list[float]) -> None:
    """A lean API client: keep-alive HTTP/1.1 POSTs written by hand, replies read by length.

    httpx costs about half a millisecond of CPU per request; on two cores that
    CPU would be taken from the provider and the receiver being measured.  Each
    request's time to its 202 (the event on disk) goes into ``latencies``.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for n in todo:
            body = json.dumps({"type": "bench.event", "payload": {"n": n}}).encode()
            sent = time.perf_counter()
            writer.write(b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - sent)
            if not head.startswith(b"HTTP/1.1 202"):
                raise RuntimeError(f"POST /events answered {head.splitlines()[0]!r}")
    finally:
        writer.close()


FAST: tuple[list[str], list[str]] = ([], [])
# Deliveries in flight (all to the one endpoint): the more there are, the more writes each
# commit carries on both sides.  8 until 2026-12-07; BENCH_WEBHOOK_CONCURRENCY=8 gives the old setting.
CONCURRENCY = os.environ.get("BENCH_WEBHOOK_CONCURRENCY", "32")
READABLE = (["--http-client", "httpx", "--group-commit", "1", "--route", "fastapi"],
            ["--group-commit", "1", "--route", "fastapi"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, every thread (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def end_to_end(events: int, provider_args: list[str],
                     receiver_args: list[str]) -> tuple[float, float, list[dict], list[float]]:
    """Deliveries per second, the CPU milliseconds provider and receiver spent per delivery, their commits.

    The commits are each server's group-commit counts from ``GET /healthz``; the last
    item is every ``POST /events``'s time to its 202, in seconds.

    The CPU figure moves much less than the rate when other work loads the machine.
    """
    with tempfile.TemporaryDirectory() as workdir:
        # The receiver's URL is registered before it starts (it needs the returned secret).
        receiver_port = free_port()
        provider = start_server([sys.executable, "-m", "learn_webhook.provider", "--port", "0",
                                 "--data-dir", f"{workdir}/p", "--allow-target", "127.0.0.0/8",
                                 "--concurrency", CONCURRENCY, "--quiet", *provider_args], name="provider")
        provider_port = provider.port
        api = f"http://127.0.0.1:{provider_port}"
        async with httpx.AsyncClient(timeout=30) as http:
            secret = (await http.post(f"{api}/subscriptions", json={
                "url": f"http://127.0.0.1:{receiver_port}/webhook"})).json()["secret"]
            receiver = start_server([sys.executable, "-m", "learn_webhook.receiver", "--port",
                                     str(receiver_port), "--data-dir", f"{workdir}/r", "--secret", secret,
                                     "--quiet", *receiver_args], name="receiver")
            with provider, receiver:
                cpu_before = cpu_seconds(provider.pid) + cpu_seconds(receiver.pid)
                latencies: list[float] = []
                start = time.perf_counter()
                todo = iter(range(events))
                await asyncio.gather(*(create_events(provider_port, todo, latencies) for _ in range(8)))
                while True:
                    polled = await http.get(f"http://127.0.0.1:{receiver_port}/received?events=false")
                    counts = polled.json()["counts"]
                    if counts["processed"] >= events:
                        break
                    await asyncio.sleep(0.02)
                rate = events / (time.perf_counter() - start)
                cpu = cpu_seconds(provider.pid) + cpu_seconds(receiver.pid) - cpu_before
                commits = [(await http.get(f"{base}/healthz")).json()["group_commit"]
                           for base in (api, f"http://127.0.0.1:{receiver_port}")]
                return rate, cpu * 1000 / events, commits, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: checks the benchmark runs")
    parser.add_argument("--events", type=int, help="events end to end (default 2000; --quick 100)")
    parser.add_argument("--only", choices=("fast", "readable"), help="end to end: this configuration alone")
    args = parser.parse_args()
    rounds, count, events = (1, 2000, 100) if args.quick else (7, 20000, 2000)
    events = args.events or events
    rates = measure_verify(rounds, count)
    print(f"# verify a 1 KiB delivery: {count} x {rounds} rounds (median verifications/s)")
    for name, rate in rates.items():
        print(f"{name:<28}{rate:>10.0f}")
    ratio = rates["ours"] / rates["standardwebhooks"]
    print(f"ours / standardwebhooks  x{ratio:.2f} (target >= 2.0)  {'ok' if ratio >= 2 else 'MISS'}")
    print(f"ours / bare HMAC         x{rates['ours'] / rates['bare HMAC']:.2f} (no target: the floor)")
    report("webhook", "verify 1 KiB", ratio, 2.0, anchor="standardwebhooks")
    print(f"\n# end to end: {events} events created by 8 API clients, provider -> receiver, both --quiet")
    for name, (provider_args, receiver_args) in (("fast (lean, group commit, direct)", FAST),
                                                  ("readable (httpx, commit each, FastAPI)", READABLE)):
        if args.only and not name.startswith(args.only):
            continue
        rate, cpu_ms, commits, latencies = asyncio.run(end_to_end(events, provider_args, receiver_args))
        verdict = "ok" if rate >= 1000 else "MISS"
        print(f"signed deliveries/s, {name:<40}{rate:>6.0f}   (target >= 1000)  {verdict}   "
              f"CPU {cpu_ms:.2f} ms/delivery (provider + receiver)")
        print(f"    commits (fsyncs) per delivery: provider {commits[0]['commits'] / events:.2f}, receiver "
              f"{commits[1]['commits'] / events:.2f}; largest batch {commits[0]['largest_batch']}, "
              f"{commits[1]['largest_batch']}")
        cuts = statistics.quantiles(latencies, n=100)
        p50, p99 = cuts[49] * 1000, cuts[98] * 1000
        print(f"    POST /events to its 202 (stored): p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        fast = name.startswith("fast")
        report("webhook", "end to end, fast" if fast else "end to end, readable", rate,
               1000 if fast else None, unit="/s", anchor=f"{events} events, 8 API clients")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load} (on 2 cores, above 2 means other work shares them)")


if __name__ == "__main__":
    main()
