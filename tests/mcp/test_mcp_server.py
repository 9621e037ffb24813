"""The server core without any transport: messages in, responses and notifications out."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from learn_mcp import conformance_fixtures
from learn_mcp.calculator import CalcError, evaluate
from learn_mcp.jsonrpc import ErrorResponse, Notification, Request, Response
from learn_mcp.lifecycle import Lifecycle
from learn_mcp.schema import validate
from learn_mcp.server import is_loopback, parse_args
from learn_mcp.server_core import ServerCore
from wirelab_common.waiting import eventually_async

pytestmark = pytest.mark.pure

ENVELOPE = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}


async def no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


class Link:
    """A legacy connection to a ServerCore, recording every notification it sends."""

    def __init__(self, core: ServerCore | None = None) -> None:
        self.core = core or ServerCore(no_wait)
        self.lifecycle = Lifecycle()
        self.sent: list[Notification] = []
        self.announced: list[Notification] = []
        self.ids = iter(range(1, 1000))

    async def _send(self, note: Notification) -> None:
        self.sent.append(note)

    async def _announce(self, note: Notification) -> None:
        if self.core.wants(self.lifecycle, note):  # as the drivers do: only what this connection wants
            self.announced.append(note)

    async def request(self, method: str, params: dict | None = None, modern: bool = False, **meta):
        params = dict(params or {})
        if modern or meta:
            params["_meta"] = {**(ENVELOPE if modern else {}), **meta}
        return await self.core.handle_request(Request(next(self.ids), method, params),
                                              None if modern else self.lifecycle, self._send, self._announce)

    async def result(self, method: str, params: dict | None = None, **kwargs) -> dict:
        response = await self.request(method, params, **kwargs)
        assert isinstance(response, Response), response
        return response.result

    async def error(self, method: str, params: dict | None = None, **kwargs) -> int:
        response = await self.request(method, params, **kwargs)
        assert isinstance(response, ErrorResponse), response
        return response.error.code

    async def initialize(self) -> None:
        await self.result("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                         "clientInfo": {"name": "t", "version": "0"}})
        self.core.handle_notification(Notification("notifications/initialized"), self.lifecycle)

    async def call(self, tool: str, **arguments) -> dict:
        return await self.result("tools/call", {"name": tool, "arguments": arguments})


@pytest.fixture
async def link() -> Link:
    link = Link()
    await link.initialize()
    return link


async def test_requests_before_initialize_are_refused_but_ping_is_not():
    link = Link()
    assert await link.error("tools/list") == -32600
    assert await link.result("ping") == {}


async def test_initialize_negotiates_and_declares_capabilities():
    link = Link()
    result = await link.result("initialize", {"protocolVersion": "2024-01-01", "capabilities": {}})
    assert result["protocolVersion"] == "2025-11-25"  # a counter-offer, not an error
    assert set(result["capabilities"]) == {"tools", "resources", "prompts", "logging", "completions"}
    assert result["serverInfo"]["name"] == "learn-mcp"


async def test_tools_list_has_schemas_and_annotations(link):
    tools = {t["name"]: t for t in (await link.result("tools/list"))["tools"]}
    assert all({"inputSchema", "annotations"} <= t.keys() for t in tools.values())
    assert tools["delete_note"]["annotations"]["destructiveHint"] is True
    assert tools["calculate"]["inputSchema"]["required"] == ["expression"]
    assert tools["calculate"]["outputSchema"]["properties"]["value"]["type"] == "number"


async def test_calculate_returns_structured_content_and_text(link):
    result = await link.call("calculate", expression="(2 + 3) * 4 ** 2")
    assert result["structuredContent"] == {"value": 80}
    assert result["content"][0]["text"] == '{"value": 80}'
    assert result["isError"] is False


@pytest.mark.parametrize("expression", ["1/0", "__import__('os')", "2 ** 999", "(1", "1 +"])
async def test_calculate_failures_are_tool_errors(link, expression):
    result = await link.call("calculate", expression=expression)
    assert result["isError"] is True and "cannot calculate" in result["content"][0]["text"]


async def test_notes_add_search_delete(link):
    added = await link.call("add_note", title="Shopping", body="eggs, milk")
    assert added["structuredContent"] == {"id": "n1"}
    await link.call("add_note", title="Ideas", body="a protocol by hand")
    found = (await link.call("search_notes", query="MILK"))["structuredContent"]["notes"]
    assert found == [{"id": "n1", "title": "Shopping", "body": "eggs, milk"}]
    assert (await link.call("delete_note", id="n1"))["structuredContent"] == {"id": "n1", "deleted": True}
    again = await link.call("delete_note", id="n1")
    assert again["isError"] is True and "no note" in again["content"][0]["text"]


async def test_adding_a_note_announces_resource_list_change_to_legacy_clients(link):
    await link.call("add_note", title="t", body="b")
    assert [n.method for n in link.announced] == ["notifications/resources/list_changed"]


async def test_subscribers_hear_of_updates_to_what_they_watch_until_they_unsubscribe(link):
    await link.call("add_note", title="watched", body="b")
    assert await link.result("resources/subscribe", {"uri": "notes://index"}) == {}
    assert await link.result("resources/subscribe", {"uri": "notes://n1"}) == {}
    link.announced.clear()
    await link.call("add_note", title="other", body="b")
    updated = [n.params["uri"] for n in link.announced if n.method == "notifications/resources/updated"]
    assert updated == ["notes://index"]  # n2 is new: nobody watches it
    assert await link.result("resources/unsubscribe", {"uri": "notes://index"}) == {}
    link.announced.clear()
    await link.call("delete_note", id="n1")
    updated = [n.params["uri"] for n in link.announced if n.method == "notifications/resources/updated"]
    assert updated == ["notes://n1"]
    assert await link.error("resources/subscribe", {"uri": "notes://n404"}) == -32002  # not readable
    assert await link.error("resources/subscribe", {}) == -32602
    assert await link.error("resources/subscribe", {"uri": "notes://index"}, modern=True) == -32601
    assert ServerCore.wants(Lifecycle(), Notification("notifications/resources/list_changed")) is False


async def test_add_notes_takes_title_body_tuples_checked_as_json_schema_2020_12(link):
    result = await link.call("add_notes", notes=[["Milk", "2 litres"], ["Eggs", "a dozen"]])
    assert result["structuredContent"] == {"ids": ["n1", "n2"]}
    too_long = await link.call("add_notes", notes=[["Milk", "x", "extra"]])
    assert too_long["isError"] and "/notes/0/2: not allowed here" in too_long["content"][0]["text"]
    half = await link.call("add_notes", notes=[["Milk"]])
    assert half["isError"] and "/notes/0: fewer than 2 items" in half["content"][0]["text"]


@pytest.mark.parametrize("arguments, problem", [
    ({}, "/expression: required property missing"),
    ({"expression": 5}, "/expression: expected string, got integer"),
    ({"expression": "1", "extra": 1}, "/extra: unexpected property"),
])
async def test_arguments_breaking_the_input_schema_are_tool_errors(link, arguments, problem):
    result = await link.result("tools/call", {"name": "calculate", "arguments": arguments})
    assert result["isError"] is True and problem in result["content"][0]["text"]


async def test_unknown_tool_and_bad_arguments_are_invalid_params(link):
    assert await link.error("tools/call", {"name": "rm_rf", "arguments": {}}) == -32602
    assert await link.error("tools/call", {"name": "calculate", "arguments": [1]}) == -32602
    assert await link.error("tools/call", {}) == -32602


async def test_unknown_method_is_method_not_found(link):
    assert await link.error("tools/destroy") == -32601


async def test_progress_notifications_follow_the_progress_token(link):
    result = await link.result("tools/call", {"name": "slow_count", "arguments": {"steps": 3, "delay": 1}},
                               progressToken="tok")
    assert result["structuredContent"] == {"counted": 3}
    assert [n.params["progress"] for n in link.sent] == [1, 2, 3]
    assert all(n.params["progressToken"] == "tok" and n.params["total"] == 3 for n in link.sent)


async def test_no_progress_without_a_token(link):
    await link.call("slow_count", steps=2, delay=0)
    assert link.sent == []


async def test_cancelling_the_task_stops_slow_count():
    gate = asyncio.Event()
    steps = []

    async def blocking_sleep(seconds: float) -> None:
        steps.append(seconds)
        await gate.wait()

    link = Link(ServerCore(blocking_sleep))
    await link.initialize()
    task = asyncio.create_task(link.call("slow_count", steps=5, delay=1))
    await eventually_async(lambda: steps, 5, "slow_count reached its first sleep", interval=0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == [1]


async def test_log_messages_only_after_set_level(link):
    await link.call("add_note", title="quiet", body="")
    assert link.sent == []
    assert await link.result("logging/setLevel", {"level": "info"}) == {}
    await link.call("add_note", title="loud", body="")
    assert [(n.method, n.params["level"]) for n in link.sent] == [("notifications/message", "info")]
    assert await link.error("logging/setLevel", {"level": "chatty"}) == -32602


async def test_resources_list_read_and_templates(link):
    await link.call("add_note", title="Hello", body="world")
    uris = [r["uri"] for r in (await link.result("resources/list"))["resources"]]
    assert uris == ["notes://index", "notes://n1"]
    index = (await link.result("resources/read", {"uri": "notes://index"}))["contents"][0]
    assert index["mimeType"] == "text/markdown" and "[Hello](notes://n1)" in index["text"]
    note = (await link.result("resources/read", {"uri": "notes://n1"}))["contents"][0]
    assert note["text"] == '{"id": "n1", "title": "Hello", "body": "world"}'
    templates = (await link.result("resources/templates/list"))["resourceTemplates"]
    assert templates[0]["uriTemplate"] == "notes://{id}"


async def test_resource_not_found_code_depends_on_revision(link):
    assert await link.error("resources/read", {"uri": "notes://n404"}) == -32002
    assert await link.error("resources/read", {"uri": "notes://n404"}, modern=True) == -32602


async def test_prompt_get_embeds_matching_notes(link):
    await link.call("add_note", title="MCP", body="stateless now")
    assert (await link.result("prompts/list"))["prompts"][0]["name"] == "summarize_notes"
    prompt = await link.result("prompts/get", {"name": "summarize_notes", "arguments": {"style": "bullets"}})
    assert "bullets" in prompt["messages"][0]["content"]["text"]
    assert prompt["messages"][1]["content"]["resource"]["uri"] == "notes://n1"
    assert await link.error("prompts/get", {"name": "summarize_notes", "arguments": {}}) == -32602
    assert await link.error("prompts/get", {"name": "nope"}) == -32602


async def test_completion_of_prompt_arguments_and_template_variables(link):
    await link.call("add_note", title="Stateless", body="streams")
    await link.call("add_note", title="Sessions", body="stateful")
    prompt = {"type": "ref/prompt", "name": "summarize_notes"}

    async def values(ref: dict, name: str, value: str, **kwargs) -> list[str]:
        params = {"ref": ref, "argument": {"name": name, "value": value}}
        result = await link.result("completion/complete", params, **kwargs)
        assert result["completion"]["total"] == len(result["completion"]["values"])
        return result["completion"]["values"]

    assert await values(prompt, "style", "b") == ["bullets"]
    assert await values(prompt, "style", "") == ["short", "bullets", "detailed"]
    assert await values(prompt, "query", "STAT") == ["stateful", "stateless"]  # prefix, any case
    template = {"type": "ref/resource", "uri": "notes://{id}"}
    assert await values(template, "id", "n", modern=True) == ["n1", "n2"]
    for ref, name in ((prompt, "tone"), ({"type": "ref/prompt", "name": "nope"}, "style"),
                      ({"type": "ref/resource", "uri": "files://{path}"}, "path"), ({"type": "x"}, "id")):
        params = {"ref": ref, "argument": {"name": name, "value": ""}}
        assert await link.error("completion/complete", params) == -32602


async def test_modern_requests_need_no_handshake_and_carry_result_metadata():
    link = Link()
    result = await link.result("tools/list", modern=True)
    assert result["resultType"] == "complete"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "learn-mcp"
    assert result["ttlMs"] > 0 and result["cacheScope"] == "public"


async def test_server_discover_lists_both_eras():
    result = await Link().result("server/discover", modern=True)
    assert result["supportedVersions"][:2] == ["2026-07-28", "2025-11-25"]


async def test_methods_removed_in_2026_are_not_found_for_modern_requests():
    link = Link()
    for method in ("ping", "logging/setLevel"):
        assert await link.error(method, modern=True) == -32601


async def test_modern_log_level_is_per_request():
    link = Link()
    note = {"name": "add_note", "arguments": {"title": "a", "body": ""}}
    await link.result("tools/call", note, modern=True)
    assert link.sent == []  # MUST NOT log without the logLevel field
    await link.result("tools/call", {"name": "add_note", "arguments": {"title": "b", "body": ""}},
                      modern=True, **{"io.modelcontextprotocol/logLevel": "debug"})
    assert [n.method for n in link.sent] == ["notifications/message"]
    assert link.announced == []  # modern clients would hear about changes via subscriptions/listen


async def test_a_handler_that_crashes_is_internal_error_and_the_next_request_is_served(link):
    def broken(params, call):
        raise KeyError("a bug")

    async def broken_tool(params, ctx):
        raise RuntimeError("a bug in a tool")

    link.core.methods["prompts/list"] = broken
    link.core.call_tool = broken_tool
    response = await link.request("prompts/list")
    assert isinstance(response, ErrorResponse) and response.error.code == -32603
    assert "KeyError" in response.error.message
    assert await link.error("tools/call", {"name": "calculate", "arguments": {"expression": "1"}}) == -32603
    assert await link.result("resources/templates/list")  # the connection goes on


async def test_conformance_fixtures_are_added_only_when_installed_and_delegate_the_rest():
    plain = [t["name"] for t in (await Link().result("tools/list", modern=True))["tools"]]
    assert "calculate" in plain and not any(name.startswith("test_") for name in plain)
    core = ServerCore(no_wait)
    conformance_fixtures.install(core)
    link = Link(core)
    await link.initialize()
    names = [t["name"] for t in (await link.result("tools/list"))["tools"]]
    assert names[:len(plain)] == plain  # the lesson's own tools first, unchanged
    assert "test_simple_text" in names and "test_tool_with_progress" in names
    assert (await link.call("calculate", expression="2+2"))["structuredContent"] == {"value": 4}
    image = (await link.call("test_image_content"))["content"][0]
    assert image["mimeType"] == "image/png" and base64.b64decode(image["data"]).startswith(b"\x89PNG")
    await link.result("tools/call", {"name": "test_tool_with_progress"}, progressToken="p")
    assert [n.params["progress"] for n in link.sent] == [0, 50, 100]
    read = (await link.result("resources/read", {"uri": "test://template/7/data"}))["contents"][0]
    assert json.loads(read["text"])["id"] == "7"
    assert await link.error("resources/read", {"uri": "notes://n404"}) == -32002  # the lesson's handler
    prompt = await link.result("prompts/get", {"name": "test_prompt_with_arguments",
                                               "arguments": {"arg1": "a", "arg2": "b"}})
    assert prompt["messages"][0]["content"]["text"] == "Prompt with arguments: arg1='a', arg2='b'"
    assert await link.error("prompts/get", {"name": "test_prompt_with_arguments"}) == -32602
    for name, argument, values in (("test_prompt_with_arguments", "arg1", []),
                                   ("summarize_notes", "style", ["short"])):  # the lesson's handler
        params = {"ref": {"type": "ref/prompt", "name": name}, "argument": {"name": argument, "value": "s"}}
        assert (await link.result("completion/complete", params))["completion"]["values"] == values


def test_calculator_grammar():
    assert evaluate("-2 ** 2") == -4 and evaluate("2 ** -1") == 0.5 and evaluate("7 // 2 + 7 % 2") == 4
    with pytest.raises(CalcError):
        evaluate("(" * 40 + "1" + ")" * 40)


def test_schema_checker_reports_json_pointers():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"]}
    assert validate({"n": 2}, schema) == []
    assert validate({"n": 0}, schema) == ["/n: must be >= 1"]
    assert validate({"n": True}, schema) == ["/n: expected integer, got boolean"]
    assert validate([], schema) == ["/: expected object, got array"]


def test_the_server_binds_loopback_unless_told_otherwise():
    args = parse_args(["--transport", "http"])
    assert args.host == "127.0.0.1" and is_loopback(args.host)
    assert not is_loopback("0.0.0.0")  # then the Host check is off: a deliberate choice, not the default
