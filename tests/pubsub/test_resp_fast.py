"""The fast parser gives what the readable one gives: the same values, the same errors, the same raw bytes.

``resp.RespParser`` is the lesson, ``resp_fast.FastRespParser`` the benchmark's
parser; the client can run on either, so they must not differ on anything.
Both are fed the same bytes, cut at the same random places, with the same
options, and what comes out (each value and its ``last_raw``, or the error
with its message) is compared: on random well-formed RESP2/RESP3 replies
(attributes, pushes, sets, verbatim strings, big numbers, nulls...), on those
replies with bytes changed, removed or added, and on random bytes.  The seeds
are fixed, so a difference can be replayed.  No I/O: a pure test.
"""

from __future__ import annotations

import random

import pytest

from learn_pubsub.resp import RespParser
from learn_pubsub.resp_fast import FastRespParser
from tests.pubsub.resp_samples import SPEC_EXAMPLES, parse_all, random_value, serialize

pytestmark = pytest.mark.pure

SCALARS = [b"+OK\r\n", b"-ERR no\r\n", b":-12\r\n", b"(123456789012345678901234567890\r\n", b"_\r\n",
           b"#t\r\n", b",-1.5e3\r\n", b",inf\r\n", b"$-1\r\n", b"*-1\r\n", b"$0\r\n\r\n",
           b"!5\r\nOOPS!\r\n", b"=7\r\ntxt:abc\r\n", b"$3\r\na\r\n\r\n"]


def random_wire(rng: random.Random, depth: int = 0, top: bool = True) -> bytes:
    """One RESP3 value as bytes, of every type, pushes only at the top."""
    roll = rng.random()
    if depth >= 3 or roll < 0.45:
        return rng.choice(SCALARS)
    if roll < 0.55:  # an attribute, describing the value after it
        count = rng.randrange(0, 3)
        pairs = b"".join(b"+k%d\r\n" % i + random_wire(rng, depth + 1, False) for i in range(count))
        return b"|%d\r\n" % count + pairs + random_wire(rng, depth, top)
    count = rng.randrange(0, 5)
    marker = rng.choice(b"*~%>" if top else b"*~%")
    if marker == ord(">"):
        return b">%d\r\n$7\r\nmessage\r\n" % (count + 1) + b"".join(
            random_wire(rng, depth + 1, False) for _ in range(count))
    size = count * 2 if marker == ord("%") else count
    elements = [random_wire(rng, depth + 1, False) for _ in range(size)]
    if marker != ord("*"):  # set members and map keys must be hashable: scalars
        elements = [e if e[:1] not in b"*~%|" else b":%d\r\n" % i for i, e in enumerate(elements)]
    return bytes([marker]) + b"%d\r\n" % count + b"".join(elements)


def damaged(rng: random.Random, wire: bytes) -> bytes:
    data = bytearray(wire)
    for _ in range(rng.randrange(1, 4)):
        where = rng.randrange(0, len(data) + 1)
        action = rng.random()
        if action < 0.4 and where < len(data):
            data[where] = rng.choice(b"\r\n*$:+-_#,(!=%|~>0123456789x ")
        elif action < 0.7 and where < len(data):
            del data[where]
        else:
            data.insert(where, rng.randrange(256))
    return bytes(data)


def outcome(parser, chunks: list[bytes]) -> list[object]:
    """Everything a parser gives for ``chunks``: (value, raw) pairs, then the error it ended with."""
    seen: list[object] = []
    try:
        for chunk in chunks:
            for value in parser.feed(chunk):
                seen.append((value, parser.last_raw))
        seen.append("no error")
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        seen.append((type(exc).__name__, str(exc)))
    return seen


def cut(rng: random.Random, wire: bytes) -> list[bytes]:
    if len(wire) < 2:
        return [wire]
    cuts = sorted(rng.sample(range(1, len(wire)), min(rng.randrange(0, 6), len(wire) - 1)))
    return [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]


def same(a: object, b: object) -> bool:
    return a == b or repr(a) == repr(b)  # repr: a NaN equals nothing, not even itself


def compare(rng: random.Random, wire: bytes) -> None:
    options = dict(attributes=rng.random() < 0.5, record_raw=True,
                   max_bulk=rng.choice([4, 512 * 1024 * 1024]), max_line=rng.choice([8, 64 * 1024]))
    chunks = cut(rng, wire)
    plain, fast = outcome(RespParser(**options), chunks), outcome(FastRespParser(**options), chunks)
    assert len(plain) == len(fast) and all(map(same, plain, fast)), (wire, options, chunks, plain, fast)


def test_both_parsers_agree_on_random_well_formed_replies():
    rng = random.Random(20261207)
    for _ in range(1500):
        compare(rng, b"".join(random_wire(rng) for _ in range(rng.randrange(1, 4))))


def test_both_parsers_agree_on_damaged_replies():
    rng = random.Random(7)
    for _ in range(3000):
        compare(rng, damaged(rng, b"".join(random_wire(rng) for _ in range(rng.randrange(1, 3)))))


def test_both_parsers_agree_on_random_bytes_and_on_the_spec_examples_damaged():
    rng = random.Random(11)
    for _ in range(1000):
        compare(rng, rng.randbytes(rng.randrange(0, 40)))
    for _, wire, _ in SPEC_EXAMPLES:
        for _ in range(20):
            compare(rng, damaged(rng, wire))


@pytest.mark.parametrize("Parser", [RespParser, FastRespParser], ids=["plain", "fast"])
def test_random_replies_survive_a_round_trip_in_random_chunks(Parser) -> None:  # noqa: N803
    rng = random.Random(1234)  # fixed: a failure can be replayed
    for _ in range(300):
        values = [random_value(rng) for _ in range(rng.randrange(1, 5))]
        wire = b"".join(map(serialize, values))
        assert parse_all(*cut(rng, wire), parser=Parser()) == values
