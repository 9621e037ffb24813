"""The MCP demo: ``python -m learn_mcp.demo [-v]`` (``make demo-mcp``).

Reading order: read this last; it drives everything else in the folder.

An agent (the loop in ``agent.py`` with the rule-based planner) works through tasks
with the hand-rolled server's tools, first over stdio, then over Streamable HTTP.
Every JSON-RPC message the host sends or receives is in the trace (``-v``: the full
JSON and the ``Mcp-*`` headers).  Four acts, each checked:

1. **stdio, 2026-07-28.**  The host starts the server as a child and probes it with
   ``server/discover`` (no handshake).  The agent adds two notes, computes, deletes both
   notes (``delete_note`` is destructive: the first deletion is denied, the second
   approved), searches and counts with progress.  Then a slow call is cancelled with
   ``notifications/cancelled``.
2. **HTTP, 2025-11-25.**  A host that speaks only the older revision: ``initialize``,
   ``Mcp-Session-Id``, the bearer token; a slow call cancelled by an explicit POST.
3. **HTTP, 2026-07-28, guardrails.**  A task that would search forever for a note that
   is not there is stopped by the repetition guard; one that keeps doubling a number is
   stopped by the step limit; a slow call is cancelled by closing its SSE stream.
4. **The official SDK's server.**  The same host and agent against ``sdk_server.py``
   (``MCPServer``), over stdio.

``--server sdk`` runs acts 1-3 against the SDK server instead of the hand-rolled one.
Exit 0 when every check passed, 1 when one failed, 2 when something is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator

from wirelab_common.errors import SetupError, check, run_main
from wirelab_common.processes import ProcessNotReady, start_server
from wirelab_common.wiretrace import Trace

from .host.agent import Agent, AgentResult
from .host.client import McpClient, ToolInfo
from .host.client_session import LEGACY, MODERN
from .host.guards import Guardrails, StepLimit
from .host.planner import RuleBasedPlanner, ToolCall

PY = sys.executable
TOKEN = "demo-token"
# Our servers answer server/discover as soon as Python has started them; on a busy machine that
# takes seconds, and waiting longer costs nothing here (only a silent legacy server would make us wait).
PROBE_TIMEOUT = 30.0
SERVERS = {"handrolled": "learn_mcp.server", "sdk": "learn_mcp.sdk_server"}
SHOPPING = ("add a note titled Milk saying buy milk, then add a note titled Eggs saying buy a dozen eggs, "
            "then compute 2*(3+4), then delete the note titled Milk, then delete the note titled Eggs, "
            "then search notes for buy, then count to 3")


class ScriptedConfirm:
    """A person at the keyboard, replaced by a list of answers (the demo must not wait for input)."""

    def __init__(self, trace: Trace, answers: list[bool]) -> None:
        self.trace = trace
        self._answers: Iterator[bool] = iter(answers)
        self.asked: list[tuple[str, dict[str, object], bool]] = []

    def __call__(self, call: ToolCall, tool: ToolInfo) -> bool:
        answer = next(self._answers, False)
        self.trace.note(f"the user is asked: run {call.name} {call.arguments} "
                        f"({tool.description.rstrip('.')})? -> {'yes' if answer else 'no'}")
        self.asked.append((call.name, call.arguments, answer))
        return answer


def value_of(result: AgentResult, tool: str) -> list[object]:
    return [t.value for t in result.turns if t.call.name == tool]


async def cancel_slow_call(client: McpClient, trace: Trace, how: str) -> None:
    """Start a 50-step count and give up after its second progress notification.

    (Waiting for progress rather than for a fixed time keeps this right on a busy machine.)
    The server must stop counting and still answer the next call.
    """
    trace.note(f"a slow call, abandoned after two progress notifications: {how}")
    seen: list[float] = []
    enough = asyncio.Event()

    def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)
        if len(seen) >= 2:
            enough.set()

    call = asyncio.create_task(client.call_tool("slow_count", {"steps": 50, "delay": 0.1}, on_progress))
    waiting = asyncio.create_task(enough.wait())
    done, _ = await asyncio.wait({call, waiting}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    check(call not in done, "slow_count with 50 steps ended before it could be cancelled")
    check(enough.is_set(), f"no second progress notification within 30 s (saw {seen})")
    call.cancel()  # the transport turns this into the protocol's cancellation
    with contextlib.suppress(asyncio.CancelledError):
        await call
    check(call.cancelled(), "the call should end as cancelled")
    after = await client.call_tool("calculate", {"expression": "6*7"})
    check(after.value == {"value": 42}, f"the server should still answer after a cancel, got {after.value}")
    trace.note(f"cancelled after {len(seen)} progress notifications; the next call still works")


async def act_stdio(trace: Trace, module: str) -> None:
    trace.banner("Act 1: stdio, 2026-07-28 -- an agent with a confirmation before each deletion")
    # log_level: a 2026-07-28 server sends notifications/message only to requests that ask for them.
    client = await McpClient.stdio([PY, "-m", module, "--transport", "stdio"], trace.child("host"),
                                   log_level="info", probe_timeout=PROBE_TIMEOUT)
    try:
        check(client.session.version == MODERN, f"expected {MODERN} over stdio, got {client.session.version}")
        confirm = ScriptedConfirm(trace, [False, True])  # no to Milk, yes to Eggs
        agent = Agent(client, RuleBasedPlanner(), confirm=confirm, trace=trace.child("agent"))
        result = await agent.run(SHOPPING)
        check(result.stopped_by == "finished", f"the agent should finish, it was {result.answer}")
        asked = [(name, answer) for name, _args, answer in confirm.asked]
        check(asked == [("delete_note", False), ("delete_note", True)],
              f"expected two delete_note confirmations (no, yes), got {confirm.asked}")
        check(value_of(result, "calculate") == [{"value": 14}], f"2*(3+4): {value_of(result, 'calculate')}")
        left = value_of(result, "search_notes")[0]
        titles = [n["title"] for n in left["notes"]]  # type: ignore[index]
        check(titles == ["Milk"], f"the denied deletion leaves Milk, the approved one removes Eggs: {titles}")
        check(value_of(result, "slow_count") == [{"counted": 3}], "count to 3 did not finish")
        trace.note("Milk survived (denied), Eggs is gone (approved); the planner read each add_note id")
        if module == SERVERS["handrolled"]:  # the SDK server here does not log
            check(any("note added" in json.dumps(log) for log in client.logs),
                  f"asked for info logs, got {client.logs}")
            trace.note(f"{len(client.logs)} log message(s) came back with the calls (logLevel in _meta)")
        await cancel_slow_call(client, trace, "stdio has no per-request stream: notifications/cancelled")
    finally:
        await client.close()


async def act_http_legacy(trace: Trace, url: str, token: str | None) -> None:
    trace.banner("Act 2: Streamable HTTP, 2025-11-25 -- initialize, Mcp-Session-Id, bearer token")
    client = await McpClient.http(url, trace.child("host"), versions=(LEGACY,), token=token)
    try:
        check(client.session.version == LEGACY, f"expected {LEGACY}, got {client.session.version}")
        session_id = getattr(client.transport, "session_id", None)
        trace.note(f"the session id the server minted at initialize: {session_id}")
        tools = await client.list_tools()
        check({t.name for t in tools if t.destructive} == {"delete_note"},
              f"only delete_note should be destructive: {[t.name for t in tools if t.destructive]}")
        await cancel_slow_call(client, trace, "2025-11-25 needs an explicit notifications/cancelled POST")
    finally:
        await client.close()


async def act_http_guards(trace: Trace, url: str, token: str | None) -> None:
    trace.banner("Act 3: Streamable HTTP, 2026-07-28 -- the guardrails stop two runaway tasks")
    client = await McpClient.http(url, trace.child("host"), token=token)
    try:
        check(client.session.version == MODERN, f"expected {MODERN}, got {client.session.version}")
        agent = Agent(client, RuleBasedPlanner(), guards=Guardrails(StepLimit(5)), trace=trace.child("agent"))
        trace.note("a note that does not exist: the planner would search for it forever")
        looping = await agent.run("keep searching notes for bread until one is found")
        check(looping.stopped_by == "repetition" and len(looping.turns) == 2,
              f"the repetition guard should stop the second identical search: {looping.answer}")
        trace.note("every call is new (1*2, 2*2, 4*2, ...), so nothing repeats: the step limit ends it")
        doubling = await agent.run("keep doubling 1 until it exceeds 1000000")
        check(doubling.stopped_by == "step limit" and len(doubling.turns) == 5,
              f"the step limit (5) should stop the doubling: {doubling.answer}")
        await cancel_slow_call(client, trace, "2026-07-28 over HTTP: closing the SSE response stream")
    finally:
        await client.close()


async def act_sdk(trace: Trace) -> None:
    trace.banner("Act 4: the same host and agent against the official SDK's MCPServer (stdio)")
    client = await McpClient.stdio([PY, "-m", "learn_mcp.sdk_server", "--transport", "stdio"],
                                   trace.child("host"), probe_timeout=PROBE_TIMEOUT)
    try:
        agent = Agent(client, RuleBasedPlanner(), confirm=ScriptedConfirm(trace, [True]),
                      trace=trace.child("agent"))
        result = await agent.run("add a note titled Tea saying buy tea, then delete that note, "
                                 "then count to 2")
        check(result.stopped_by == "finished", result.answer)
        added = value_of(result, "add_note")[0]
        check(value_of(result, "delete_note") == [{"id": added["id"], "deleted": True}],  # type: ignore[index]
              f"SDK server: {result.answer}")
    finally:
        await client.close()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_mcp.demo", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="every message's JSON and headers")
    parser.add_argument("--server", choices=SERVERS, default="handrolled", help="the server of acts 1-3")
    args = parser.parse_args(argv)
    trace = Trace("demo", verbose=args.verbose)
    module = SERVERS[args.server]
    await act_stdio(trace, module)
    argv_http = [PY, "-m", module, "--transport", "http", "--host", "127.0.0.1", "--port", "0"]
    token = TOKEN if args.server == "handrolled" else None  # the SDK server has no --token here
    try:
        server = start_server(argv_http + (["--token", token] if token else []), name="server", echo=True)
    except ProcessNotReady as exc:
        raise SetupError(f"the MCP server did not start: {exc}",
                         f"run it alone to see why: python -m {module} --transport http") from None
    with server:
        url = f"{server.url}/mcp"
        await act_http_legacy(trace, url, token)
        await act_http_guards(trace, url, token)
    await act_sdk(trace)
    trace.banner("all checks passed")


if __name__ == "__main__":
    run_main(lambda: main(sys.argv[1:]))
