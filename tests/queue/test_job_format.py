"""The job format, pure: exact bytes, clear errors, a reproducible retry schedule.

(These pure tests live in tests/queue/, not queue/tests/: pytest would import a
file there as ``queue.tests...`` and disturb the standard library's ``queue``.)
"""

from __future__ import annotations

import random

import pytest

from learn_queue.job import Job, JobFormatError, backoff_seconds, decode, encode, new_job

pytestmark = pytest.mark.pure


def fixed_job(**changes) -> Job:
    job = new_job("learn_queue.jobs.checksum", ["hello"], clock=lambda: 1767000000.5,
                  new_jid=lambda: "0123456789abcdef01234567")
    for key, value in changes.items():
        setattr(job, key, value)
    return job


def test_encode_is_compact_json_in_a_fixed_key_order():
    assert encode(fixed_job()) == (
        '{"class":"learn_queue.jobs.checksum","args":["hello"],"jid":"0123456789abcdef01234567",'
        '"queue":"default","created_at":1767000000.5,"enqueued_at":1767000000.5,"retry":5}')


def test_decode_of_encode_is_the_same_job_including_failure_fields_and_unknown_keys():
    job = fixed_job(retry_count=2, error_class="ValueError", error_message="boom", failed_at=1.0,
                    retried_at=2.0, timeout=3, extra={"bid": "batch-1"})
    again = decode(encode(job))
    assert again == job
    assert encode(again) == encode(job)


def test_a_minimal_job_written_by_hand_gets_the_defaults():
    job = decode('{"class": "learn_queue.jobs.noop", "args": [], "jid": "abc"}')
    assert (job.queue, job.retry, job.retry_count, job.short_name) == ("default", 5, None, "noop")


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "job is not JSON"),
    ("[1, 2]", "job must be a JSON object, got list"),
    ('{"args": [], "jid": "a"}', "job has no 'class' field"),
    ('{"class": "x", "jid": "a"}', "job has no 'args' field"),
    ('{"class": "x", "args": "no", "jid": "a"}', "job field 'args' must be a list, got str"),
    ('{"class": 7, "args": [], "jid": "a"}', "job field 'class' must be a string"),
    ('{"class": "x", "args": [], "jid": ""}', "job field 'jid' is empty"),
    ('{"class": "x", "args": [], "jid": "a", "retry": true}', "job field 'retry' must be an integer"),
    (b"\xff\xfe", "job is not UTF-8 text"),
])
def test_decode_rejects_what_is_not_a_job_and_says_why(text, message):
    with pytest.raises(JobFormatError, match=message.replace("(", r"\(")):
        decode(text)


def test_backoff_grows_with_each_retry_and_is_reproducible_with_a_seed():
    delays = [backoff_seconds(n, random.Random(42)) for n in range(1, 6)]
    assert delays == sorted(delays)
    for n, delay in enumerate(delays, start=1):
        assert n**4 + 15 <= delay <= n**4 + 15 + 10 * (n + 1)
    assert delays == [backoff_seconds(n, random.Random(42)) for n in range(1, 6)]


def test_backoff_scale_shrinks_the_whole_schedule():
    assert backoff_seconds(3, random.Random(1), scale=0.01) == pytest.approx(
        0.01 * backoff_seconds(3, random.Random(1)))
