"""fast.py's ``say`` (parse_say, message_text) against schema.py's parser and encoder.

``message_text`` must give ``schema.encode(schema.message(...))`` byte for byte
over texts that exercise the JSON string encoder: unicode, quotes, backslashes,
control characters, lone surrogates, long texts.  ``parse_say`` may pass any
message to the lesson (None), but what it accepts the lesson must accept, with
the same room and text; and it must refuse everything the lesson refuses.
"""

from __future__ import annotations

import json
import random

import pytest

from learn_websocket.chat import schema
from learn_websocket.chat.fast import message_text, parse_say

pytestmark = pytest.mark.differential

TEXTS = [
    "hi", "x" * 32, "x" * schema.MAX_TEXT, 'say "quoted"', "back\\slash", "tab\tnew\nline\r",
    "".join(map(chr, range(32))), "\x7f\x80\x9f", "héllo wörld", "日本語のテキスト", "emoji \U0001F600!",
    "\u2028\u2029 line separators", "</script>", "\ud800 lone", "\udfff", "\ufeffbom", "'", "\"", "\\",
    "/", "{}", "null",
]
NAMES = ["alice", "bench", "a-b_c", "0", "z" * 32, "Bob \"B\" é", "\x00"]


def random_texts(count: int) -> list[str]:
    rng = random.Random(27)
    alphabet = [chr(c) for c in range(0, 0x250)] + ["\u2028", "\ud83d", "\ude00", "\U0001F600", "\"", "\\"]
    return ["".join(rng.choices(alphabet, k=rng.randint(1, 300))) for _ in range(count)]


@pytest.mark.parametrize("sender", NAMES)
def test_message_text_equals_schema_encode(sender: str) -> None:
    for text in TEXTS + random_texts(300):
        for room, message_id, server in [("lobby", "s1-1", "s1"), ("a-b_c", "bench-123456", "bench"),
                                         ("r", "é \"x\"-9", "é \"x\"")]:
            lesson = schema.encode(schema.message(room, sender, text, message_id, server))
            assert message_text(room, sender, text, message_id, server) == lesson


def lesson(raw: str | bytes) -> schema.ClientMessage | str:
    try:
        return schema.parse_client_message(raw)
    except schema.SchemaError as exc:
        return exc.code


def say(**fields: object) -> str:
    return json.dumps({"type": "say", **fields}, ensure_ascii=False)


def messages() -> list[str | bytes]:
    good = [say(room="lobby", text=text) for text in TEXTS] + [
        json.dumps({"type": "say", "room": "lobby", "text": text}) for text in TEXTS]  # \u escapes
    bad = [
        say(room="lobby", text=""), say(room="lobby", text="x" * (schema.MAX_TEXT + 1)),
        say(room="lobby", text=1), say(room="lobby", text=None), say(room="lobby", text=["x"]),
        say(room="lobby"), say(text="x"), say(room="lobby", text="x", extra=1),
        say(room="lobby", txt="x"), say(room="Lobby", text="x"), say(room="", text="x"),
        say(room="l" * 33, text="x"), say(room=5, text="x"), say(room=["lobby"], text="x"),
        say(room="other", text="x"),  # valid, but not a room the member is in
        '{"type":"say","room":"lobby","text":"x"} ', ' {"type":"say","room":"lobby","text":"x"}',
        '{"type":"say","room":"lobby","text":"x"}x', '{"type":"say","room":"lobby","text":"x"}{}',
        '{"type":"say","room":"lobby","text":"x"', '{"type":"say","room":"lobby","text":"x\x01"}',
        '{"type":"say","room":"lobby","text":"\\x"}', '{"type":"say","room":"lobby","text":"\\ud800"}',
        '{"type":"say","room":"lobby","text":"x","type":"join"}',
        '{"type":"join","room":"lobby","text":"x","room":"lobby"}',
        '{"type":"say","room":"lobby","room":"lobby","text":"x"}',
        '{"type":"say","room":"lobby","text":NaN}', '{"type":"say","room":"lobby","text":1e999}',
        '{"type":"Say","room":"lobby","text":"x"}', '{"type":1,"room":"lobby","text":"x"}',
        '{"type":"join","room":"lobby"}', '{"type":"leave","room":"lobby"}', '{}', "{", "", "[]",
        '["say","lobby","x"]', '"say"', "null", "\ufeff" + say(room="lobby", text="x"),
        b'{"type":"say","room":"lobby","text":"x"}',
    ]
    rng = random.Random(9)
    base = say(room="lobby", text="hello")
    mutated = []
    for _ in range(2000):  # drop, duplicate or replace one character
        i = rng.randrange(len(base))
        choice = rng.choice(['', base[i] * 2, rng.choice('{}[]":,\\ 0aé\x00')])
        mutated.append(base[:i] + choice + base[i + 1:])
    return good + bad + mutated


def test_parse_say_accepts_only_what_the_lesson_accepts() -> None:
    accepted = 0
    for raw in messages():
        fast = parse_say(raw, {"lobby", "a-b_c"})
        if fast is None:
            continue
        accepted += 1
        assert lesson(raw) == schema.Say(*fast), raw
    assert accepted > len(TEXTS)


def test_parse_say_takes_every_plain_say() -> None:
    for text in TEXTS + random_texts(200):
        raw = schema.encode(schema.client_message(schema.Say("lobby", text)))
        assert parse_say(raw, {"lobby"}) == ("lobby", text)
