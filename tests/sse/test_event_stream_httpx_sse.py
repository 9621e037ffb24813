"""Differential: the same bytes through httpx-sse's parser and ours give the same events.

Except where httpx-sse departs from the standard: each such case is asserted to
still differ, with the reason, so a release that fixes one is noticed.
"""

from __future__ import annotations

import random

import httpx
import pytest
from httpx_sse import EventSource

from learn_sse.event_stream import EventStreamParser

pytestmark = pytest.mark.differential


def parse(*chunks: bytes) -> list:
    parser, out = EventStreamParser(), []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out + parser.end()


def random_text(rng: random.Random, alphabet: str, size: int = 12) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(size)))


def httpx_sse_events(chunks: list[bytes]) -> list[tuple[str, str, str]]:
    """Events as httpx-sse 0.4 parses them from an httpx response body made of ``chunks``."""
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=iter(chunks))
    return [(e.event, e.data, e.id) for e in EventSource(response).iter_sse()]


def our_events(chunks: list[bytes]) -> list[tuple[str, str, str]]:
    return [(e.type, e.data, e.last_event_id) for e in parse(*chunks)]


EMPTY_BLOCK = "httpx-sse 0.4 dispatches a block without data (spec §9.2.6 step 2: no event)"


NO_BOM = "httpx-sse 0.4 decodes with httpx's text decoder, which keeps a leading BOM (spec §9.2.5: ignored)"


SPEC_CASES = [
    ("stock ticker", b"data: YHOO\ndata: +2\ndata: 10\n\n", None),
    ("test stream",
     b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n", None),
    ("empty data lines", b"data\n\ndata\ndata\n\ndata:", None),
    ("optional space", b"data:test\n\ndata: test\n\n", None),
    ("typed events", b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n", None),
    ("CR line ends", b"data: a\rdata: b\r\rid: 3\rdata: c\r\r", None),
    ("CRLF line ends", b"event: e\r\ndata: a\r\n\r\n", None),
    ("id with NULL", b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", None),
    ("invalid UTF-8", b"data: a\xffb\n\n", None),
    ("U+2028 is content", "data: a\u2028b\n\n".encode(), None),
    ("heartbeat after an id", b"id: 1\ndata: a\n\n: ping\n\ndata: b\n\n", EMPTY_BLOCK),
    ("block with only an event name", b"event: add\n\ndata: x\n\n", EMPTY_BLOCK),
    ("retry-only block", b"retry: 10\n\ndata: x\n\n", EMPTY_BLOCK),
    ("leading BOM", b"\xef\xbb\xbfdata: a\n\n", NO_BOM),
]


@pytest.mark.parametrize(("stream", "deviation"), [pytest.param(s, d, id=n) for n, s, d in SPEC_CASES])
def test_httpx_sse_parses_the_same_stream_to_the_same_events(stream, deviation):
    """Same events, except where httpx-sse departs from the spec: then it must still differ.

    A known deviation is asserted, not skipped: if a new httpx-sse release fixes it,
    this test says so, and the note (and the README) should go.
    """
    for size in (len(stream), 1, 3):
        chunks = [stream[i:i + size] for i in range(0, len(stream), size)]
        if deviation:
            assert our_events(chunks) != httpx_sse_events(chunks), f"httpx-sse now agrees: {deviation}"
        else:
            assert our_events(chunks) == httpx_sse_events(chunks), f"chunks of {size}"


def test_httpx_sse_agrees_on_random_streams_where_every_block_has_data():
    # Every block carries data, so httpx-sse's one known deviation (EMPTY_BLOCK) cannot
    # show; everything else -- fields, comments, line ends, chunking -- is random.
    rng = random.Random(2025)
    value_alphabet = "ab :\0\t\u00e9\U0001f600\u2028"
    for _ in range(200):
        lines = []
        for _ in range(rng.randrange(1, 6)):
            fields = [f"data:{random_text(rng, value_alphabet, 6)}"]
            for _ in range(rng.randrange(4)):
                name = rng.choice(["data", "event", "id", "retry", "", "foo", "data:", "id "])
                fields.insert(rng.randrange(len(fields) + 1), f"{name}:{random_text(rng, value_alphabet, 6)}")
            lines += fields + [""]
        eols = [rng.choice(["\n", "\r", "\r\n"]) for _ in lines]
        encoded = "".join(line + eol for line, eol in zip(lines, eols, strict=True)).encode()
        cut = sorted(rng.sample(range(1, len(encoded)), min(5, len(encoded) - 1)))
        chunks = [encoded[a:b] for a, b in zip([0, *cut], [*cut, len(encoded)], strict=True)]
        assert our_events(chunks) == httpx_sse_events(chunks), encoded
