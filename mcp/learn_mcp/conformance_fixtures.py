"""The conformance suite's fixtures: tools, resources and prompts its scenarios call by name.

Reading order: not part of the lesson; read it after ``server_core`` if you want to know
what ``--conformance-fixtures`` adds.  Only ``tests/mcp/test_mcp_conformance.py`` starts
the server with that flag; the demo, the other tests and the benchmark never do.

The MCP conformance suite (npm ``@modelcontextprotocol/conformance``, 0.1.13,
``src/scenarios/server/{tools,resources,prompts}.ts``) checks a server by calling
things of fixed names (``test_simple_text``, ``test://static-text``,
``test_simple_prompt``, ...) and comparing the answer with the shape each scenario
describes.  Without them those scenarios stop at "unknown tool" and say nothing
about the protocol code under them.  With them, the suite exercises what the
notes tools do not: image, audio and embedded-resource content, ``blob``
resource contents, a second resource template, prompts with images.

:func:`install` wraps the core's handlers instead of editing the lesson's tables
(tools.py, resources.py, prompts.py): a fixture name is answered here, anything
else goes to the handler that was there before.  Images and audio are built at
import time (a 1x1 PNG, a few samples of silent WAV), so nothing binary is stored.
"""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import wave
import zlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .completion import answer, read_request
from .jsonrpc import INVALID_PARAMS, JsonRpcError
from .tools import ToolContext, ToolError, error_result

if TYPE_CHECKING:
    from .server_core import ServerCore


def _png_1x1(rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A valid one-pixel PNG (PNG spec §5: signature, IHDR, IDAT, IEND chunks)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" + bytes(rgb)))
            + chunk(b"IEND", b""))


def _silent_wav(frames: int = 8) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(8000)
        out.writeframes(b"\x80" * frames)  # 8-bit WAV is unsigned: 0x80 is silence
    return buffer.getvalue()


PNG = base64.b64encode(_png_1x1()).decode()
WAV = base64.b64encode(_silent_wav()).decode()


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


IMAGE = {"type": "image", "data": PNG, "mimeType": "image/png"}


def embedded(uri: str, mime: str, value: str) -> dict[str, Any]:
    return {"type": "resource", "resource": {"uri": uri, "mimeType": mime, "text": value}}


# --- tools (scenarios tools-call-*) ---------------------------------------------------------------

async def with_logging(ctx: ToolContext) -> dict[str, Any]:
    # Three messages with pauses between them: the scenario checks a client receives
    # several notifications while the call is still running.
    for number, message in enumerate(("Tool execution started", "Tool processing data",
                                      "Tool execution completed")):
        if number:
            await ctx.sleep(0.05)
        await ctx.log("info", message)
    return {"content": [text("Tool with logging executed successfully")]}


async def with_progress(ctx: ToolContext) -> dict[str, Any]:
    for step, progress in enumerate((0, 50, 100)):
        if step:
            await ctx.sleep(0.05)
        await ctx.progress(progress, 100, None)
    return {"content": [text("Tool with progress executed successfully")]}


def constant(result: dict[str, Any]) -> Callable[[ToolContext], Awaitable[dict[str, Any]]]:
    async def run(ctx: ToolContext) -> dict[str, Any]:
        return result
    return run


async def with_reconnection(ctx: ToolContext) -> dict[str, Any]:
    """Scenario server-sse-polling: the server ends the POST's connection after the priming event,
    finishes the call while nobody listens, and the client gets the result by resuming."""
    ctx.close_stream()  # False where there is no resumable stream: then the result simply follows
    await ctx.sleep(0.1)  # still working, with the connection closed
    return {"content": [text("Reconnection test completed successfully")]}


FIXTURE_TOOLS: dict[str, tuple[str, Callable[[ToolContext], Awaitable[dict[str, Any]]]]] = {
    "test_simple_text": ("Returns one text content.",
                         constant({"content": [text("This is a simple text response for testing.")]})),
    "test_image_content": ("Returns one image content.", constant({"content": [IMAGE]})),
    "test_audio_content": ("Returns one audio content.",
                           constant({"content": [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}]})),
    "test_embedded_resource": ("Returns one embedded resource.", constant({"content": [
        embedded("test://embedded-resource", "text/plain", "This is an embedded resource content.")]})),
    "test_multiple_content_types": ("Returns text, image and resource content.", constant({"content": [
        text("Multiple content types test:"), IMAGE,
        embedded("test://mixed-content-resource", "application/json", '{"test":"data","value":123}')]})),
    "test_tool_with_logging": ("Sends three info log messages while it runs.", with_logging),
    "test_tool_with_progress": ("Reports progress 0, 50, 100 of 100.", with_progress),
    "test_reconnection": ("Closes its SSE stream mid-call; the result comes on the resumed stream.",
                          with_reconnection),
    "test_error_handling": ("Always fails, as a tool error.",
                            constant(error_result("This tool intentionally returns an error for testing"))),
}
NO_ARGUMENTS = {"type": "object", "properties": {}}


# --- tools that ask the client (scenarios tools-call-sampling, -elicitation, elicitation-sep*) -----

async def sampling(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    answer = await ctx.ask("sampling/createMessage", {
        "messages": [{"role": "user", "content": text(str(args.get("prompt", "")))}], "maxTokens": 100})
    return {"content": [text(f"LLM response: {answer.get('content', {}).get('text', '')}")]}


def elicit(schema: dict[str, Any], message: str = "Please review and update the form fields"
           ) -> Callable[[ToolContext, dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        answer = await ctx.ask("elicitation/create", {"message": str(args.get("message", message)),
                                                      "requestedSchema": schema})
        return {"content": [text(f"User response: <action: {answer.get('action')}, "
                                 f"content: {json.dumps(answer.get('content', {}))}>")]}
    return run


def choices(*values: str) -> list[dict[str, str]]:
    return [{"const": value, "title": f"Option {value}"} for value in values]


USER = {"type": "object", "required": ["username", "email"], "properties": {
    "username": {"type": "string", "description": "User's response"},
    "email": {"type": "string", "description": "User's email address"}}}
DEFAULTS = {"type": "object", "properties": {  # SEP-1034: every primitive may carry a default
    "name": {"type": "string", "default": "John Doe"}, "age": {"type": "integer", "default": 30},
    "score": {"type": "number", "default": 95.5},
    "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
    "verified": {"type": "boolean", "default": True}}}
ENUMS = {"type": "object", "properties": {  # SEP-1330: single and multiple choice, with or without titles
    "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
    "titledSingle": {"type": "string", "oneOf": choices("value1", "value2", "value3")},
    "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                   "enumNames": ["Option One", "Option Two", "Option Three"]},
    "untitledMulti": {"type": "array",
                      "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
    "titledMulti": {"type": "array", "items": {"anyOf": choices("value1", "value2", "value3")}}}}
ASKING_TOOLS: dict[str, tuple[str, dict[str, Any], Callable[[ToolContext, dict[str, Any]],
                                                          Awaitable[dict[str, Any]]]]] = {
    "test_sampling": ("Asks the client's model to answer the prompt.", {"type": "object", "properties": {
        "prompt": {"type": "string"}}, "required": ["prompt"]}, sampling),
    "test_elicitation": ("Asks the user for a username and an email.", {"type": "object", "properties": {
        "message": {"type": "string"}}, "required": ["message"]}, elicit(USER)),
    "test_elicitation_sep1034_defaults": ("Asks with default values.", NO_ARGUMENTS, elicit(DEFAULTS)),
    "test_elicitation_sep1330_enums": ("Asks with every enum form.", NO_ARGUMENTS, elicit(ENUMS)),
}

# --- a tool whose input schema must reach the client whole (pending scenario json-schema-2020-12) ----

SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"},
                                                           "city": {"type": "string"}}}},
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False}


async def echo_arguments(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return {"content": [text(json.dumps(args, sort_keys=True))]}


SCHEMA_TOOLS = {"json_schema_2020_12_tool": ("Tool with JSON Schema 2020-12 features", SCHEMA_2020_12,
                                             echo_arguments)}

# --- resources (scenarios resources-read-*, -templates-read, -subscribe) -------------------------

STATIC = {
    "test://static-text": {"mimeType": "text/plain",
                           "text": "This is the content of the static text resource."},
    "test://static-binary": {"mimeType": "image/png", "blob": PNG},
    # resources-subscribe / -unsubscribe: only a URI the server can read may be subscribed to
    "test://watched-resource": {"mimeType": "text/plain", "text": "A resource to watch for updates."},
}
TEMPLATE = "test://template/{id}/data"
TEMPLATE_PATTERN = re.compile(r"test://template/([^/]+)/data")


def read_fixture(uri: Any) -> dict[str, Any] | None:
    if uri in STATIC:
        return {"contents": [{"uri": uri, **STATIC[uri]}]}
    match = TEMPLATE_PATTERN.fullmatch(uri) if isinstance(uri, str) else None
    if match is None:
        return None
    data = {"id": match[1], "templateTest": True, "data": f"Data for ID: {match[1]}"}
    return {"contents": [{"uri": uri, "mimeType": "application/json", "text": json.dumps(data)}]}


# --- prompts (scenarios prompts-get-*) ------------------------------------------------------------

FIXTURE_PROMPTS = [
    {"name": "test_simple_prompt", "description": "A prompt without arguments."},
    {"name": "test_prompt_with_arguments", "description": "A prompt with two arguments.",
     "arguments": [{"name": "arg1", "description": "First test argument", "required": True},
                   {"name": "arg2", "description": "Second test argument", "required": True}]},
    {"name": "test_prompt_with_embedded_resource", "description": "A prompt embedding a resource.",
     "arguments": [{"name": "resourceUri", "description": "URI of the resource to embed", "required": True}]},
    {"name": "test_prompt_with_image", "description": "A prompt with an image."},
]


def get_fixture_prompt(name: Any, args: Any) -> dict[str, Any] | None:
    prompt = next((p for p in FIXTURE_PROMPTS if p["name"] == name), None)
    if prompt is None:
        return None
    if not isinstance(args, dict):
        raise JsonRpcError(INVALID_PARAMS, "prompts/get arguments must be an object")
    missing = [a["name"] for a in prompt.get("arguments", []) if not isinstance(args.get(a["name"]), str)]
    if missing:
        raise JsonRpcError(INVALID_PARAMS, f"prompt {name} needs the argument(s) {', '.join(missing)}")
    if name == "test_simple_prompt":
        contents = [text("This is a simple prompt for testing.")]
    elif name == "test_prompt_with_arguments":
        contents = [text(f"Prompt with arguments: arg1='{args['arg1']}', arg2='{args['arg2']}'")]
    elif name == "test_prompt_with_embedded_resource":
        contents = [embedded(args["resourceUri"], "text/plain", "Embedded resource content for testing."),
                    text("Please process the embedded resource above.")]
    else:
        contents = [IMAGE, text("Please analyze the image above.")]
    return {"messages": [{"role": "user", "content": content} for content in contents]}


def complete_fixture(params: dict[str, Any]) -> dict[str, Any] | None:
    """Completions for the fixture prompts and template (scenario completion-complete): none to offer."""
    ref, _name, typed = read_request(params)
    if ref.get("name") in {p["name"] for p in FIXTURE_PROMPTS} or ref.get("uri") == TEMPLATE:
        return answer([], typed)  # the scenario checks the shape; an empty list is a valid answer
    return None


# --- wiring ---------------------------------------------------------------------------------------

def install(core: ServerCore) -> None:
    """Add the fixtures to ``core``: each wrapper answers its own names and delegates the rest."""
    before = dict(core.methods)
    call_tool = core.call_tool

    def extend(method: str, key: str, extra: list[dict[str, Any]]) -> None:
        original = before[method]  # the lesson's list handlers are plain functions, not coroutines

        def listing(params: dict[str, Any], call: Any) -> dict[str, Any]:
            result = original(params, call)
            return {**result, key: result[key] + extra}

        core.methods[method] = listing

    extend("tools/list", "tools", [{"name": name, "description": description, "inputSchema": NO_ARGUMENTS}
                                   for name, (description, _run) in FIXTURE_TOOLS.items()]
           + [{"name": name, "description": description, "inputSchema": schema}
              for name, (description, schema, _run) in {**ASKING_TOOLS, **SCHEMA_TOOLS}.items()])
    extend("resources/list", "resources", [{"uri": uri, "name": uri.removeprefix("test://"),
                                            "mimeType": entry["mimeType"]} for uri, entry in STATIC.items()])
    extend("resources/templates/list", "resourceTemplates",
           [{"uriTemplate": TEMPLATE, "name": "template-data", "mimeType": "application/json"}])
    extend("prompts/list", "prompts", FIXTURE_PROMPTS)
    core.methods["resources/read"] = lambda params, call: (
        read_fixture(params.get("uri")) or before["resources/read"](params, call))
    core.methods["prompts/get"] = lambda params, call: (
        get_fixture_prompt(params.get("name"), params.get("arguments") or {})
        or before["prompts/get"](params, call))
    core.methods["completion/complete"] = lambda params, call: (
        complete_fixture(params) or before["completion/complete"](params, call))

    async def call_fixture_tool(params: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        name = params.get("name")
        if name in ASKING_TOOLS:
            try:
                return await ASKING_TOOLS[name][2](ctx, params.get("arguments") or {})  # type: ignore[index]
            except ToolError as exc:  # the client cannot or will not answer: a tool error
                return error_result(str(exc))
        if name in SCHEMA_TOOLS:
            return await SCHEMA_TOOLS[name][2](ctx, params.get("arguments") or {})  # type: ignore[index]
        fixture = FIXTURE_TOOLS.get(name)  # type: ignore[arg-type]
        return await call_tool(params, ctx) if fixture is None else await fixture[1](ctx)

    core.call_tool = call_fixture_tool
