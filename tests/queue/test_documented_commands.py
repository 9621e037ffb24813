"""Every Redis command that queue/README.md and the docstrings show is one Redis accepts.

Each entry is the text exactly as a reader sees it (the test first checks that
it is still there), with its placeholders (``<job>``, ``<jid>``, ``<now>`` ...)
filled in; the commands then run, in order, through one ``redis-cli``
connection to a private redis-server, and no reply may be an error.  Three of
them once were (``SADD lq:queues`` without a member, ``BLMOVE`` without its
timeout, ``LREM`` without its count).  And a job that ``redis-cli`` pushes in
the documented format is run by our worker: the format is all a producer needs.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from learn_queue.client import job_status
from learn_queue.worker import Worker
from tests.conftest import need_binary
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = pytest.mark.differential  # redis-server and redis-cli judge what the docs show

QUEUE = Path(__file__).resolve().parents[2] / "queue"
JOB = ('{"class":"learn_queue.jobs.checksum","args":["hi"],"jid":"0123456789abcdef01234567",'
       '"queue":"default","created_at":1795300000.25,"enqueued_at":1795300000.25,"retry":5}')
PLACEHOLDERS = {  # longest first, so "<job JSON>" is not read as "<job>" + " JSON>"
    '{"class":"learn_queue.jobs.checksum",...}': f"'{JOB}'",
    "<job with retry_count+1>": f"'{JOB}'", "'<job JSON>'": f"'{JOB}'", "<job>": f"'{JOB}'",
    "<jid>": "0123456789abcdef01234567", "<unix time>": "1795300000.25", "<run at>": "1795300015.5",
    "<now>": "1795300000.25", "1767...": "1795300000.25", "<json>": "'{\"sha256\":\"8f43\"}'",
    "<queue>": "default", "<key>": "seen", "<run>": "w1:0a1b2c3d",
}
# (file under queue/, text as shown); a "MULTI, ..." or "MULTI; ..." line is split into its commands.
SHOWN = [
    ("README.md", "LPUSH lq:queue:default '" + JOB + "'"),
    ("README.md", "MULTI, SADD lq:queues default, LPUSH lq:queue:default <job>, "
                  "HSET lq:job:<jid> status queued updated <now>, EXEC"),
    ("README.md", "BLMOVE lq:queue:default lq:processing:w1 RIGHT LEFT 0.5"),
    ("README.md", "LREM lq:processing:w1 1 <job>"),
    ("README.md", "HSET lq:job:<jid> status done result <json> updated <now> ack <run>"),
    ("README.md", "ZADD lq:schedule <run at> <job with retry_count+1>"),
    ("README.md", "ZRANGEBYSCORE lq:schedule -inf <now>"),
    ("README.md", "ZADD lq:dead <now> <job>"),
    ("README.md", "LRANGE lq:processing:w1 0 -1"),
    ("README.md", "SADD <key> <jid>"),
    ("learn_queue/client.py", "MULTI"),
    ("learn_queue/client.py", "SADD lq:queues default"),
    ("learn_queue/client.py", 'LPUSH lq:queue:default {"class":"learn_queue.jobs.checksum",...}'),
    ("learn_queue/client.py", "HSET lq:job:<jid> status queued updated 1767..."),
    ("learn_queue/client.py", "EXEC"),
    ("learn_queue/client.py", "LPUSH lq:queue:default '<job JSON>'"),
    ("learn_queue/fetch.py", "LMOVE  lq:queue:default lq:processing:w-1 RIGHT LEFT"),
    ("learn_queue/fetch.py", "LREM lq:processing:w-1 1 <job>"),
    ("learn_queue/fetch.py", "HSET lq:job:<jid> status done result <json> updated <now> ack <run>"),
    ("learn_queue/reaper.py", "SET lq:heartbeat:w-1 <unix time> PX 5000"),
    ("learn_queue/reaper.py", "SADD lq:workers w-1"),
    ("learn_queue/scheduler.py", "ZADD lq:schedule 1767000030.5 <job>"),
    ("learn_queue/scheduler.py", "ZRANGEBYSCORE lq:schedule -inf <now> LIMIT 0 100"),
    ("learn_queue/scheduler.py", "ZREM lq:schedule <job>"),
    ("learn_queue/scheduler.py", "LPUSH lq:queue:<queue> <job>; SADD lq:queues <queue>; "
                                 "HSET lq:job:<jid> status queued updated <now>"),
    ("learn_queue/jobs.py", "SADD key <jid>"),
    ("learn_queue/jobs.py", "RPUSH key:runs <jid>"),
    ("learn_queue/jobs.py", "SCARD key"),
]


def runnable(shown: str) -> list[str]:
    """The redis-cli input lines for one shown text."""
    for placeholder, value in PLACEHOLDERS.items():
        shown = shown.replace(placeholder, value)
    return [part.strip() for part in re.split(r"[;,] (?=[A-Z]{3,})", shown)]


def test_every_redis_command_shown_in_the_docs_is_accepted_by_redis_server(private_redis):
    need_binary("redis-cli", "redis-tools")
    lines = []
    for name, shown in SHOWN:
        text = " ".join((QUEUE / name).read_text().split())
        assert " ".join(shown.split()) in text, f"{name} no longer shows {shown!r}: update this list"
        lines += runnable(shown)
    port = private_redis[1].rsplit(":", 1)[1].split("/")[0]
    # --no-raw: errors come back as "(error) ...", as at a terminal.
    result = subprocess.run(["redis-cli", "--no-raw", "-p", port], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, timeout=20, check=True)
    replies = result.stdout.splitlines()
    errors = [line for line in replies if line.startswith("(error)")]
    assert not errors, "\n".join(errors) + "\n--- sent:\n" + "\n".join(lines)
    assert "(nil)" not in replies  # every LMOVE/BLMOVE shown found the job the lines before pushed


async def test_a_job_pushed_with_redis_cli_in_the_documented_format_runs(private_redis):
    need_binary("redis-cli", "redis-tools")
    port = private_redis[1].rsplit(":", 1)[1].split("/")[0]
    payload = json.dumps({"class": "learn_queue.jobs.checksum", "args": ["abc"],
                          "jid": "c0ffee0123456789abcdef01", "queue": "default",
                          "created_at": time.time(), "retry": 2})
    subprocess.run(["redis-cli", "-p", port, "LPUSH", "lq:queue:default", payload], check=True,
                   capture_output=True, timeout=10)
    redis = aioredis.from_url(private_redis[1])
    worker = Worker(redis, queues=["default"], poll=0.05, trace=Trace("worker", quiet=True))
    task = asyncio.create_task(worker.run())
    try:
        async def done():
            status = await job_status(redis, "c0ffee0123456789abcdef01")
            return status if status and status["status"] == "done" else None

        status = await eventually_async(done, 10, "the redis-cli job done")
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
        await redis.aclose()
    assert status["result"]["sha256"].startswith("ba7816bf")
