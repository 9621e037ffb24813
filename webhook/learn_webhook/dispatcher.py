"""The delivery worker: claim due deliveries from the outbox, sign, POST, record, repeat.

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
**dispatcher** -> lean_http -> direct_route -> provider_app -> provider -> inbox ->
receiver_app -> receiver -> demo.

One loop, a few deliveries in flight at once (``concurrency``), and at most
``per_endpoint`` of them to any one endpoint (subscription)::

    wake up (a new event was stored, a slot freed up, or the next retry fell due)
      -> outbox.claim_due(now, free slots)         oldest due first, none already in flight,
                                                   none to an endpoint at its limit
      -> per delivery, in its own task:
           ssrf_guard.check(url)                   resolve again: DNS rebinding (see there)
           sign, with webhook-timestamp = now      same webhook-id on every attempt
           POST, bounded by --timeout              2xx or not, or no answer at all
           retry_schedule.decide(...)              Delivered / Retry(at) / GiveUp
           outbox.attempt_record(...)              the attempt log + the new state, one write,
                                                   group-committed with its neighbours
      -> sleep until the earliest next_attempt_at, or until woken

**Two HTTP clients, chosen at start-up** (``--http-client``): ``httpx``, the
readable and general one, and ``lean`` (``lean_http.py``, the default), a small
keep-alive HTTP/1.1 client that does this one POST with a fraction of the CPU.  Both
send exactly the headers below, plus ``Host`` and ``Content-Length`` (httpx's own
defaults, ``Accept``, ``Accept-Encoding`` and ``Connection``, are removed from the
client we create), and a differential test checks the bytes on the wire are the same.

**The headers of one attempt** (Standard Webhooks, "Webhook headers")::

    webhook-id: msg_...             the delivery id: the receiver's idempotency key
    webhook-timestamp: 1714000000   when this attempt is signed, just before it is sent:
                                    not the event's time (a retry an hour later must still
                                    pass the receiver's 5-minute replay window), and not
                                    when the attempt began (the DNS check may be slow)
    webhook-signature: v1,... v1,... one per active secret of the subscription (rotation)
    x-hub-signature-256: sha256=... only if the subscription asked for GitHub's scheme, with
    x-github-event / x-github-delivery as GitHub sends them
    content-type: application/json, user-agent: wirelab-webhooks/0.1

The timestamp counts whole seconds, so two attempts within one second carry the
same timestamp and, with the same id and body, the same signature.  That is
harmless (the receiver dedupes by id); an attempt a second or more later gets new ones.

**Timeouts.**  A receiver that holds the request open would hold our slot for ever.
httpx's timeouts bound each step (connect, each read); ``asyncio.timeout`` bounds the
whole attempt, with either client, so a receiver that trickles a byte a second still
times out (the lean client has no timeouts of its own: this one bounds it).  A
timeout is a failed attempt like any other, although the receiver may well have
processed the webhook: one reason deliveries are at-least-once.

**Redirects** are not followed (httpx's default, kept on purpose; the lean client has no
redirect code at all): the spec counts a 3xx as a failure, and a redirect is a way
around the SSRF guard.

**Shutdown.**  ``stop()`` takes no new work and gives in-flight attempts a grace
period; attempts still running are then cancelled *before* their outcome is
recorded, so their rows stay PENDING and go out again after the restart, with the
same webhook-id (outbox.py, "crash safety").

**Per endpoint.**  ``per_endpoint`` (``--per-endpoint``, default: the global
``concurrency``) bounds the attempts in flight to one subscription, so with
``--per-endpoint 2 --concurrency 8`` a slow endpoint holds two slots and the other six
keep serving everyone else.  Order, stated exactly: deliveries to one endpoint *start*
in the order they fall due (oldest ``next_attempt_at``, then creation), but with
``per_endpoint > 1`` they are in flight together and may *arrive* in any order; with
``per_endpoint = 1`` they arrive one at a time in that order, except that a failed one
is rescheduled and the ones behind it overtake it (no head-of-line blocking on
a retry).  A receiver that needs order uses the payload's ``timestamp`` (or its own
sequence numbers), as the spec suggests.

Candour: production also queues per endpoint, throttles on 429/502/504 as the spec
suggests, and disables an endpoint that has failed for days.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import httpx

from wirelab_common.wiretrace import Trace, shorten

from . import lean_http
from .group_commit import GroupCommit
from .outbox import Job, Outbox, State
from .retry_schedule import Delivered, GiveUp, Retry, RetryPolicy, decide, parse_retry_after
from .signatures import sign_github, standard_headers
from .ssrf_guard import Target, TargetGuard, TargetRefused, is_literal

USER_AGENT = "wirelab-webhooks/0.1"
# The endpoint in the structured trace events (``peer``): the name receiver.py's trace uses.
# The delivery id, which is also the webhook-id header, is the events' ``cid``.
RECEIVER = "receiver"
MAX_RESPONSE = 64 * 1024  # we read this much of an answer, for the log; the rest is ignored
# Defaults, defined here only (provider_app.Settings and the provider's command line use them).
DEFAULT_TIMEOUT = 5.0  # seconds one attempt may take, all of it
DEFAULT_CONCURRENCY = 4  # attempts in flight at once
HTTP_CLIENTS = ("lean", "httpx")  # --http-client: the fast path, the readable one
DEFAULT_HTTP_CLIENT = "lean"


def attempt_headers(job: Job, timestamp: int) -> dict[str, str]:
    """Every header of one attempt (pure: the timestamp is a parameter)."""
    headers = standard_headers(job.secrets, job.delivery_id, timestamp, job.body)
    headers.update({"content-type": "application/json", "user-agent": USER_AGENT})
    if job.github_secret:
        headers["x-hub-signature-256"] = sign_github(job.github_secret, job.body)
        headers["x-github-event"] = job.event_type
        headers["x-github-delivery"] = job.delivery_id
    return headers


def pinned_url(target: Target) -> tuple[str, dict[str, str], str | None]:
    """:func:`pinned_request` for the lean client, in plain strings: URL, extra headers, TLS server name."""
    address = target.addresses[0]
    if address == target.host:
        return target.url, {}, None
    parts = urlsplit(target.url)
    literal = f"[{address}]" if ":" in address else address
    url = urlunsplit(parts._replace(netloc=f"{literal}:{parts.port}" if parts.port else literal))
    return url, {"host": parts.netloc}, target.host if target.scheme == "https" else None


def pinned_request(target: Target) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """URL, extra headers and httpx extensions that connect to the address we checked.

    The URL's host becomes the checked IP (so the client does not resolve the name
    again); ``Host`` keeps the name for the receiver's virtual hosting, and for https
    ``sni_hostname`` keeps it for TLS (server name and certificate check).  Only the
    first address is tried, where httpx alone would try each in turn (Happy Eyeballs,
    RFC 8305): production walks the checked addresses, one connection attempt each.
    """
    url = httpx.URL(target.url)
    address = target.addresses[0]
    if address == target.host:
        return url, {}, {}
    host_header = url.netloc.decode("ascii")
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return url.copy_with(host=address), {"host": host_header}, extensions


class Dispatcher:
    """Delivers what the outbox holds.  ``run()`` is the loop; ``wake()`` says "new work"."""

    def __init__(self, outbox: Outbox, policy: RetryPolicy, guard: TargetGuard, *,
                 concurrency: int = DEFAULT_CONCURRENCY, timeout: float = DEFAULT_TIMEOUT,
                 rng: random.Random | None = None,
                 clock: Callable[[], float] = time.time, trace: Trace | None = None, loud: bool = True,
                 client: httpx.AsyncClient | None = None, http_client: str = DEFAULT_HTTP_CLIENT,
                 per_endpoint: int | None = None, commits: GroupCommit | None = None) -> None:
        self.outbox = outbox
        self.policy = policy
        self.guard = guard
        self.concurrency = concurrency
        self.per_endpoint = per_endpoint or concurrency
        # Attempt outcomes are written through a group commit (shared with POST /events by
        # provider_app, so both kinds of write fill the same transactions).
        self.commits = commits or GroupCommit(outbox.write_batch)
        self.timeout = timeout
        self.rng = rng or random.Random()  # used for retry delays only: --seed makes them exact
        self.clock = clock
        self.trace = trace or Trace("provider")
        self.loud = loud
        if http_client not in HTTP_CLIENTS:
            raise ValueError(f"http_client must be one of {HTTP_CLIENTS}, not {http_client!r}")
        self.http_client = "httpx" if client is not None else http_client  # a client given is httpx
        # Keep-alive pays off: most deliveries go to the few endpoints that were just used.
        # trust_env=False: an HTTP(S)_PROXY from the environment must not reroute webhooks
        # (production does send through a proxy, on purpose: an SSRF-filtering egress proxy).
        # The lean client never looks at the environment.
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2))
        if client is None:
            self.client.headers.clear()  # no Accept, Accept-Encoding, Connection, User-Agent of httpx's
        self.lean = lean_http.LeanClient(max_idle=concurrency * 2)
        self._owns_client = client is None
        self._wake = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}  # delivery id -> its attempt: "in flight"
        self._to_endpoint: dict[str, int] = {}  # subscription id -> its attempts in flight
        self._stopping = False
        self._paused_until = 0.0  # after a failure to record an outcome: do not spin on it
        self.attempts_made = 0

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def wake(self) -> None:
        """New work may be due (an event was stored, a delivery redelivered)."""
        self._wake.set()

    async def run(self) -> None:
        counts = await asyncio.to_thread(self.outbox.counts)
        if counts[State.PENDING]:
            self.trace.state(f"resuming {counts[State.PENDING]} pending deliveries from the outbox")
        while not self._stopping:
            # Clear before looking: a wake() that comes while we query is not lost.
            self._wake.clear()
            slots = self.concurrency - len(self._tasks)
            timeout = None  # all slots busy: a finishing attempt wakes us
            pause = self._paused_until - self.clock()
            if pause > 0:
                timeout, slots = pause, 0
            elif slots > 0:
                full = tuple(sub for sub, n in self._to_endpoint.items() if n >= self.per_endpoint)
                jobs, next_due = await asyncio.to_thread(
                    self.outbox.claim_due, self.clock(), slots, tuple(self._tasks), full)
                if self._stopping:
                    break  # stop() came while we looked: start nothing (claiming wrote nothing)
                skipped = 0
                for job in jobs:
                    if self._to_endpoint.get(job.subscription_id, 0) >= self.per_endpoint:
                        skipped += 1  # its endpoint filled up in this very batch: it stays PENDING
                    else:
                        self._start(job)
                if skipped:
                    continue  # that endpoint is in `full` now: look again at once for the others
                if len(jobs) < slots and next_due is not None:
                    timeout = max(0.0, next_due - self.clock())
            if self._stopping:
                break
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass  # the next retry is due

    def _start(self, job: Job) -> None:
        task = asyncio.create_task(self._attempt(job), name=f"deliver-{job.delivery_id}")
        self._tasks[job.delivery_id] = task
        self._to_endpoint[job.subscription_id] = self._to_endpoint.get(job.subscription_id, 0) + 1
        task.add_done_callback(lambda t: self._finished(job, t))

    def _finished(self, job: Job, task: asyncio.Task[None]) -> None:
        delivery_id = job.delivery_id
        self._tasks.pop(delivery_id, None)
        left = self._to_endpoint.pop(job.subscription_id, 1) - 1
        if left:
            self._to_endpoint[job.subscription_id] = left
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            # The outcome could not be recorded (a full disk?): the row is still PENDING and
            # due, so it would be claimed again at once.  A pause keeps that from spinning.
            self._paused_until = self.clock() + 1.0
            self.trace.state(f"{delivery_id}: recording the attempt failed: {task.exception()!r}",
                             always=True)

    async def _attempt(self, job: Job) -> None:
        attempt = job.attempts + 1
        started = self.clock()
        begin = time.perf_counter()
        status: int | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            # Again, before every attempt: DNS may have changed (ssrf_guard.py, "DNS rebinding").
            # A name is resolved in a thread (getaddrinfo blocks); a literal IP needs no lookup.
            if is_literal(urlsplit(job.url).hostname or ""):
                target = self.guard.check(job.url)
            else:
                target = await asyncio.to_thread(self.guard.check, job.url)
            if self.http_client == "lean":
                url_text, extra, server_name = pinned_url(target)
            else:
                url, extra, extensions = pinned_request(target)
            # Signed now, at send time (Standard Webhooks: the timestamp of the attempt), not
            # at `started`: the DNS check above may have taken seconds of the receiver's window.
            headers = {**attempt_headers(job, int(self.clock())), **extra}
            if self.loud:
                detail = [f"{name}: {value}" for name, value in headers.items()]
                self.trace.sent(f"POST {job.url} id={job.delivery_id} attempt {attempt}/"
                                f"{self.policy.max_attempts}", [*detail, f"body: {shorten(job.body, 100)}"],
                                peer=RECEIVER, cid=job.delivery_id)
            async with asyncio.timeout(self.timeout):
                if self.http_client == "lean":
                    got = await self.lean.post(url_text, headers, job.body, limit=MAX_RESPONSE,
                                               server_name=server_name)
                    status, answer, said_retry_after = got.status, got.body, got.headers.get("retry-after")
                else:
                    async with self.client.stream("POST", url, content=job.body, headers=headers,
                                                  extensions=extensions) as response:
                        status = response.status_code
                        answer = await read_some(response, MAX_RESPONSE)
                    said_retry_after = response.headers.get("retry-after")
            retry_after = parse_retry_after(said_retry_after)
            if not 200 <= status <= 299:
                error = f"HTTP {status}: {shorten(answer, 100)}" if answer else f"HTTP {status}"
        except TargetRefused as exc:
            error = f"refused by the SSRF guard: {exc}"
        except (TimeoutError, httpx.TimeoutException):
            status, error = None, f"timeout after {self.timeout:g} s"
        except (httpx.HTTPError, lean_http.HTTPError) as exc:  # refused, reset, bad answer: no (whole) answer
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except Exception as exc:  # a bug of ours: still an attempt, so it cannot loop for ever
            error = f"internal error: {exc!r}"
        latency_ms = (time.perf_counter() - begin) * 1000
        self.attempts_made += 1
        outcome = decide(self.policy, attempt, status, self.clock(), self.rng, retry_after)
        if self.loud:
            took = f"{latency_ms:.1f} ms"
            said = f"{status} in {took}" if status is not None else f"{error} ({took})"
            # No status: nothing came back (refused, timed out), so no peer to draw it from.
            self.trace.received(f"{said} id={job.delivery_id}", peer=RECEIVER if status is not None else None,
                                cid=job.delivery_id)
        await self.commits.write(self.outbox.attempt_record(job.delivery_id, attempt, started, status, error,
                                                            round(latency_ms, 3), outcome))
        if isinstance(outcome, Retry) and self.loud:
            self.trace.state(f"{job.delivery_id} retry in {outcome.delay:.2f} s")
        elif isinstance(outcome, GiveUp):
            # Always shown (even --quiet): a dead webhook needs a human.
            self.trace.state(f"{job.delivery_id} DEAD after {attempt} attempts ({outcome.reason})")
        elif isinstance(outcome, Delivered) and self.loud and attempt > 1:
            self.trace.state(f"{job.delivery_id} DELIVERED on attempt {attempt}")

    async def stop(self, grace: float) -> None:
        """Take no new work; wait up to ``grace`` s for attempts in flight, then cancel the rest."""
        self._stopping = True
        self._wake.set()
        tasks = list(self._tasks.values())
        if tasks:
            self.trace.state(f"stopping: {len(tasks)} attempt(s) in flight, waiting up to {grace:g} s")
            _, unfinished = await asyncio.wait(tasks, timeout=grace)
            for task in unfinished:
                task.cancel()  # before its outcome is recorded: the delivery stays PENDING
            await asyncio.gather(*unfinished, return_exceptions=True)
            if unfinished:
                self.trace.state(f"left {len(unfinished)} delivery(ies) PENDING for the next start")
        if self._owns_client:
            await self.client.aclose()
        await self.lean.aclose()


async def read_some(response: httpx.Response, limit: int) -> bytes:
    """Up to ``limit`` bytes of the response body: a receiver cannot make us buffer gigabytes."""
    parts, size = [], 0
    async for chunk in response.aiter_raw():
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)[:limit]
