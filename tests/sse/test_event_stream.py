"""Codec tests for the event stream (WHATWG HTML §9.2.5, §9.2.6), starting from the standard's own examples.

The same bytes through httpx-sse's parser: test_event_stream_httpx_sse.py.
"""

from __future__ import annotations

import random

import pytest

from learn_sse.event_stream import (
    Comment,
    Event,
    EventStreamParser,
    RetryChanged,
    format_comment,
    format_event,
)

pytestmark = pytest.mark.pure


def parse(*chunks: str | bytes, parser: EventStreamParser | None = None) -> list[Event]:
    """Feed every chunk, then end the stream; return what was dispatched."""
    parser = parser or EventStreamParser()
    out = []
    for chunk in chunks:
        out += parser.feed(chunk)
    out += parser.end()
    return out


def datas(events: list[Event]) -> list[str]:
    return [event.data for event in events]


# ---- the standard's examples ------------------------------------------------------------------


def test_stock_ticker_example_joins_its_three_data_lines_with_lf():
    # §9.2.6: "the following stream ... would cause an event message with the interface
    # MessageEvent to be dispatched ... the data attribute would contain "YHOO\n+2\n10"".
    assert parse("data: YHOO\ndata: +2\ndata: 10\n\n") == [Event("message", "YHOO\n+2\n10")]


def test_test_stream_example_sets_then_resets_the_last_event_id():
    # §9.2.6: four blocks.  A comment (nothing fired); "first event" with id 1; "second
    # event" whose bare "id" line resets the last event ID to the empty string; and
    # " third event" (one of its two spaces is removed).
    stream = (": test stream\n\n"
              "data: first event\nid: 1\n\n"
              "data:second event\nid\n\n"
              "data:  third event\n\n")
    parser = EventStreamParser(extras=True)
    assert parse(stream, parser=parser) == [
        Comment(" test stream"),
        Event("message", "first event", last_event_id="1", id="1"),
        Event("message", "second event", last_event_id="", id=""),
        Event("message", " third event", last_event_id="", id=None),
    ]
    assert parser.last_event_id == ""


def test_data_without_a_colon_is_an_empty_data_line():
    # §9.2.6: "The first block fires events with the data set to the empty string ... The
    # middle block fires an event with the data set to a single newline character.  The
    # last block is discarded because it is not followed by a blank line."
    parser = EventStreamParser()
    assert parse("data\n\ndata\ndata\n\ndata:", parser=parser) == [Event(data=""), Event(data="\n")]
    assert parser.discarded_at_end


def test_the_space_after_the_colon_is_optional():
    # §9.2.6: "The following stream fires two identical events".
    first, second = parse("data:test\n\ndata: test\n\n")
    assert first == second == Event(data="test")


def test_introduction_examples_give_three_messages_then_typed_events():
    # §9.2.1: three messages, the second of two lines; then the "add"/"remove" stream.
    messages = ("data: This is the first message.\n\n"
                "data: This is the second message, it\ndata: has two lines.\n\n"
                "data: This is the third message.\n\n")
    assert datas(parse(messages)) == [
        "This is the first message.", "This is the second message, it\nhas two lines.",
        "This is the third message."]
    typed = "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    assert [(e.type, e.data) for e in parse(typed)] == [
        ("add", "73857293"), ("remove", "2153"), ("add", "113411")]


# ---- §9.2.5: decoding and line ends -----------------------------------------------------------


def test_one_leading_bom_is_ignored():
    assert datas(parse(b"\xef\xbb\xbfdata: a\n\n")) == ["a"]
    assert datas(parse("\ufeffdata: a\n\n")) == ["a"]


def test_a_bom_split_across_chunks_is_still_ignored():
    assert datas(parse(b"\xef", b"\xbb", b"\xbfdata: a\n\n")) == ["a"]


def test_only_the_first_of_two_boms_is_ignored():
    # The second U+FEFF is part of the field name "\ufeffdata", an unknown field.
    assert parse(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n") == [Event(data="b")]


def test_a_bom_after_the_start_is_content():
    assert datas(parse("data: a\n\n\ufeffdata: b\n\n")) == ["a"]
    assert datas(parse("data: \ufeffb\n\n")) == ["\ufeffb"]


@pytest.mark.parametrize("eol", ["\n", "\r", "\r\n"], ids=["LF", "CR", "CRLF"])
def test_lf_cr_and_crlf_all_end_a_line(eol):
    stream = f"event: e{eol}data: a{eol}data: b{eol}{eol}data: c{eol}{eol}"
    assert parse(stream) == [Event("e", "a\nb"), Event("message", "c")]


def test_mixed_line_ends_in_one_stream():
    assert datas(parse("data: a\rdata: b\r\ndata: c\n\r\n")) == ["a\nb\nc"]


def test_a_crlf_split_across_two_chunks_is_one_line_end():
    # Were the LF counted again, it would be a blank line dispatching "a" on its own.
    assert datas(parse("data: a\r", "\ndata: b\r", "\n\r", "\n")) == ["a\nb"]
    assert datas(parse(b"data: a\r", b"\n", b"data: b\r\n\r\n")) == ["a\nb"]


def test_two_crs_in_two_chunks_are_a_blank_line():
    assert datas(parse("data: a\r", "\r")) == ["a"]


def test_a_lone_cr_at_the_end_of_a_chunk_ends_its_line_at_once():
    parser = EventStreamParser()
    assert parser.feed("data: a\n\r") == [Event(data="a")]


def test_other_unicode_line_breaks_are_content():
    # str.splitlines() would break here; the event stream does not.
    assert datas(parse("data: a\u2028b\x85c\x0bd\x0ce\x1cf\n\n")) == ["a\u2028b\x85c\x0bd\x0ce\x1cf"]


def test_a_character_split_between_chunks_is_decoded_whole():
    encoded = "data: caf\u00e9 \U0001f600\n\n".encode()
    assert datas(parse(*(encoded[i:i + 1] for i in range(len(encoded))))) == ["caf\u00e9 \U0001f600"]


def test_invalid_utf8_becomes_the_replacement_character():
    # §9.2.5: "the UTF-8 decode algorithm", which replaces errors instead of failing.
    assert datas(parse(b"data: a\xffb\xc3\n\n")) == ["a\ufffdb\ufffd"]


def test_feeding_byte_by_byte_gives_the_same_events_as_one_chunk():
    stream = ("\ufeff: hi\r\nretry: 300\rid: 7\nevent: caf\u00e9\r\ndata: \U0001f600\r\rdata\n\n"
              "id\r\ndata:  x\r\n\r\ndata: tail").encode()
    whole = EventStreamParser(extras=True)
    by_byte = EventStreamParser(extras=True)
    expected = parse(stream, parser=whole)
    assert expected == [Comment(" hi"), RetryChanged(300), Event("caf\u00e9", "\U0001f600", "7", "7"),
                        Event(data="", last_event_id="7"), Event(data=" x", last_event_id="", id="")]
    assert parse(*(stream[i:i + 1] for i in range(len(stream))), parser=by_byte) == expected
    assert (by_byte.last_event_id, by_byte.retry, by_byte.comments) == ("", 300, 1)


# ---- §9.2.6: fields -----------------------------------------------------------------------------


def test_the_last_event_id_persists_across_events():
    events = parse("id: 5\ndata: a\n\ndata: b\n\n")
    assert [(e.id, e.last_event_id) for e in events] == [("5", "5"), (None, "5")]


def test_empty_id_resets_the_last_event_id():
    parser = EventStreamParser("41")
    assert parse("data: a\n\nid:\ndata: b\n\n", parser=parser) == [
        Event(data="a", last_event_id="41"), Event(data="b", last_event_id="", id="")]
    assert parser.last_event_id == ""


def test_an_id_containing_null_is_ignored():
    parser = EventStreamParser()
    assert parse("id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", parser=parser) == [
        Event(data="a", last_event_id="1", id="1"), Event(data="b", last_event_id="1")]
    assert parser.last_event_id == "1"


def test_a_block_without_data_updates_the_last_event_id_but_dispatches_nothing():
    # Dispatch step 1 sets the last event ID string before step 2 returns on empty data.
    parser = EventStreamParser()
    assert parser.feed("id: 9\nevent: ignored\n\n") == []
    assert parser.last_event_id == "9"
    assert parser.feed("data: x\n\n") == [Event("message", "x", "9")]  # the type did not leak


def test_the_last_event_id_changes_only_at_the_end_of_a_block():
    parser = EventStreamParser()
    parser.feed("data: a\nid: 3\n")
    assert parser.last_event_id == ""  # what a reconnect now would send: the block is not over
    parser.feed("\n")
    assert parser.last_event_id == "3"


def test_retry_accepts_only_ascii_digits():
    parser = EventStreamParser(extras=True)
    assert parser.feed("retry: 1000\n") == [RetryChanged(1000)]
    for bad in ["10a", "-1", "+5", " 5", "1.5", "1_000", "\u0663", "\u00b2", "", "0x10"]:
        assert parser.feed(f"retry: {bad}\n") == [], bad
    assert parser.retry == 1000
    assert parser.feed("retry:0\n") == [RetryChanged(0)] and parser.retry == 0


def test_unknown_fields_are_ignored():
    assert parse("Data: no\nDATA: no\nfoo: bar\ndata : no\nx\ndata: yes\n\n") == [Event(data="yes")]


def test_only_the_first_colon_splits_the_field():
    assert datas(parse("data: a: b:c\n\n")) == ["a: b:c"]


def test_an_empty_event_field_means_message():
    assert parse("event:\ndata: a\n\n") == [Event("message", "a")]


def test_an_incomplete_event_at_the_end_is_discarded():
    parser = EventStreamParser()
    assert parse("data: a\n\nid: 2\ndata: b\n", parser=parser) == [Event(data="a")]
    assert parser.discarded_at_end
    assert parser.last_event_id == ""  # the id of the dropped block never took effect


def test_the_parser_reads_the_next_response_after_end():
    parser = EventStreamParser(extras=True)
    parse("retry: 50\nid: 4\ndata: a\n\ndata: half", parser=parser)
    events = parse("\ufeffdata: b\n\n", parser=parser)  # a new response: its BOM is ignored
    assert events == [Event(data="b", last_event_id="4")]
    assert (parser.retry, parser.discarded_at_end) == (50, False)


def test_comments_are_counted_and_reported_only_with_extras():
    plain = EventStreamParser()
    assert plain.feed(":\n: keep-alive\n:x:y\n") == []
    assert plain.comments == 3
    assert EventStreamParser(extras=True).feed(": ping\n") == [Comment(" ping")]


# ---- §9.2.7: the serializer ---------------------------------------------------------------------


def test_format_event_writes_the_stock_ticker_example():
    assert format_event("YHOO\n+2\n10") == "data: YHOO\ndata: +2\ndata: 10\n\n"


def test_format_event_writes_every_field():
    assert format_event("{}", event="price", id="12", retry=1000) == (
        "id: 12\nevent: price\nretry: 1000\ndata: {}\n\n")


def test_format_event_splits_data_at_cr_lf_and_crlf():
    text = format_event("a\rb\r\nc\nd")
    assert text == "data: a\ndata: b\ndata: c\ndata: d\n\n"
    assert datas(parse(text)) == ["a\nb\nc\nd"]


def test_format_event_keeps_a_leading_space_and_empty_lines():
    assert parse(format_event(" x\n\n", event=" e", id=" 1")) == [Event(" e", " x\n\n", " 1", " 1")]


def test_format_event_without_data_only_updates_the_stream():
    parser = EventStreamParser()
    assert parser.feed(format_event(None, id="7", retry=200)) == []
    assert (parser.last_event_id, parser.retry) == ("7", 200)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"event": "a\nb"}, "event name"), ({"event": "a\rb"}, "event name"),
    ({"id": "1\n2"}, "event id"), ({"id": "1\r"}, "event id"), ({"id": "1\x002"}, "NULL"),
    ({"retry": -1}, "retry"), ({"retry": 1.5}, "retry"), ({"retry": "100"}, "retry"),
    ({"retry": True}, "retry"),
])
def test_format_event_refuses_to_build_a_broken_event(kwargs, message):
    with pytest.raises(ValueError, match=message):
        format_event("data", **kwargs)


def test_format_comment_splits_multi_line_comments():
    text = format_comment("keep\r\nalive\n")
    assert text == ": keep\n: alive\n:\n"
    parser = EventStreamParser(extras=True)
    assert parser.feed(text + format_event("x")) == [Comment(" keep"), Comment(" alive"), Comment(""),
                                                   Event(data="x")]


ALPHABET = "ab :\r\n\r\n\0\t\u00e9\u2028\ufeff\U0001f600="


def random_text(rng: random.Random, alphabet: str = ALPHABET, size: int = 12) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(size)))


def test_random_events_survive_the_serializer_and_the_parser():
    rng = random.Random(6455)
    name_alphabet = ALPHABET.replace("\r", "").replace("\n", "")
    sent, stream = [], []
    for _ in range(500):
        data = random_text(rng)
        event = rng.choice([None, random_text(rng, name_alphabet)])
        event_id = rng.choice([None, random_text(rng, name_alphabet.replace("\0", ""))])
        stream.append(format_event(data, event=event, id=event_id))
        sent.append((event or "message", data.replace("\r\n", "\n").replace("\r", "\n"), event_id))
    encoded = "".join(stream).encode()
    chunks, at = [], 0
    while at < len(encoded):
        size = rng.randrange(1, 64)
        chunks.append(encoded[at:at + size])
        at += size
    received = parse(*chunks)
    assert [(e.type, e.data, e.id) for e in received] == sent
