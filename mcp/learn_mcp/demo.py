"""The MCP demo: ``python -m learn_mcp.demo [-v]`` (``make demo-mcp``).

Reading order: read this last; it drives everything else in the folder.

An agent (the loop in ``agent.py`` with the rule-based planner) works through tasks
with the hand-rolled server's tools, first over stdio, then over Streamable HTTP.
Every JSON-RPC message the host sends or receives is in the trace (``-v``: the full
JSON and the ``Mcp-*`` headers).  Nine acts, each checked:

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
5-9. **Completion, subscriptions, sampling, elicitation, and 2026-07-28's way of asking
   and watching** (``demo_asking.py``): the requests where the user or the host's model
   takes part, against the hand-rolled server.

``--server sdk`` runs acts 1-3 against the SDK server instead of the hand-rolled one;
``--act N`` runs act N alone.  Each act's mechanism can be switched off, and then that
act's checks fail (exit 1, naming what went wrong), which shows they test something:

- ``--no-confirm`` (act 1): the host asks nobody before a destructive call;
- ``--no-cancel`` (acts 1-3, shown in act 2): the host stops waiting for the slow
  call but tells the server nothing, so the server counts on (the check reads the
  server's own log for its "cancelled" line);
- ``--no-guards`` (act 3): no repetition guard, and a step limit of 50 instead of 5
  (a backstop, so the run still ends);
- ``--no-probe`` (act 4, also act 1): the host offers only 2025-11-25, so it never sends
  ``server/discover`` and ends up in the handshake era;
- ``--no-completion`` (act 5), ``--no-subscribe`` (act 6), ``--no-consent`` (act 7),
  ``--no-elicitation`` (act 8), ``--no-retry`` (act 9): see ``demo_asking.py``.

Exit 0 when every check passed, 1 when one failed, 2 when something is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from wirelab_common.errors import SetupError, check, run_main
from wirelab_common.processes import ProcessNotReady, start_server
from wirelab_common.waiting import NotInTime, eventually_async
from wirelab_common.wiretrace import Trace

from . import demo_asking
from .host.agent import Agent, AgentResult
from .host.client import McpClient, ToolInfo
from .host.client_session import LEGACY, MODERN
from .host.guards import Guardrails, RepetitionGuard, StepLimit
from .host.planner import RuleBasedPlanner, ToolCall

PY = sys.executable
TOKEN = "demo-token"
# Our servers answer server/discover as soon as Python has started them; on a busy machine that
# takes seconds, and waiting longer costs nothing here (only a silent legacy server would make us wait).
PROBE_TIMEOUT = 30.0
SERVERS = {"handrolled": "learn_mcp.server", "sdk": "learn_mcp.sdk_server"}
NAMES = {"learn_mcp.server": "mcp", "learn_mcp.sdk_server": "sdk"}  # each server's actor in the trace
BACKSTOP = 50  # --no-guards: the only limit left, so that a run without guards still ends
# The hand-rolled server's log line when a request is cancelled (stdio_transport, http_transport).
CANCELLED = re.compile(r"request \S+ cancelled")
ServerLog = Callable[[], str]  # everything a server has logged so far
SHOPPING = ("add a note titled Milk saying buy milk, then add a note titled Eggs saying buy a dozen eggs, "
            "then compute 2*(3+4), then delete the note titled Milk, then delete the note titled Eggs, "
            "then search notes for buy, then count to 3")


@dataclass(frozen=True)
class Switches:
    """Which mechanisms are on (all of them, unless a --no-... flag says otherwise)."""

    confirm: bool = True
    cancel: bool = True
    guards: bool = True
    probe: bool = True
    completion: bool = True
    subscribe: bool = True
    consent: bool = True
    elicitation: bool = True
    retry: bool = True

    @property
    def versions(self) -> tuple[str, ...]:
        return (MODERN, LEGACY) if self.probe else (LEGACY,)


class AskNobody(Guardrails):
    """--no-confirm: guardrails that never ask a person first."""

    def confirm_first(self, annotations: dict[str, object]) -> bool:
        return False


class StderrLog:
    """The stdio server's stderr: passed through, and kept for the checks."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, data: str) -> int:
        self.text += data
        return sys.stderr.write(data)

    def flush(self) -> None:
        sys.stderr.flush()


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


async def cancel_slow_call(client: McpClient, trace: Trace, how: str, server_log: ServerLog | None,
                           cancel: bool = True) -> None:
    """Start a 50-step count and give up after its second progress notification.

    (Waiting for progress rather than for a fixed time keeps this right on a busy machine.)
    The server must say it stopped counting, and still answer the next call.
    ``server_log``: the server's output so far, or None for a server that does not log
    cancellations (the SDK's): then only the client side is checked.
    """
    trace.note(f"a slow call, abandoned after two progress notifications: {how}")
    seen: list[float] = []
    enough = asyncio.Event()
    logged_before = len(server_log()) if server_log else 0

    def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)
        if len(seen) >= 2:
            enough.set()

    call = asyncio.create_task(client.call_tool("slow_count", {"steps": 50, "delay": 0.1}, on_progress))
    try:
        waiting = asyncio.create_task(enough.wait())
        done, _ = await asyncio.wait({call, waiting}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        check(call not in done, "slow_count with 50 steps ended before it could be cancelled")
        check(enough.is_set(), f"no second progress notification within 30 s (saw {seen})")
        if cancel:
            call.cancel()  # the transport turns this into the protocol's cancellation
            with contextlib.suppress(asyncio.CancelledError):
                await call
            check(call.cancelled(), "the call should end as cancelled")
        else:
            trace.note("--no-cancel: the host stops waiting, and tells the server nothing")
        if server_log is not None:
            try:
                await eventually_async(lambda: CANCELLED.search(server_log()[logged_before:]), 8,
                                       "the server's 'request N cancelled' line")
            except NotInTime:
                check(False, "the server went on counting: no cancellation reached it within 8 s")
            trace.note("the server logged the cancellation: it stopped counting")
        else:
            trace.note("this server does not log cancellations: only the host's side is checked")
    finally:
        if not call.done():
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call
    after = await client.call_tool("calculate", {"expression": "6*7"})
    check(after.value == {"value": 42}, f"the server should still answer after a cancel, got {after.value}")
    trace.note(f"cancelled after {len(seen)} progress notifications; the next call still works")


async def act_stdio(trace: Trace, module: str, on: Switches) -> None:
    trace.banner("Act 1: stdio, 2026-07-28 -- an agent with a confirmation before each deletion")
    stderr = StderrLog()
    # log_level: a 2026-07-28 server sends notifications/message only to requests that ask for them.
    client = await McpClient.stdio([PY, "-m", module, "--transport", "stdio"], trace.child("host"),
                                   versions=on.versions, log_level="info", probe_timeout=PROBE_TIMEOUT,
                                   stderr=stderr, peer=NAMES[module])
    try:
        check(client.session.version == MODERN, f"expected {MODERN} over stdio, got {client.session.version}")
        confirm = ScriptedConfirm(trace, [False, True])  # no to Milk, yes to Eggs
        guards = Guardrails() if on.confirm else AskNobody()
        agent = Agent(client, RuleBasedPlanner(), guards=guards, confirm=confirm, trace=trace.child("agent"))
        result = await agent.run(SHOPPING)
        check(result.stopped_by == "finished", f"the agent should finish, it was {result.answer}")
        asked = [(name, answer) for name, _args, answer in confirm.asked]
        check(asked == [("delete_note", False), ("delete_note", True)],
              f"the host should ask before each delete_note (no, then yes); it asked: {confirm.asked}")
        check(value_of(result, "calculate") == [{"value": 14}], f"2*(3+4): {value_of(result, 'calculate')}")
        left = value_of(result, "search_notes")[0]
        titles = [n["title"] for n in left["notes"]]  # type: ignore[index]
        check(titles == ["Milk"], f"the denied deletion leaves Milk, the approved one removes Eggs: {titles}")
        check(value_of(result, "slow_count") == [{"counted": 3}], "count to 3 did not finish")
        trace.note("Milk survived (denied), Eggs is gone (approved); the planner read each add_note id")
        handrolled = module == SERVERS["handrolled"]
        if handrolled:  # the SDK server here does not log
            check(any("note added" in json.dumps(log) for log in client.logs),
                  f"asked for info logs, got {client.logs}")
            trace.note(f"{len(client.logs)} log message(s) came back with the calls (logLevel in _meta)")
        await cancel_slow_call(client, trace, "stdio has no per-request stream: notifications/cancelled",
                               (lambda: stderr.text) if handrolled else None, on.cancel)
    finally:
        await client.close()


async def act_http_legacy(trace: Trace, url: str, token: str | None, server_log: ServerLog | None,
                          on: Switches, peer: str) -> None:
    trace.banner("Act 2: Streamable HTTP, 2025-11-25 -- initialize, Mcp-Session-Id, bearer token")
    client = await McpClient.http(url, trace.child("host"), versions=(LEGACY,), token=token, peer=peer)
    try:
        check(client.session.version == LEGACY, f"expected {LEGACY}, got {client.session.version}")
        session_id = getattr(client.transport, "session_id", None)
        trace.note(f"the session id the server minted at initialize: {session_id}")
        tools = {t.name: t for t in await client.list_tools()}
        check(tools["delete_note"].destructive and not tools["search_notes"].destructive,
              f"delete_note is destructive by its hints, search_notes is not: {tools}")
        await cancel_slow_call(client, trace, "2025-11-25 needs an explicit notifications/cancelled POST",
                               server_log, on.cancel)
    finally:
        await client.close()


async def act_http_guards(trace: Trace, url: str, token: str | None, server_log: ServerLog | None,
                          on: Switches, peer: str) -> None:
    trace.banner("Act 3: Streamable HTTP, 2026-07-28 -- the guardrails stop two runaway tasks")
    client = await McpClient.http(url, trace.child("host"), token=token, peer=peer)
    try:
        check(client.session.version == MODERN, f"expected {MODERN}, got {client.session.version}")
        guards = (Guardrails(StepLimit(5)) if on.guards
                  else Guardrails(StepLimit(BACKSTOP), RepetitionGuard(limit=BACKSTOP + 1)))
        agent = Agent(client, RuleBasedPlanner(), guards=guards, trace=trace.child("agent"))
        trace.note("a note that does not exist: the planner would search for it forever")
        looping = await agent.run("keep searching notes for bread until one is found")
        check(looping.stopped_by == "repetition" and len(looping.turns) == 2,
              f"the repetition guard should stop the second identical search: {looping.answer}")
        trace.note("every call is new (1*2, 2*2, 4*2, ...), so nothing repeats: the step limit ends it")
        doubling = await agent.run("keep doubling 1 until it exceeds 1000000")
        check(doubling.stopped_by == "step limit" and len(doubling.turns) == 5,
              f"the step limit (5) should stop the doubling: {doubling.answer}")
        await cancel_slow_call(client, trace, "2026-07-28 over HTTP: closing the SSE response stream",
                               server_log, on.cancel)
    finally:
        await client.close()


async def act_sdk(trace: Trace, on: Switches) -> None:
    trace.banner("Act 4: the same host and agent against the official SDK's MCPServer (stdio)")
    client = await McpClient.stdio([PY, "-m", "learn_mcp.sdk_server", "--transport", "stdio"],
                                   trace.child("host"), versions=on.versions, probe_timeout=PROBE_TIMEOUT,
                                   peer="sdk")
    try:
        check(client.session.version == MODERN,
              f"the SDK's server answers server/discover: expected {MODERN}, got {client.session.version}")
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


async def http_acts(trace: Trace, args: argparse.Namespace, on: Switches) -> None:
    """Acts 2 and 3 share one HTTP server, started on a port the kernel picks."""
    module = SERVERS[args.server]
    argv_http = [PY, "-m", module, "--transport", "http", "--host", "127.0.0.1", "--port", "0"]
    token = TOKEN if args.server == "handrolled" else None  # the SDK server has no --token here
    try:
        server = start_server(argv_http + (["--token", token] if token else []), name="server", echo=True)
    except ProcessNotReady as exc:
        raise SetupError(f"the MCP server did not start: {exc}",
                         f"run it alone to see why: python -m {module} --transport http") from None
    server_log = server.output if args.server == "handrolled" else None  # the SDK's does not log cancels
    with server:
        url = f"{server.url}/mcp"
        if args.act in (None, 2):
            await act_http_legacy(trace, url, token, server_log, on, NAMES[module])
        if args.act in (None, 3):
            await act_http_guards(trace, url, token, server_log, on, NAMES[module])


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m learn_mcp.demo", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="every message's JSON and headers")
    parser.add_argument("--server", choices=SERVERS, default="handrolled", help="the server of acts 1-3")
    parser.add_argument("--act", type=int, choices=range(1, 10), help="run this act only (1-9)")
    parser.add_argument("--no-confirm", action="store_true",
                        help="act 1 fails: the host asks nobody before a destructive call")
    parser.add_argument("--no-cancel", action="store_true",
                        help="act 2 fails (and 1, 3): the host abandons the slow call without cancelling it")
    parser.add_argument("--no-guards", action="store_true",
                        help=f"act 3 fails: no repetition guard, step limit {BACKSTOP} instead of 5")
    parser.add_argument("--no-probe", action="store_true",
                        help="act 4 fails (and 1): the host offers only 2025-11-25, never server/discover")
    parser.add_argument("--no-completion", action="store_true",
                        help="act 5 fails: the host never asks completion/complete")
    parser.add_argument("--no-subscribe", action="store_true",
                        help="act 6 fails: host A never sends resources/subscribe")
    parser.add_argument("--no-consent", action="store_true",
                        help="act 7 fails: the host samples its model without asking the user")
    parser.add_argument("--no-elicitation", action="store_true",
                        help="act 8 fails: the host does not declare capabilities.elicitation")
    parser.add_argument("--no-retry", action="store_true",
                        help="act 9 fails: the host does not answer input_required and call again")
    args = parser.parse_args(argv)
    on = Switches(confirm=not args.no_confirm, cancel=not args.no_cancel, guards=not args.no_guards,
                  probe=not args.no_probe, completion=not args.no_completion, subscribe=not args.no_subscribe,
                  consent=not args.no_consent, elicitation=not args.no_elicitation, retry=not args.no_retry)
    trace = Trace("demo", verbose=args.verbose)
    if args.act in (None, 1):
        await act_stdio(trace, SERVERS[args.server], on)
    if args.act in (None, 2, 3):
        await http_acts(trace, args, on)
    if args.act in (None, 4):
        await act_sdk(trace, on)
    ours = SERVERS["handrolled"]  # acts 5-9 use tools only the hand-rolled server has
    if args.act in (None, 5):
        await demo_asking.act_completion(trace, ours, on.completion)
    if args.act in (None, 6):
        await demo_asking.act_subscriptions(trace, ours, on.subscribe)
    if args.act in (None, 7):
        await demo_asking.act_sampling(trace, ours, on.consent)
    if args.act in (None, 8):
        await demo_asking.act_elicitation(trace, ours, on.elicitation)
    if args.act in (None, 9):
        await demo_asking.act_modern_asking(trace, ours, on.retry)
    trace.banner("all checks passed")


if __name__ == "__main__":
    run_main(lambda: main(sys.argv[1:]))
