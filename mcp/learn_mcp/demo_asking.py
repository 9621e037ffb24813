"""The MCP demo's acts 5-8: the requests that need someone -- the user, or the host's model.

Reading order: read it with ``demo.py``, which runs these acts after its first four.

5. **Completion** (stdio, 2026-07-28).  The user types ``mi`` into the ``query``
   argument of the ``summarize_notes`` prompt; the host asks ``completion/complete``
   and offers the notes' words that start with it.  ``--no-completion``: the host
   never asks, so the user is offered nothing.
6. **Subscriptions** (Streamable HTTP, 2025-11-25, two hosts).  Host A opens its
   session's GET stream and subscribes to one note; host B deletes two notes; A hears
   ``notifications/resources/updated`` for its note only, on the GET stream.
   ``--no-subscribe``: A never subscribes, and hears nothing.
7. **Sampling** (stdio, 2025-11-25).  The ``summarize`` tool asks the host's model
   (here ``RuleBasedPlanner.generate``) to write a summary.  The host shows the user
   what the server wants to send the model first: the scripted user says no, then yes.
   ``--no-consent``: the host sends the server's text to its model without asking.
8. **Elicitation** (Streamable HTTP, 2025-11-25, on the tools/call's SSE stream).
   ``ask_for_note`` asks the user for a note; the scripted user fills in only the
   title (the host adds the schema's default body), then declines the second form.
   ``--no-elicitation``: the host does not declare ``capabilities.elicitation``, so the
   server may not ask, and the tool fails.
9. **2026-07-28: input_required and subscriptions/listen** (stdio).  The same
   ``ask_for_note`` at the modern revision: the call's result is ``input_required``
   with the form inside; the host asks the user, then calls again with the answer.
   Then the host watches the new note on a ``subscriptions/listen`` stream and hears
   of its deletion there.  ``--no-retry``: the host takes ``input_required`` for an
   answer it cannot handle, and never calls again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from wirelab_common.errors import SetupError, check
from wirelab_common.processes import ProcessNotReady, start_server
from wirelab_common.waiting import NotInTime, eventually_async
from wirelab_common.wiretrace import Trace

from .host.asking import Answerer
from .host.client import McpClient
from .host.client_session import LEGACY, MODERN, ProtocolError
from .host.planner import RuleBasedPlanner

PY = sys.executable
PROBE_TIMEOUT = 30.0  # as in demo.py: a busy machine takes seconds to start Python
SERVER_NAME = "mcp"  # the hand-rolled server's actor in the trace (peer of the hosts' events)
NOTES = [["Milk", "buy milk"], ["Mint", "grow mint"], ["Eggs", "buy a dozen eggs"]]


def stdio_argv(module: str) -> list[str]:
    return [PY, "-m", module, "--transport", "stdio"]


class ScriptedUser:
    """The person asked before sampling, replaced by a list of answers (the demo must not wait)."""

    def __init__(self, trace: Trace, answers: list[bool]) -> None:
        self.trace, self.answers, self.asked = trace, iter(answers), []  # type: ignore[var-annotated]

    def __call__(self, shown: str) -> bool:
        answer = next(self.answers, False)
        self.trace.note(f"the user is shown {shown[:100]!r}... and asked: send it to the model? "
                        f"-> {'yes' if answer else 'no'}")
        self.asked.append(answer)
        return answer


async def act_completion(trace: Trace, module: str, completion: bool) -> None:
    trace.banner("Act 5: completion -- the server suggests while the user types a prompt argument")
    client = await McpClient.stdio(stdio_argv(module), trace.child("host"), probe_timeout=PROBE_TIMEOUT,
                                   peer=SERVER_NAME)
    try:
        check(client.session.version == MODERN, f"expected {MODERN} over stdio, got {client.session.version}")
        await client.call_tool("add_notes", {"notes": NOTES})
        prompt = {"type": "ref/prompt", "name": "summarize_notes"}
        typed = "mi"
        if completion:
            offered = await client.complete(prompt, "query", typed)
        else:
            trace.note("--no-completion: the host does not ask the server for suggestions")
            offered = []
        trace.note(f"the user typed {typed!r} into 'query': the host offers {offered}")
        check(offered == ["milk", "mint"],
              f"typing 'mi' should offer the notes' words milk and mint: {offered}")
        styles = await client.complete(prompt, "style", "", {"query": offered[0]})
        check(styles == ["short", "bullets", "detailed"], f"every style for an empty 'style': {styles}")
        got = await client.request("prompts/get", {"name": "summarize_notes",
                                                   "arguments": {"query": offered[0], "style": styles[0]}})
        first = got["messages"][0]["content"]["text"]
        check("1 notes about 'milk'" in first,
              f"the prompt, with the completed query, should cover Milk: {first}")
        trace.note(f"the user picked {offered[0]!r} and {styles[0]!r}: {first!r}")
    finally:
        await client.close()


def start_http(module: str) -> Any:
    try:
        return start_server([PY, "-m", module, "--transport", "http", "--host", "127.0.0.1", "--port", "0"],
                            name="server", echo=True)
    except ProcessNotReady as exc:
        raise SetupError(f"the MCP server did not start: {exc}",
                         f"run it alone to see why: python -m {module} --transport http") from None


async def act_subscriptions(trace: Trace, module: str, subscribe: bool) -> None:
    trace.banner("Act 6: subscriptions (2025-11-25) -- host A watches a note that host B deletes")
    with start_http(module) as server:
        url = f"{server.url}/mcp"
        a = await McpClient.http(url, trace.child("host-a"), versions=(LEGACY,), peer=SERVER_NAME)
        b = await McpClient.http(url, trace.child("host-b"), versions=(LEGACY,), peer=SERVER_NAME)
        try:
            ids = (await b.call_tool("add_notes", {"notes": NOTES[::2]})).value["ids"]
            watched, other = f"notes://{ids[1]}", f"notes://{ids[0]}"
            if subscribe:
                await a.subscribe(watched, lambda uri: trace.note(f"host A: {uri} changed; read it again"))
            else:
                trace.note("--no-subscribe: host A does not subscribe")
            for note_id in ids:
                await b.call_tool("delete_note", {"id": note_id})
            try:
                await eventually_async(lambda: watched in a.updates, 10, f"resources/updated for {watched}")
            except NotInTime:
                check(False, f"host A heard no notifications/resources/updated for {watched} within 10 s "
                             f"(it heard {a.updates})")
            check(other not in a.updates,
                  f"host A did not subscribe to {other}, yet heard of it: {a.updates}")
            check(not b.updates, f"host B subscribed to nothing, yet heard {b.updates}")
            await a.unsubscribe(watched)
            trace.note(f"host A heard of {watched} only (not {other}); host B, not subscribed, heard nothing")
        finally:
            await a.close()
            await b.close()


async def act_sampling(trace: Trace, module: str, consent: bool) -> None:
    trace.banner("Act 7: sampling (2025-11-25) -- the server asks the host's model; the user decides first")
    user = ScriptedUser(trace, [False, True])

    def without_asking(shown: str) -> bool:
        trace.note("--no-consent: the host sends it to its model without asking the user")
        return True

    answerer = Answerer(RuleBasedPlanner().generate, user if consent else without_asking)
    client = await McpClient.stdio(stdio_argv(module), trace.child("host"), versions=(LEGACY,),
                                   answerer=answerer, peer=SERVER_NAME)
    try:
        await client.call_tool("add_notes", {"notes": NOTES})
        refused = await client.call_tool("summarize", {"query": "buy"})
        allowed = await client.call_tool("summarize", {"query": "buy"})
        check(user.asked == [False, True],
              "the host should ask the user before each sampling request (no, then yes); "
              f"it asked: {user.asked}")
        check(refused.is_error and "User rejected" in refused.text,
              f"the refused request should fail the tool: {refused.text}")
        summary = allowed.value.get("summary") if isinstance(allowed.value, dict) else None
        check(summary == "Milk: buy milk; Eggs: buy a dozen eggs", f"the model's summary: {allowed.value}")
        trace.note(f"refused: the tool failed ({refused.text}); allowed: {summary!r}")
    finally:
        await client.close()


async def act_elicitation(trace: Trace, module: str, elicitation: bool) -> None:
    trace.banner("Act 8: elicitation (2025-11-25) -- the server asks the user for a note, over HTTP")
    script: list[tuple[str, dict[str, Any] | None]] = [("accept", {"title": "Bread"}), ("decline", None)]
    answerer = Answerer(RuleBasedPlanner().generate, lambda shown: False, script)
    shown: Callable[[str], None] = trace.note
    with start_http(module) as server:
        client = await McpClient.http(f"{server.url}/mcp", trace.child("host"), versions=(LEGACY,),
                                      answerer=answerer if elicitation else None, peer=SERVER_NAME)
        try:
            if not elicitation:
                shown("--no-elicitation: the host does not declare capabilities.elicitation")
            shown("the user, asked for a note, types only the title 'Bread'")
            first = await client.call_tool("ask_for_note", {"why": "for the shopping list"})
            check(isinstance(first.value, dict) and first.value.get("action") == "accept",
                  f"the server should ask the user, who accepts: {first.value}")
            found = (await client.call_tool("search_notes", {"query": "Bread"})).value["notes"]
            check([(n["title"], n["body"]) for n in found] == [("Bread", "")],
                  f"the note, with the schema's default body '': {found}")
            shown("asked again, the user declines")
            second = await client.call_tool("ask_for_note", {"why": "for the shopping list"})
            check(second.value == {"action": "decline"}, f"the second form is declined: {second.value}")
            check(not answerer.problems, f"the scripted answers fit the schema: {answerer.problems}")
            shown(f"accepted: note {first.value['id']} (body from the default); declined: nothing added")
        finally:
            await client.close()


async def act_modern_asking(trace: Trace, module: str, retry: bool) -> None:
    trace.banner("Act 9: 2026-07-28 -- input_required instead of a request, and subscriptions/listen")
    answerer = Answerer(RuleBasedPlanner().generate, lambda shown: False, [("accept", {"title": "Bread"})])
    client = await McpClient.stdio(stdio_argv(module), trace.child("host"), probe_timeout=PROBE_TIMEOUT,
                                   answerer=answerer, peer=SERVER_NAME)
    try:
        check(client.session.version == MODERN, f"expected {MODERN} over stdio, got {client.session.version}")
        if not retry:
            trace.note("--no-retry: the host does not answer input_required (it keeps its capabilities)")
            client.answerer = None
        trace.note("the user, asked for a note, types only the title 'Bread'")
        try:
            added = await client.call_tool("ask_for_note", {"why": "for the shopping list"})
        except ProtocolError as exc:
            check(False, f"the host should answer input_required and call again: {exc}")
        check(isinstance(added.value, dict) and added.value.get("action") == "accept",
              f"the retry carries the user's answer: {added.value}")
        uri = f"notes://{added.value['id']}"
        await client.subscribe(uri, lambda changed: trace.note(f"the listen stream says {changed} changed"))
        await client.call_tool("delete_note", {"id": added.value["id"]})
        try:
            await eventually_async(lambda: uri in client.updates, 10, f"resources/updated for {uri}")
        except NotInTime:
            check(False, f"no notifications/resources/updated for {uri} on the listen stream within 10 s")
        trace.note("two calls with two ids made one tools/call; the server kept nothing in between")
    finally:
        await client.close()
