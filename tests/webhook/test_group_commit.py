"""Group commit on real SQLite files: who shares a transaction, who is told when, what one failure spoils.

The promise under test: a caller of ``GroupCommit.write`` returns only after the
transaction holding its write has committed; writes that arrive while a commit is in
flight share the next one; a failing write is rolled back alone.  And the result on
disk is the same as with one transaction per write (``max_batch=1``): a differential
check of the two.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading

import pytest

from learn_webhook.group_commit import Done, GroupCommit
from learn_webhook.inbox import Inbox, InboxEvent
from learn_webhook.outbox import NotFound, Outbox
from learn_webhook.retry_schedule import Delivered, Retry

pytestmark = pytest.mark.memory

NOW = 1000.0


def sequential_ids():
    counters: dict[str, itertools.count] = {}
    return lambda prefix: f"{prefix}_{next(counters.setdefault(prefix, itertools.count(1)))}"


def open_outbox(path) -> Outbox:
    box = Outbox.open(path, clock=lambda: NOW, new_id=sequential_ids())
    box.add_subscription("http://a.example/hook", "whsec_AAAA")
    return box


def test_writes_that_arrive_during_a_commit_share_the_next_one_and_wait_for_it(tmp_path):
    outbox = open_outbox(tmp_path)
    first_commit_may_end = threading.Event()
    log: list[str] = []

    def write_batch(works):
        log.append(f"commit {len(works)}")
        if len(log) == 1:
            assert first_commit_may_end.wait(5)
        done = outbox.write_batch(works)
        log.append("committed")
        return done

    async def run() -> list[tuple[str, list[str]]]:
        commits = GroupCommit(write_batch)

        async def event(n: int) -> tuple[str, list[str]]:
            stored = await commits.write(outbox.new_event("tick", {"n": n}))
            log.append(f"told {n}")
            return stored

        first = asyncio.create_task(event(0))
        await asyncio.sleep(0.05)  # the first commit is in flight (held)
        rest = [asyncio.create_task(event(n)) for n in range(1, 6)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in [first, *rest])  # nobody told before a commit
        first_commit_may_end.set()
        results = await asyncio.gather(first, *rest)
        assert (commits.commits, commits.writes, commits.largest) == (2, 6, 5)
        return results

    results = asyncio.run(asyncio.wait_for(run(), 10))
    # Two commits: the first alone, then the five that waited; each caller told after its own.
    assert [line for line in log if not line.startswith("told")] == ["commit 1", "committed", "commit 5",
                                                                      "committed"]
    first_done, second_done = [n for n, line in enumerate(log) if line == "committed"]
    assert log.index("told 0") > first_done
    assert all(log.index(f"told {n}") > second_done for n in range(1, 6))
    assert [event_id for event_id, _ in results] == [f"evt_{n}" for n in range(1, 7)]
    assert outbox.counts()["PENDING"] == 6
    outbox.close()


def test_a_failing_write_is_rolled_back_alone_and_its_caller_gets_the_error(tmp_path):
    outbox = open_outbox(tmp_path)

    async def run() -> list[object]:
        commits = GroupCommit(outbox.write_batch)
        return await asyncio.gather(
            commits.write(outbox.new_event("tick", {"n": 1})),
            commits.write(outbox.attempt_record("msg_404", 1, NOW, 200, None, 1.0, Delivered())),
            commits.write(outbox.new_event("tick", {"n": 2})),
            return_exceptions=True)

    first, failed, third = asyncio.run(asyncio.wait_for(run(), 10))
    assert isinstance(failed, NotFound)
    assert first == ("evt_1", ["msg_1"]) and third == ("evt_2", ["msg_2"])
    assert outbox.counts()["PENDING"] == 2
    outbox.close()


def test_when_the_commit_fails_every_caller_of_the_batch_hears_it(tmp_path):
    def full_disk(works):
        raise sqlite3.OperationalError("database or disk is full")

    async def run() -> list[object]:
        commits = GroupCommit(full_disk)
        return await asyncio.gather(*(commits.write(lambda db: 1) for _ in range(3)), return_exceptions=True)

    assert all(isinstance(r, sqlite3.OperationalError) for r in asyncio.run(asyncio.wait_for(run(), 10)))


def table_dump(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return [row for table in ("events", "deliveries", "attempts")
                for row in db.execute(f"SELECT * FROM {table} ORDER BY rowid")]


@pytest.mark.parametrize("max_batch", [256, 3])
def test_grouped_commits_store_exactly_what_one_commit_per_write_stores(tmp_path, max_batch):
    async def workload(outbox: Outbox, commits: GroupCommit) -> None:
        await asyncio.gather(*(commits.write(outbox.new_event("tick", {"n": n})) for n in range(20)))
        outcomes = [Delivered() if n % 3 else Retry(0.5, NOW + 0.5) for n in range(1, 21)]
        await asyncio.gather(*(commits.write(outbox.attempt_record(f"msg_{n}", 1, NOW, 200 if n % 3 else 503,
                                                                     None, 1.5, outcome))
                               for n, outcome in zip(range(1, 21), outcomes, strict=True)))

    dumps = []
    for name, size in (("each", 1), ("grouped", max_batch)):
        outbox = open_outbox(tmp_path / name)
        commits = GroupCommit(outbox.write_batch, size)
        asyncio.run(asyncio.wait_for(workload(outbox, commits), 20))
        assert commits.largest == (1 if size == 1 else min(size, 20))
        outbox.close()
        dumps.append(table_dump(tmp_path / name / "outbox.sqlite3"))
    assert dumps[0] == dumps[1] and len(dumps[0]) == 20 + 20 + 20


def test_the_inbox_accepts_a_batch_with_a_repeat_in_it_once(tmp_path):
    inbox = Inbox.open(tmp_path)

    async def run() -> list[bool]:
        commits = GroupCommit(inbox.write_batch)
        events = [InboxEvent(f"msg_{n % 3}", "tick", "{}", "standard") for n in range(6)]
        return await asyncio.gather(*(commits.write(inbox.acceptance(event, 1)) for event in events))

    assert asyncio.run(asyncio.wait_for(run(), 10)) == [True, True, True, False, False, False]
    assert inbox.counts() == {"accepted": 3, "processed": 0}
    inbox.close()


def test_done_carries_a_result_or_an_error():
    assert Done(result=1).error is None and Done(error=ValueError("x")).result is None
