"""Codec tests for RESP, starting from the spec's own example bytes (redis.io "RESP protocol spec").

Then: every split of those bytes, malformed input, the limits.  Every parser
test runs on both parsers, the readable one (``resp.RespParser``) and the fast
one (``resp_fast.FastRespParser``); ``test_resp_fast.py`` compares the two on
random input, ``test_resp_vs_redis_py.py`` compares ours with redis-py's codec.
"""

from __future__ import annotations

import doctest
import math

import pytest

from learn_pubsub import resp
from learn_pubsub.resp import (
    ProtocolError,
    RespParser,
    WithAttributes,
    encode_command,
)
from learn_pubsub.resp_fast import FastRespParser
from tests.pubsub.resp_samples import (
    ARRAY_WITH_ATTRIBUTE,
    MESSAGE_PUSH,
    MGET_WITH_ATTRIBUTE,
    SPEC_EXAMPLES,
    parse_all,
)

pytestmark = pytest.mark.pure

IDS = [example[0] for example in SPEC_EXAMPLES]
WIRES = [(wire, value) for _, wire, value in SPEC_EXAMPLES]


@pytest.fixture(params=[RespParser, FastRespParser], ids=["plain", "fast"])
def Parser(request):  # noqa: N802  (a class, as the tests use it)
    return request.param


@pytest.mark.parametrize(("wire", "value"), WIRES, ids=IDS)
def test_spec_example_parses_to_its_value(Parser, wire: bytes, value: object) -> None:
    assert parse_all(wire, parser=Parser()) == [value]


@pytest.mark.parametrize(("wire", "value"), WIRES, ids=IDS)
def test_spec_example_parses_when_cut_in_two_at_any_byte(Parser, wire: bytes, value: object) -> None:
    for cut in range(1, len(wire)):
        parser = Parser()
        assert list(parser.feed(wire[:cut])) == [], f"a value came out of the first {cut} bytes"
        assert list(parser.feed(wire[cut:])) == [value], f"cut at byte {cut}"


@pytest.mark.parametrize(("wire", "value"), WIRES, ids=IDS)
def test_spec_example_parses_when_fed_one_byte_at_a_time(Parser, wire: bytes, value: object) -> None:
    assert parse_all(*(wire[i:i + 1] for i in range(len(wire))), parser=Parser()) == [value]


def test_all_examples_back_to_back_come_out_in_order_from_one_feed(Parser) -> None:
    assert parse_all(b"".join(wire for wire, _ in WIRES), parser=Parser()) == [value for _, value in WIRES]


def test_nan_is_a_double(Parser) -> None:
    assert math.isnan(parse_all(b",nan\r\n", parser=Parser())[0])


def test_attributes_are_attached_when_asked_for(Parser) -> None:
    parser = Parser(attributes=True)
    assert parse_all(MGET_WITH_ATTRIBUTE + ARRAY_WITH_ATTRIBUTE, parser=parser) == [
        WithAttributes([2039123, 9543892], {"key-popularity": {b"a": 0.1923, b"b": 0.0012}}),
        [1, 2, WithAttributes(3, {"ttl": 3600})],
    ]


def test_map_with_an_array_as_key_uses_a_tuple(Parser) -> None:
    assert parse_all(b"%1\r\n*2\r\n:1\r\n:2\r\n+pair\r\n", parser=Parser()) == [{(1, 2): "pair"}]


def test_a_value_waits_for_its_last_byte_and_the_values_before_it_do_not(Parser) -> None:
    parser = Parser()
    assert list(parser.feed(b"+OK\r\n:10")) == ["OK"]
    assert list(parser.feed(b"00\r\n$5\r\nhel")) == [1000]
    assert list(parser.feed(b"lo\r")) == []
    assert list(parser.feed(b"\n")) == [b"hello"]


def test_the_fast_parser_parses_the_elements_of_an_unfinished_array_once() -> None:
    parser = FastRespParser()
    elements = b"".join(b"$5\r\n%05d\r\n" % i for i in range(10_000))
    assert list(parser.feed(b"*20000\r\n" + elements)) == []
    parser.feed(b"")  # the next feed drops what the elements already parsed occupied
    assert len(parser._buffer) == 0 and len(parser._stack[0].items) == 10_000
    assert parse_all(elements, parser=parser)[0][-1] == b"09999"


def test_the_plain_parser_keeps_an_unfinished_value_and_reads_it_again_from_its_start() -> None:
    parser = RespParser()
    first_half = b"*4\r\n:1\r\n:2\r\n"
    assert list(parser.feed(first_half)) == []
    parser.feed(b"")
    assert bytes(parser._buffer) == first_half  # nothing kept but the bytes themselves
    assert list(parser.feed(b":3\r\n:4\r\n")) == [[1, 2, 3, 4]]


def test_record_raw_gives_the_exact_bytes_of_each_value(Parser) -> None:
    parser = Parser(record_raw=True)
    wire = b"+OK\r\n" + MESSAGE_PUSH + b":1\r\n"
    seen = []
    for i in range(0, len(wire), 7):
        for _ in parser.feed(wire[i:i + 7]):
            seen.append(parser.last_raw)
    assert seen == [b"+OK\r\n", MESSAGE_PUSH, b":1\r\n"]


MALFORMED = [
    ("unknown type byte", b"?what\r\n", "unknown type byte"),
    ("an inline command is not a reply", b"PING\r\n", "unknown type byte"),
    ("letters in an integer", b":12a\r\n", "not an integer"),
    ("space in an integer", b": 12\r\n", "not an integer"),
    ("underscore in an integer", b":1_000\r\n", "not an integer"),
    ("empty integer", b":\r\n", "not an integer"),
    ("bulk not followed by CRLF", b"$5\r\nhello!!", "not followed by CRLF"),
    ("bulk length -2", b"$-2\r\n", "bad length"),
    ("bulk length in letters", b"$five\r\n", "bad length"),
    ("negative map count", b"%-1\r\n", "bad length"),
    ("array count -2", b"*-2\r\n", "bad length"),
    ("boolean x", b"#x\r\n", "bad '#' value"),
    ("double with two dots", b",1.2.3\r\n", "bad ',' value"),
    ("double with nothing", b",\r\n", "bad ',' value"),
    ("null with content", b"_x\r\n", "bad '_' value"),
    ("verbatim without its format", b"=5\r\nabcde\r\n", "3-byte format"),
    ("push inside an array", b"*1\r\n>1\r\n+x\r\n", "push inside"),
    ("push with no elements", b">0\r\n", "must start with its kind"),
    ("push whose kind is a number", b">1\r\n:1\r\n", "must start with its kind"),
    ("LF inside a simple string", b"+OK\nmore\r\n", "CR or LF"),
]


@pytest.mark.parametrize(("wire", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_input_raises_protocol_error(Parser, wire: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_all(wire, parser=Parser())


def test_a_protocol_error_is_final(Parser) -> None:
    parser = Parser()
    with pytest.raises(ProtocolError):
        parse_all(b"?\r\n", parser=parser)
    with pytest.raises(ProtocolError):
        parse_all(b"+OK\r\n", parser=parser)


def test_an_oversized_bulk_is_refused_on_its_length_line_before_its_data(Parser) -> None:
    with pytest.raises(ProtocolError, match="over the limit of 10"):
        parse_all(b"$11\r\n", parser=Parser(max_bulk=10))
    assert parse_all(b"$10\r\n0123456789\r\n", parser=Parser(max_bulk=10)) == [b"0123456789"]


def test_a_line_without_crlf_past_max_line_is_refused(Parser) -> None:
    parser = Parser(max_line=100)
    assert parse_all(b"+" + b"x" * 99, parser=parser) == []
    with pytest.raises(ProtocolError, match="no CRLF"):
        parse_all(b"xx", parser=parser)


# -- encoding commands ------------------------------------------------------------------


def test_command_is_an_array_of_bulk_strings_as_in_the_spec() -> None:
    assert encode_command("LLEN", "mylist") == b"*2\r\n$4\r\nLLEN\r\n$6\r\nmylist\r\n"


def test_arguments_are_binary_safe_and_numbers_are_written_in_decimal() -> None:
    assert encode_command("SET", b"k\r\n", 42, 0.5) == (
        b"*4\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$2\r\n42\r\n$3\r\n0.5\r\n")


@pytest.mark.parametrize("bad", [True, None, ["x"]], ids=["bool", "None", "list"])
def test_arguments_that_are_not_strings_or_numbers_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        encode_command("SET", "k", bad)


def test_an_empty_command_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_command()


def escaped(wire: bytes) -> str:
    return wire.decode().replace("\r", "\\r").replace("\n", "\\n")


def test_the_docstring_examples_run() -> None:
    assert doctest.testmod(resp).failed == 0


def test_the_module_docstring_shows_the_exact_subscribe_bytes() -> None:
    doc = resp.__doc__ or ""
    assert escaped(encode_command("SUBSCRIBE", "orders.created")) in doc
    assert escaped(MESSAGE_PUSH) in doc
    assert escaped(b"*" + MESSAGE_PUSH[1:]) in doc


