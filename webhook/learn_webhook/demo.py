"""The webhook demo: ``make demo-webhook`` (``python -m learn_webhook.demo [-v]``).

Reading order: signatures -> outbox -> group_commit -> retry_schedule -> ssrf_guard ->
dispatcher -> lean_http -> direct_route -> provider_app -> provider -> inbox ->
receiver_app -> receiver -> **demo**.
Read this last: it drives everything else in the folder.

Five acts, each checked, so the demo is also a test (CI runs it as one):

1. **Registration.**  The subscriber registers its endpoint URL with the
   provider and gets a ``whsec_`` secret back; it configures its receiver with it.
   (The provider refuses loopback targets unless told otherwise: the demo allows
   127.0.0.0/8 explicitly, as the SSRF guard demands.)
2. **A signed delivery.**  An event is created through the provider's API; the
   provider stores it in its outbox, then POSTs it with ``webhook-id``,
   ``webhook-timestamp`` and ``webhook-signature`` (shown in full); the
   receiver verifies the raw body, answers 202 at once and processes it after.
3. **A forged request.**  Someone without the secret POSTs a look-alike
   delivery: 401, and nothing from it is processed.
4. **A replay.**  The exact same signed request is sent twice: the second is
   recognised by its ``webhook-id`` and not processed again.
5. **An outage.**  The receiver goes down; three events are created; the
   provider retries each with exponential backoff and full jitter; the receiver
   comes back and every event arrives, processed exactly once.

``--act N`` runs act 1 (every other act needs its subscription) and act N.  Each
act has a switch that turns off the mechanism it shows, so that its check fails
(exit 1, saying what went wrong):

- ``--no-allow-target`` (act 1): the provider keeps its SSRF guard closed to
  loopback, so the registration of the receiver's URL is refused;
- ``--wrong-secret`` (act 2): the receiver is configured with another secret, so
  every signed delivery is refused with 401;
- ``--no-signature-check`` (act 3): the receiver runs ``--no-verify``, so the
  forged request is accepted;
- ``--no-dedup`` (act 4): the receiver runs ``--no-dedup``, so the replay is
  processed a second time;
- ``--no-retry`` (act 5): the provider makes one attempt only, so the deliveries
  made during the outage go DEAD.

Exit 0 when every check passed, 1 when one failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

from wirelab_common.errors import check, run_main
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, start_server
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

from .signatures import standard_headers

PY = sys.executable


class Demo:
    """The two processes and the HTTP client the acts share."""

    def __init__(self, workdir: Path, verbose: bool, switches: argparse.Namespace) -> None:
        self.workdir, self.verbose, self.switches = workdir, verbose, switches
        self.trace = Trace("demo", verbose=verbose)
        # The receiver's URL is registered before the receiver can start (it needs the
        # secret the registration returns), so its port is chosen first; the provider's
        # is the kernel's choice (--port 0, read from its ready line).
        self.provider_port, self.receiver_port = 0, free_port()
        # Its User-Agent names it to the provider and the receiver, whose trace events then
        # name "demo" as the other end (``peer``; the id of a webhook is the ``cid``).
        self.http = httpx.AsyncClient(timeout=10, headers={"user-agent": "wirelab-webhook-demo/0.1"})
        self.provider: ManagedProcess | None = None
        self.receiver: ManagedProcess | None = None
        self.secret = ""
        self.forged_refused = 0  # act 3's 401, expected

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.provider_port}"

    @property
    def hook(self) -> str:
        return f"http://127.0.0.1:{self.receiver_port}"

    def start_provider(self) -> None:
        # -v always: the signed headers of every attempt are the point of act 2.
        attempts = "1" if self.switches.no_retry else "20"
        argv = [PY, "-m", "learn_webhook.provider", "--port", "0",
                "--data-dir", str(self.workdir / "provider"), "--backoff-base", "0.25", "--backoff-cap", "2",
                "--max-attempts", attempts, "--seed", "7", "-v"]
        if not self.switches.no_allow_target:
            argv += ["--allow-target", "127.0.0.0/8"]
        self.provider = start_server(argv, name="provider", echo=True)
        self.provider_port = self.provider.port

    def start_receiver(self) -> None:
        secret = "whsec_" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJC" if self.switches.wrong_secret else self.secret
        argv = [PY, "-m", "learn_webhook.receiver", "--port", str(self.receiver_port),
                "--data-dir", str(self.workdir / "receiver"), "--secret", secret]
        argv += ["-v"] if self.verbose else []
        argv += ["--no-verify"] if self.switches.no_signature_check else []
        argv += ["--no-dedup"] if self.switches.no_dedup else []
        self.receiver = start_server(argv, name="receiver", echo=True)
        self.forged_refused = 0  # the new process counts its 401s from 0

    async def received(self) -> dict:
        return (await self.http.get(f"{self.hook}/received")).json()

    async def wait_processed(self, count: int, timeout: float = 20) -> dict:
        """Until ``count`` events are processed; a refused or DEAD delivery fails at once, saying why."""
        async def processed() -> dict | None:
            state = await self.received()
            refused = state["counts"]["rejected_signature"] - self.forged_refused
            check(refused == 0, f"the receiver refused {refused} signed delivery(ies) with 401: "
                                "its secret is not the subscription's")
            dead = (await self.http.get(f"{self.api}/deliveries", params={"state": "DEAD"})).json()
            check(not dead["deliveries"], f"{len(dead['deliveries'])} delivery(ies) DEAD after "
                  f"{dead['deliveries'][0]['attempts'] if dead['deliveries'] else 0} attempt(s): not retried")
            return state if state["counts"]["processed"] >= count else None
        return await eventually_async(processed, timeout, f"{count} processed events", interval=0.1)

    async def create_event(self, event_type: str, payload: dict) -> str:
        reply = await self.http.post(f"{self.api}/events", json={"type": event_type, "payload": payload})
        check(reply.status_code == 202, f"POST /events answered {reply.status_code}: {reply.text}")
        body = reply.json()
        self.trace.received(f"202 event {body['event_id']} stored; deliveries {body['deliveries']}",
                            peer="provider", cid=body["deliveries"][0])
        return body["deliveries"][0]

    def stop(self) -> None:
        for proc in (self.receiver, self.provider):
            if proc is not None:
                proc.stop()


async def act_register(demo: Demo) -> None:
    demo.trace.banner("Act 1: the subscriber registers its endpoint and gets a secret")
    url = f"{demo.hook}/webhook"
    demo.trace.sent(f"POST /subscriptions {{'url': '{url}'}}", peer="provider")
    reply = await demo.http.post(f"{demo.api}/subscriptions", json={"url": url})
    check(reply.status_code == 201, f"registration answered {reply.status_code}: {reply.text}")
    demo.secret = reply.json()["secret"]
    demo.trace.received(f"201 subscription {reply.json()['id']}, secret {demo.secret[:12]}...",
                        peer="provider")
    demo.start_receiver()


async def act_deliver(demo: Demo) -> None:
    demo.trace.banner("Act 2: an event, stored in the outbox, delivered signed, verified, processed")
    delivery = await demo.create_event("push", {"repo": "wirelab", "ref": "refs/heads/main"})
    state = await demo.wait_processed(1)
    check(state["events"][0]["id"] == delivery, f"processed {state['events']}, expected {delivery}")
    demo.trace.note(f"the receiver processed {delivery} after answering 202")


async def act_forged(demo: Demo) -> None:
    demo.trace.banner("Act 3: a forged request (signed with the wrong secret) is refused")
    body = json.dumps({"type": "push", "data": {"repo": "evil"}}).encode()
    guessed = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"  # well-formed, but not the secret
    headers = standard_headers([guessed], "msg_forged", int(time.time()), body)
    demo.trace.sent("POST /webhook id=msg_forged (signed with a guessed secret)", peer="receiver",
                    cid="msg_forged")
    reply = await demo.http.post(f"{demo.hook}/webhook", content=body, headers=headers)
    demo.trace.received(f"{reply.status_code} {reply.text}", peer="receiver", cid="msg_forged")
    check(reply.status_code == 401, f"a forged request must get 401, got {reply.status_code}: "
                                    "the receiver did not check the signature")
    demo.forged_refused += 1
    state = await demo.received()
    check(all(e["id"] != "msg_forged" for e in state["events"]), "a forged event was processed")


async def act_replay(demo: Demo) -> None:
    demo.trace.banner("Act 4: the same signed request twice -- the second is a duplicate")
    body = json.dumps({"type": "issue.opened", "timestamp": "2026-11-21T00:00:00Z",
                       "data": {"number": 7}}).encode()
    headers = standard_headers([demo.secret], "msg_replayed", int(time.time()), body)
    answers, before = [], (await demo.received())["counts"]["processed"]
    for attempt in ("original", "replay"):
        reply = await demo.http.post(f"{demo.hook}/webhook", content=body, headers=headers)
        demo.trace.received(f"{attempt}: {reply.status_code} {reply.text}", peer="receiver",
                            cid="msg_replayed")
        answers.append(reply.status_code)
    check(answers == [202, 200], f"expected 202 then 200 (duplicate), got {answers}: "
                                 "the repeated webhook-id was not recognised")
    state = await demo.wait_processed(before + 1)
    check(sum(e["id"] == "msg_replayed" for e in state["events"]) == 1, "the replay was processed twice")


async def act_outage(demo: Demo) -> None:
    demo.trace.banner("Act 5: the receiver goes down; the provider retries; nothing is lost")
    assert demo.receiver is not None
    before = (await demo.received())["counts"]["processed"]
    demo.receiver.stop()
    demo.trace.note("receiver stopped: deliveries now fail with 'connection refused'")
    ids = [await demo.create_event("push", {"n": n}) for n in range(3)]
    await asyncio.sleep(2.0)  # let a few attempts fail and back off
    demo.trace.note("receiver back, with the same inbox")
    demo.start_receiver()
    state = await demo.wait_processed(before + 3)
    processed = [e["id"] for e in state["events"]]
    check(all(processed.count(i) == 1 for i in ids), f"each of {ids} once, processed: {processed}")
    log = (await demo.http.get(f"{demo.api}/deliveries")).json()["deliveries"]
    attempts = {d["id"]: d["attempts"] for d in log if d["id"] in ids}
    check(all(n > 1 for n in attempts.values()), f"expected retries for every delivery: {attempts}")
    demo.trace.note(f"all delivered; attempts per delivery: {attempts}")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_webhook.demo", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="every header on every side")
    parser.add_argument("--act", type=int, choices=range(1, 6), help="run act 1 and this act only")
    parser.add_argument("--no-allow-target", action="store_true",
                        help="act 1: no SSRF exemption for loopback (the registration is refused)")
    parser.add_argument("--wrong-secret", action="store_true",
                        help="act 2: the receiver has another secret (deliveries get 401)")
    parser.add_argument("--no-signature-check", action="store_true",
                        help="act 3: the receiver accepts any signature (the forgery passes)")
    parser.add_argument("--no-dedup", action="store_true",
                        help="act 4: the receiver does not dedupe webhook-ids (the replay is processed)")
    parser.add_argument("--no-retry", action="store_true",
                        help="act 5: one attempt per delivery (the outage's deliveries go DEAD)")
    args = parser.parse_args(argv)
    acts = [act_deliver, act_forged, act_replay, act_outage]
    with tempfile.TemporaryDirectory() as workdir:
        demo = Demo(Path(workdir), args.verbose, args)
        try:
            demo.start_provider()
            await act_register(demo)
            for number, act in enumerate(acts, start=2):
                if args.act in (None, number):
                    await act(demo)
        finally:
            await demo.http.aclose()
            demo.stop()
    Trace("demo").banner("all checks passed")


if __name__ == "__main__":
    run_main(main)
