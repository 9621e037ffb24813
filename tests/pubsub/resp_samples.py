"""RESP samples for the codec tests: the spec's examples, and random replies written as a server would."""

from __future__ import annotations

import math
import random

from learn_pubsub.resp import Push, RespError, RespParser, Verbatim
from learn_pubsub.resp_fast import FastRespParser

MGET_WITH_ATTRIBUTE = (b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
                       b"*2\r\n:2039123\r\n:9543892\r\n")
ARRAY_WITH_ATTRIBUTE = b"*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n"
MESSAGE_PUSH = b'>3\r\n$7\r\nmessage\r\n$14\r\norders.created\r\n$9\r\n{"id":42}\r\n'

# (the spec's example, its bytes, the value we parse it to)
SPEC_EXAMPLES = [
    ("simple string OK", b"+OK\r\n", "OK"),
    ("simple error", b"-ERR unknown command 'foobar'\r\n", RespError("ERR unknown command 'foobar'")),
    ("WRONGTYPE error", b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
     RespError("WRONGTYPE Operation against a key holding the wrong kind of value")),
    ("integer zero", b":0\r\n", 0),
    ("integer 1000", b":1000\r\n", 1000),
    ("signed integers", b"*2\r\n:-1\r\n:+7\r\n", [-1, 7]),
    ("bulk string hello", b"$5\r\nhello\r\n", b"hello"),
    ("empty bulk string", b"$0\r\n\r\n", b""),
    ("binary bulk string", b"$4\r\n\r\n\x00\xff\r\n", b"\r\n\x00\xff"),
    ("null bulk string", b"$-1\r\n", None),
    ("empty array", b"*0\r\n", []),
    ("array of two bulk strings", b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n", [b"hello", b"world"]),
    ("array of three integers", b"*3\r\n:1\r\n:2\r\n:3\r\n", [1, 2, 3]),
    ("mixed array", b"*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$5\r\nhello\r\n", [1, 2, 3, 4, b"hello"]),
    ("nested arrays", b"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
     [[1, 2, 3], ["Hello", RespError("World")]]),
    ("null array", b"*-1\r\n", None),
    ("null element in an array", b"*3\r\n$5\r\nhello\r\n$-1\r\n$5\r\nworld\r\n", [b"hello", None, b"world"]),
    ("null", b"_\r\n", None),
    ("boolean true", b"#t\r\n", True),
    ("boolean false", b"#f\r\n", False),
    ("double 1.23", b",1.23\r\n", 1.23),
    ("double 10", b",10\r\n", 10.0),
    ("double with exponent", b",-1.5E+3\r\n", -1500.0),
    ("positive infinity", b",inf\r\n", math.inf),
    ("negative infinity", b",-inf\r\n", -math.inf),
    ("big number", b"(3492890328409238509324850943850943825024385\r\n",
     3492890328409238509324850943850943825024385),
    ("bulk error", b"!21\r\nSYNTAX invalid syntax\r\n", RespError("SYNTAX invalid syntax")),
    ("verbatim string", b"=15\r\ntxt:Some string\r\n", Verbatim("txt", "Some string")),
    ("map", b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", {"first": 1, "second": 2}),
    ("set", b"~3\r\n+orange\r\n+apple\r\n:100\r\n", {"orange", "apple", 100}),
    ("empty map and set", b"*2\r\n%0\r\n~0\r\n", [{}, set()]),
    ("pushed message", MESSAGE_PUSH, Push("message", (b"orders.created", b'{"id":42}'))),
    ("attribute before a reply (dropped)", MGET_WITH_ATTRIBUTE, [2039123, 9543892]),
    ("attribute inside an array (dropped)", ARRAY_WITH_ATTRIBUTE, [1, 2, 3]),
]

def parse_all(*chunks: bytes, parser: RespParser | FastRespParser | None = None) -> list[object]:
    parser = parser if parser is not None else RespParser()
    values: list[object] = []
    for chunk in chunks:
        values.extend(parser.feed(chunk))
    return values



def serialize(value: object) -> bytes:
    """A RESP3 reply, written as a server would: the test's side of the round trip."""
    if isinstance(value, str):
        return b"+%s\r\n" % value.encode()
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if isinstance(value, bool):
        return b"#t\r\n" if value else b"#f\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value if abs(value) < 2**63 else b"(%d\r\n" % value
    if isinstance(value, float):
        return b",%r\r\n" % value
    if value is None:
        return b"_\r\n"
    if isinstance(value, RespError):
        return b"-%s\r\n" % value.message.encode()
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(map(serialize, value))
    if isinstance(value, dict):
        return b"%%%d\r\n" % len(value) + b"".join(serialize(k) + serialize(v) for k, v in value.items())
    raise TypeError(value)


def random_value(rng: random.Random, depth: int = 0) -> object:
    scalars = [lambda: rng.choice(["OK", "PONG", ""]), lambda: rng.randbytes(rng.randrange(0, 40)),
               lambda: rng.randrange(-2**70, 2**70), lambda: rng.random() * 1e6, lambda: None,
               lambda: rng.random() < 0.5, lambda: RespError("ERR " + str(rng.randrange(100)))]
    if depth < 3 and rng.random() < 0.4:
        items = [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 6))]
        return items if rng.random() < 0.6 else {f"k{i}": item for i, item in enumerate(items)}
    return rng.choice(scalars)()
