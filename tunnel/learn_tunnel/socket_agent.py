"""A Socket Mode agent: receives envelopes over an outbound WebSocket, processes each exactly once.

Reading order: relay / agent -> socket_mode -> socket_hub -> **socket_agent** -> demo.

Run several: ``python -m learn_tunnel.socket_agent --relay ws://127.0.0.1:8021
--app bot --db /tmp/bot.sqlite``; post events with ``curl -d '{"text":"hi"}'
http://127.0.0.1:8020/events/bot``.

Delivery is at least once (``socket_mode.py``), so processing is made
idempotent: the envelope id and the effect are written in **one SQLite
transaction**, and the id is the primary key of ``processed``.  A second
delivery of an id already there (another agent was slow past the deadline,
or died between commit and ack) writes nothing and is acknowledged.  The
acknowledgement goes out only *after* the commit: an agent that dies before
it leaves the envelope to be redelivered, never lost.

A payload may ask for ``{"work": SECONDS}`` of simulated work before the
commit (the demo uses it to be slower than the deadline).  ``--no-dedupe``
writes the effect without the check (the demo's switch).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from wirelab_common.backoff import backoff_delay
from wirelab_common.errors import SetupError, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

SCHEMA = """
CREATE TABLE IF NOT EXISTS processed (envelope_id TEXT PRIMARY KEY, agent TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS effects (envelope_id TEXT NOT NULL, agent TEXT NOT NULL, text TEXT);
"""


def open_store(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=10, isolation_level=None)  # transactions by hand, below
    db.execute("PRAGMA journal_mode=WAL")  # several agents (processes) write the one file
    db.executescript(SCHEMA)
    return db


def process_once(db: sqlite3.Connection, envelope_id: str, payload: dict, agent: str, dedupe: bool) -> bool:
    """Write the effect of ``envelope_id`` unless it was written before; True if it was written now."""
    db.execute("BEGIN IMMEDIATE")  # the write lock first: two agents cannot both see "not processed"
    try:
        if dedupe:
            seen = db.execute("SELECT 1 FROM processed WHERE envelope_id = ?", (envelope_id,)).fetchone()
            if seen:
                db.execute("ROLLBACK")
                return False
            db.execute("INSERT INTO processed VALUES (?, ?)", (envelope_id, agent))
        db.execute("INSERT INTO effects VALUES (?, ?, ?)", (envelope_id, agent, str(payload.get("text", ""))))
        db.execute("COMMIT")
        return True
    except BaseException:
        db.execute("ROLLBACK")
        raise


async def handle(ws, db: sqlite3.Connection, message: dict, name: str, dedupe: bool, trace: Trace) -> None:
    envelope_id, payload = message["envelope_id"], message.get("payload") or {}
    retry = f" (retry {message.get('retry_attempt')}: {message.get('retry_reason')})" \
        if message.get("retry_attempt") else ""
    trace.received(f"{envelope_id}{retry}")
    await asyncio.sleep(float(payload.get("work", 0)))  # the handler's work, before the effect
    written = process_once(db, envelope_id, payload, name, dedupe)
    trace.state(f"{envelope_id} processed" if written else f"{envelope_id} already processed: skipped")
    try:
        await ws.send(json.dumps({"envelope_id": envelope_id}))  # only after the commit
        trace.sent(f"ack {envelope_id}")
    except ConnectionClosed:
        pass  # the relay will send it again; the store makes that harmless


async def run(args: argparse.Namespace) -> None:
    trace = Trace(args.name, args.verbose, quiet=args.quiet)
    db = open_store(args.db)
    rng, attempt = random.Random(), 0
    url = f"{args.relay.rstrip('/')}/socket?app={args.app}"
    while True:
        try:
            async with connect(url, additional_headers={"Authorization": f"Bearer {args.token}"}) as ws:
                hello = json.loads(await ws.recv())
                attempt = 0
                trace.state(f"connected to app {args.app} as {hello.get('connection')}")
                tasks: set[asyncio.Task[None]] = set()
                async for raw in ws:
                    work = handle(ws, db, json.loads(raw), args.name, not args.no_dedupe, trace)
                    task = asyncio.create_task(work)  # envelopes are handled side by side
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        except InvalidStatus as exc:
            if exc.response.status_code == 401:
                raise SetupError("the relay refused the token", "pass the relay's --token") from None
            trace.state(f"relay refused: HTTP {exc.response.status_code}")
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
            trace.state(f"connection lost: {exc or type(exc).__name__}")
        delay = backoff_delay(attempt, 0.2, 5.0, rng)
        attempt += 1
        trace.state(f"reconnecting in {delay:.2f} s (retry {attempt})")
        await asyncio.sleep(delay)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_tunnel.socket_agent",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--relay", default="ws://127.0.0.1:8021", help="the relay's agent port (ws://...)")
    parser.add_argument("--app", default="bot", help="the app whose events this agent takes (one DNS label)")
    parser.add_argument("--name", default="bot-agent", help="this agent's name in the trace and the store")
    parser.add_argument("--db", required=True, help="the SQLite file the app's agents share")
    parser.add_argument("--token", default=os.environ.get("WIRELAB_TUNNEL_TOKEN", "wirelab-tunnel-token"),
                        help="bearer token for the relay (env WIRELAB_TUNNEL_TOKEN)")
    parser.add_argument("--no-dedupe", action="store_true", help="process redeliveries again (demo switch)")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    run_main(lambda: run(args))


if __name__ == "__main__":
    main()
