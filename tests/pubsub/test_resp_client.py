"""Our from-scratch client against a real redis-server, with redis-py and redis-cli as the other peers.

Each test gets a throwaway redis-server (the ``private_redis`` fixture), runs
in both protocol versions where they differ, and is bounded: a lost message
fails the test within seconds instead of hanging it.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import sys
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from learn_pubsub import resp
from learn_pubsub.resp import RespParser, Verbatim, encode_command
from learn_pubsub.resp_client import (
    ConnectionLost,
    Message,
    ReplyError,
    RespClient,
    SubscribedModeError,
)
from wirelab_common.ports import free_port
from wirelab_common.waiting import eventually_async
from wirelab_common.wiretrace import Trace

pytestmark = [pytest.mark.differential, pytest.mark.timeout(15)]
WAIT = 5.0  # seconds for anything to arrive
PROTOCOLS = pytest.mark.parametrize("protocol", [2, 3], ids=["RESP2", "RESP3"])


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


async def ours(url: str, protocol: int = 2, **options: object) -> RespClient:
    return await RespClient.connect(*address(url), protocol=protocol, **options)


async def next_message(client: RespClient) -> Message:
    return await asyncio.wait_for(client.next_message(), WAIT)


async def wait_subscribers(url: str, channel: str, count: int = 1) -> None:
    """Block until ``channel`` has ``count`` subscribers: only then can a PUBLISH reach them."""
    async with aioredis.Redis.from_url(url) as client:
        async def subscribed() -> bool:
            return dict(await client.pubsub_numsub(channel)).get(channel.encode(), 0) >= count

        await eventually_async(subscribed, WAIT, f"{count} subscriber(s) on {channel}", interval=0.02)


def escaped(wire: bytes) -> str:
    return wire.decode().replace("\r", "\\r").replace("\n", "\\n")


@PROTOCOLS
async def test_our_publish_reaches_a_redis_py_subscriber(private_redis, protocol):
    url = private_redis[1]
    async with aioredis.Redis.from_url(url, protocol=protocol) as theirs, theirs.pubsub() as pubsub:
        await pubsub.subscribe("orders.created")
        assert (await pubsub.get_message(timeout=WAIT))["type"] == "subscribe"
        async with await ours(url, protocol) as client:
            assert await client.publish("orders.created", '{"id":42}') == 1
        message = await pubsub.get_message(timeout=WAIT)
        assert (message["type"], message["channel"], message["data"]) == (
            "message", b"orders.created", b'{"id":42}')


@PROTOCOLS
async def test_a_redis_py_publish_reaches_our_subscriber(private_redis, protocol):
    url = private_redis[1]
    async with await ours(url, protocol) as client, aioredis.Redis.from_url(url) as theirs:
        assert await client.subscribe("orders.created") == 1
        assert client.channels == {"orders.created"}
        assert await theirs.publish("orders.created", b'{"id":42}\r\n\x00') == 1
        assert await next_message(client) == Message("message", "orders.created", b'{"id":42}\r\n\x00')


@PROTOCOLS
async def test_psubscribe_delivers_pmessage_with_the_pattern_that_matched(private_redis, protocol):
    url = private_redis[1]
    async with await ours(url, protocol) as client, aioredis.Redis.from_url(url) as theirs:
        assert await client.psubscribe("orders.*") == 1
        assert await theirs.publish("users.created", "not for us") == 0
        assert await theirs.publish("orders.paid", "7") == 1
        assert await next_message(client) == Message("pmessage", "orders.paid", b"7", pattern="orders.*")


@PROTOCOLS
async def test_unsubscribe_confirmations_keep_count_of_the_subscriptions(private_redis, protocol):
    async with await ours(private_redis[1], protocol) as client:
        assert await client.unsubscribe() == 0  # nothing to leave: one confirmation, channel nil
        assert await client.subscribe("a", "b", "c") == 3
        assert await client.psubscribe("x.*") == 4
        assert await client.unsubscribe("b") == 3
        assert (client.channels, client.patterns) == ({"a", "c"}, {"x.*"})
        assert await client.unsubscribe() == 1  # every channel: one confirmation each, then done
        assert (client.channels, client.patterns, client.subscriptions) == (set(), {"x.*"}, 1)
        assert await client.punsubscribe() == 0
        assert await client.command("SET", "k", "v") == "OK"  # RESP2 too: subscribed mode is over


@PROTOCOLS
async def test_ping_is_answered_in_subscribed_mode(private_redis, protocol):
    async with await ours(private_redis[1], protocol) as client:
        await client.subscribe("orders.created")
        assert await client.ping() == "PONG"
        assert await client.ping("hi") == b"hi"


async def test_resp2_subscribed_mode_refuses_other_commands_before_sending_them(private_redis):
    url = private_redis[1]
    async with await ours(url, 2) as client, aioredis.Redis.from_url(url) as theirs:
        await client.subscribe("orders.created")
        with pytest.raises(SubscribedModeError, match="GET refused.*protocol=3"):
            await client.command("GET", "k")
        assert await theirs.publish("orders.created", "still here") == 1
        assert (await next_message(client)).data == b"still here"


async def test_the_server_itself_refuses_a_resp2_subscriber_what_we_refuse(private_redis):
    reader, writer = await asyncio.open_connection(*address(private_redis[1]))
    writer.write(encode_command("SUBSCRIBE", "a") + encode_command("GET", "k"))
    parser = RespParser()
    replies: list[object] = []
    while len(replies) < 2:
        replies.extend(parser.feed(await asyncio.wait_for(reader.read(4096), WAIT)))
    writer.close()
    assert "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET" in replies[1].message


async def test_resp3_runs_commands_while_subscribed_and_sorts_pushes_from_replies(private_redis):
    async with await ours(private_redis[1], 3) as client:
        await client.subscribe("orders.created")
        assert await client.publish("orders.created", "to myself") == 1  # on the subscribed connection
        assert await client.command("SET", "k", "v") == "OK"
        assert await client.command("GET", "k") == b"v"
        assert await next_message(client) == Message("message", "orders.created", b"to myself")


async def test_pipelined_commands_each_get_their_own_reply(private_redis):
    async with await ours(private_redis[1]) as client:
        replies = await asyncio.gather(*(client.command("INCR", "n") for _ in range(200)))
        assert replies == list(range(1, 201))


@PROTOCOLS
async def test_redis_cli_publish_reaches_our_subscriber(private_redis, protocol):
    cli = shutil.which("redis-cli") or pytest.skip("redis-cli not installed (apt-get install redis-tools)")
    url = private_redis[1]
    async with await ours(url, protocol) as client:
        await client.subscribe("orders.created")
        process = await asyncio.create_subprocess_exec(
            cli, "-p", str(address(url)[1]), "publish", "orders.created", "from redis-cli",
            stdout=asyncio.subprocess.PIPE)
        output, _ = await asyncio.wait_for(process.communicate(), WAIT)
        assert output.strip() == b"1"
        assert await next_message(client) == Message("message", "orders.created", b"from redis-cli")


def as_redis_py_returns_it(value: object) -> object:
    """Our simple strings are str; redis-py returns them as bytes like everything else."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list):
        return [as_redis_py_returns_it(v) for v in value]
    if isinstance(value, dict):
        return {as_redis_py_returns_it(k): as_redis_py_returns_it(v) for k, v in value.items()}
    return value


@PROTOCOLS
async def test_plain_command_replies_equal_redis_pys(private_redis, protocol):
    url = private_redis[1]
    async with await ours(url, protocol) as client, aioredis.Redis.from_url(url, protocol=protocol) as theirs:
        theirs.response_callbacks.clear()  # redis-py's raw replies, not its conveniences (SET -> True)
        for who, run in (("ours", client.command), ("theirs", theirs.execute_command)):
            replies = [await run(*command) for command in (
                ("SET", f"{who}:k", "v"), ("GET", f"{who}:k"), ("GET", "missing"), ("INCR", f"{who}:n"),
                ("INCRBYFLOAT", f"{who}:f", "1.5"), ("RPUSH", f"{who}:l", "a", "b"),
                ("LRANGE", f"{who}:l", 0, -1), ("HSET", f"{who}:h", "f", "1"), ("HGETALL", f"{who}:h"),
                ("HELLO", protocol))]
            hello = replies[-1]
            replies[-1] = {k: v for k, v in (hello.items() if isinstance(hello, dict) else
                                             zip(hello[::2], hello[1::2], strict=True)) if k != b"id"}
            if who == "ours":
                expected = as_redis_py_returns_it(replies)
            else:
                assert replies == expected


@PROTOCOLS
async def test_a_reply_that_starts_with_an_array_is_a_reply_and_keeps_the_connection(private_redis, protocol):
    # XRANGE and XREADGROUP answer arrays of arrays.  The RESP2 check "is this Pub/Sub
    # traffic?" looked its first element up in a set: an array is not hashable, the
    # read loop died, and the client said "server closed the connection".
    async with await ours(private_redis[1], protocol) as client:
        assert await client.command("XADD", "orders", "1-0", "envelope", "x") == b"1-0"
        entry = [b"1-0", [b"envelope", b"x"]]
        assert await client.command("XRANGE", "orders", "-", "+") == [entry]
        assert await client.command("XGROUP", "CREATE", "orders", "billing", "0") == "OK"
        reply = await client.command("XREADGROUP", "GROUP", "billing", "c1", "STREAMS", "orders", ">")
        assert reply == ([[b"orders", [entry]]] if protocol == 2 else {b"orders": [entry]})
        assert await client.ping() == "PONG"


@PROTOCOLS
async def test_subscribe_bytes_on_the_socket_are_those_the_docstring_shows(private_redis, protocol):
    url = private_redis[1]
    reader, writer = await asyncio.open_connection(*address(url))
    try:
        if protocol == 3:
            writer.write(encode_command("HELLO", 3))
            parser = RespParser()
            while not list(parser.feed(await asyncio.wait_for(reader.read(4096), WAIT))):
                pass
        writer.write(encode_command("SUBSCRIBE", "orders.created"))
        marker = b">" if protocol == 3 else b"*"
        confirmation = marker + b"3\r\n$9\r\nsubscribe\r\n$14\r\norders.created\r\n:1\r\n"
        assert await asyncio.wait_for(reader.readexactly(len(confirmation)), WAIT) == confirmation
        async with aioredis.Redis.from_url(url) as theirs:
            assert await theirs.publish("orders.created", '{"id":42}') == 1
        message = marker + b'3\r\n$7\r\nmessage\r\n$14\r\norders.created\r\n$9\r\n{"id":42}\r\n'
        assert await asyncio.wait_for(reader.readexactly(len(message)), WAIT) == message
    finally:
        writer.close()
    for wire in (encode_command("SUBSCRIBE", "orders.created"), confirmation, message):
        assert escaped(wire) in resp.__doc__


@PROTOCOLS
async def test_an_error_reply_raises_with_the_servers_message_and_the_connection_stays_usable(
        private_redis, protocol):
    async with await ours(private_redis[1], protocol) as client:
        with pytest.raises(ReplyError, match="unknown command 'FOOBAR'") as raised:
            await client.command("FOOBAR", "x")
        assert raised.value.prefix == "ERR"
        await client.command("RPUSH", "list", "a")
        with pytest.raises(ReplyError) as raised:
            await client.command("GET", "list")
        assert raised.value.prefix == "WRONGTYPE"
        assert await client.command("SET", "k", "v") == "OK"
        assert await client.ping() == "PONG"


@PROTOCOLS
async def test_a_killed_connection_ends_the_message_stream_with_connection_lost(private_redis, protocol):
    url = private_redis[1]
    async with await ours(url, protocol, name="victim") as client, aioredis.Redis.from_url(url) as theirs:
        await client.subscribe("orders.created")
        stream = client.messages()
        waiting = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.05)
        kills = [c for c in await theirs.client_list() if c["name"] == "victim"]
        assert len(kills) == 1
        await theirs.client_kill_filter(_id=kills[0]["id"])
        with pytest.raises(ConnectionLost, match="server closed"):
            await asyncio.wait_for(waiting, WAIT)
        with pytest.raises(ConnectionLost):
            await client.ping()


async def test_close_ends_the_message_stream_without_an_error(private_redis):
    client = await ours(private_redis[1])
    await client.subscribe("orders.created")

    async def collect() -> list[Message]:
        return [message async for message in client.messages()]

    collecting = asyncio.ensure_future(collect())
    await asyncio.sleep(0.05)
    await client.close()
    assert await asyncio.wait_for(collecting, WAIT) == []


async def test_the_trace_shows_commands_replies_and_with_verbose_their_bytes(private_redis):
    url = private_redis[1]
    output = io.StringIO()
    async with await ours(url, 3, trace=Trace("sub", verbose=True, stream=output)) as client:
        await client.subscribe("orders.created")
        async with aioredis.Redis.from_url(url) as theirs:
            await theirs.publish("orders.created", '{"id":42}')
        await next_message(client)
    lines = output.getvalue().splitlines()
    assert "> sub      SUBSCRIBE orders.created" in lines
    assert "      " + escaped(encode_command("SUBSCRIBE", "orders.created")) in lines
    assert "< sub      subscribe orders.created 1" in lines
    assert "< sub      message orders.created '{\"id\":42}'" in lines
    assert "      " + escaped(b'>3\r\n$7\r\nmessage\r\n$14\r\norders.created\r\n$9\r\n{"id":42}\r\n') in lines


# DEBUG PROTOCOL <type> makes Redis answer with one value of each RESP3 type (a test hook).
DEBUG_PROTOCOL = [
    ("string", b"Hello World"), ("integer", 12345), ("double", 3.141),
    ("bignum", 1234567999999999999999999999999999999), ("null", None), ("array", [0, 1, 2]),
    ("set", {0, 1, 2}), ("map", {0: False, 1: True, 2: False}), ("true", True), ("false", False),
    ("verbatim", Verbatim("txt", "This is a verbatim\nstring")),
    ("attrib", b"Some real reply following the attribute"),  # the attribute itself is dropped
    ("push", b"Some real reply following the push reply"),  # the push is traced and set aside
]


async def test_every_resp3_type_that_redis_sends_parses_to_its_value(procs):
    binary = shutil.which("redis-server") or pytest.skip("redis-server not installed")
    port = free_port()
    procs.start([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--enable-debug-command", "yes"], name="redis-debug", ready_port=port)
    output = io.StringIO()
    trace = Trace("c", stream=output)
    async with await RespClient.connect("127.0.0.1", port, protocol=3, trace=trace) as client:
        for kind, value in DEBUG_PROTOCOL:
            assert await client.command("DEBUG", "PROTOCOL", kind) == value, kind
    assert "< c        server-cpu-usage 42" in output.getvalue().splitlines()


async def test_reset_leaves_subscribed_mode_and_resp3(private_redis):
    async with await ours(private_redis[1], 3) as client:
        await client.subscribe("orders.created")
        assert await client.command("RESET") == "RESET"
        assert (client.protocol, client.subscriptions, client.channels) == (2, 0, set())
        assert await client.command("GET", "k") is None


async def test_a_command_whose_caller_gave_up_does_not_shift_the_replies_of_the_next(private_redis):
    async with await ours(private_redis[1]) as client:
        with pytest.raises(TimeoutError):  # BLPOP answers (nil) after 1 s; we stop waiting at 0.1 s
            await asyncio.wait_for(client.command("BLPOP", "empty", 1), 0.1)
        assert await client.command("ECHO", "mine") == b"mine"


async def fake_server(answer: bytes) -> tuple[asyncio.Server, int]:
    """A peer that is not Redis: it writes ``answer`` as soon as anyone connects."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await reader.read()  # until the client goes away
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(("answer", "reason"), [
    (b"+OK\r\n", "a reply nobody asked for: OK"),
    (b"?garbage\r\n", "unknown type byte '?'"),
], ids=["unsolicited reply", "not RESP"])
async def test_a_peer_that_breaks_the_protocol_loses_the_connection(answer, reason):
    server, port = await fake_server(answer)
    async with server, await RespClient.connect("127.0.0.1", port) as client:
        with pytest.raises(ConnectionLost, match=f"ProtocolError: {reason}"):
            await asyncio.wait_for(client.next_message(), WAIT)  # no command sent: nothing to answer
        with pytest.raises(ConnectionLost):
            await client.ping()


@PROTOCOLS
async def test_the_program_exits_0_after_the_count_of_messages(private_redis, protocol):
    url = private_redis[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "learn_pubsub.resp_cli", "--redis-url", url, "--resp", str(protocol),
        "--parser", "fast" if protocol == 3 else "plain",
        "subscribe", "orders.created", "--count", "2", "--timeout", "8", "-v",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await wait_subscribers(url, "orders.created")
        async with aioredis.Redis.from_url(url) as theirs:
            for n in (1, 2):
                assert await theirs.publish("orders.created", f'{{"id":{n}}}') == 1
        output, _ = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
    text = output.decode()
    assert process.returncode == 0, text
    assert "> sub      SUBSCRIBE orders.created" in text and "*2\\r\\n$9\\r\\nSUBSCRIBE" in text
    assert "< sub      message orders.created '{\"id\":2}'" in text


async def test_the_program_exits_1_when_publish_reaches_fewer_subscribers_than_expected(private_redis):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "learn_pubsub.resp_cli", "--redis-url", private_redis[1],
        "publish", "orders.created", "nobody hears this", "--expect", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 1, output.decode()
    assert "FAILED: expected 1, not 0" in output.decode()
