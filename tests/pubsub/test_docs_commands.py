"""Every Redis command that pubsub's README and docstrings show is run against a real redis-server.

What counts as "a command shown" (the marked forms these docs use, consistently):

- README.md: each line of a fenced code block, each message *to* Redis in the
  mermaid diagram (``X->>R: COMMAND ...``), and each inline code span;
- docstrings of ``learn_pubsub/*.py``: each line of a literal block (the indented
  block after a paragraph ending in ``::``), and each inline ````code```` span;

when its first word is a command name as the server itself lists them
(``COMMAND LIST``), in capitals as written, and it has arguments (a bare
``XACK`` in prose names a command, it does not show one).  A line ends at two
spaces in a row (a column comment) or at ``->`` (the reply).  Each command is
sent as is, on a fresh connection, in document order, to one fresh server per
document: commands that need state (XREADGROUP needs its group) rely on the
document having shown how it is made.  Any error reply fails the test.

The server allows ``DEBUG`` (``--enable-debug-command local``) because resp.py
shows ``DEBUG PROTOCOL attrib``, Redis's own hook for RESP3 attributes.
"""

from __future__ import annotations

import ast
import asyncio
import re
import shlex
from pathlib import Path

import pytest

from learn_pubsub.resp_client import ReplyError, RespClient
from tests.conftest import need_binary
from wirelab_common.ports import free_port

PUBSUB = Path(__file__).resolve().parents[2] / "pubsub"
DOCUMENTS = ["README.md", *sorted(p.name for p in (PUBSUB / "learn_pubsub").glob("*.py"))]
pytestmark = pytest.mark.differential  # redis-server, not a reading of ours, judges each command


def command_text(line: str) -> str:
    """The command part of a doc line: up to a two-space column comment or a '->' reply."""
    return re.split(r"\s{2,}|\s->\s", line.strip(), maxsplit=1)[0]


def in_markdown(text: str) -> list[tuple[int, str]]:
    """(line number, candidate) from fenced blocks, mermaid messages to R, and inline spans."""
    found, fence, prose = [], None, []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fence = None if fence is not None else (line[3:].strip() or "text")
            continue
        if fence == "mermaid":
            if (message := re.match(r"\s*\w+-+>>R:\s*(.*)", line)):
                found.append((number, message.group(1)))
        elif fence is not None:
            found.append((number, command_text(line)))
        else:
            prose.append((number, line))
    # Inline spans may wrap onto the next line: search the prose as one text.
    joined = "\n".join(line for _, line in prose)
    starts = [number for number, line in prose for _ in range(len(line) + 1)]
    for span in re.finditer(r"`([^`]+)`", joined):
        found.append((starts[span.start()], " ".join(span.group(1).split())))
    return sorted(found)


def in_docstrings(source: str) -> list[tuple[int, str]]:
    """(line number, candidate) from literal blocks and ``spans`` of every docstring."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node, clean=False)
        if not doc:
            continue
        first = node.body[0].lineno  # where the docstring starts
        lines = doc.splitlines()
        block_indent = None  # inside a literal block: the indent of the paragraph that opened it
        for offset, line in enumerate(lines):
            indent = len(line) - len(line.lstrip())
            if block_indent is not None and line.strip() and indent <= block_indent:
                block_indent = None
            if block_indent is not None and line.strip():
                found.append((first + offset, command_text(line)))
            if line.rstrip().endswith("::"):
                block_indent = indent
        for span in re.finditer(r"``(.+?)``", doc, re.S):
            found.append((first + doc.count("\n", 0, span.start()), " ".join(span.group(1).split())))
    return sorted(found)


def commands(document: str, names: set[str]) -> list[tuple[int, list[str]]]:
    path = PUBSUB / document if document == "README.md" else PUBSUB / "learn_pubsub" / document
    text = path.read_text()
    candidates = in_markdown(text) if document.endswith(".md") else in_docstrings(text)
    shown = []
    for number, candidate in candidates:
        words = candidate.split()
        if len(words) > 1 and words[0] in names:
            shown.append((number, shlex.split(candidate)))
    return shown


@pytest.fixture(scope="module")
def debug_redis():
    """A private redis-server that also accepts DEBUG (from loopback only)."""
    from wirelab_common.processes import start_process

    binary = need_binary("redis-server", "redis-server")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--enable-debug-command", "local"]
    with start_process(argv, name="redis-docs", ready_port=port) as proc:
        yield proc, port


async def run(port: int, args: list[str]) -> object:
    async with await RespClient.connect("127.0.0.1", port) as client:
        return await asyncio.wait_for(client.command(*args), 5)


async def command_names(port: int) -> set[str]:
    return {name.decode().upper() for name in await run(port, ["COMMAND", "LIST"])}


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_every_redis_command_shown_runs_without_an_error_reply(debug_redis, document):
    _, port = debug_redis
    await run(port, ["FLUSHALL"])  # a fresh server for each document
    errors = []
    for number, args in commands(document, await command_names(port)):
        try:
            await run(port, args)
        except ReplyError as exc:
            errors.append(f"{document}:{number}: {shlex.join(args)} -> {exc.message}")
    assert not errors, "\n".join(errors)


async def test_the_extraction_finds_the_commands_it_should_and_sees_error_replies(debug_redis):
    _, port = debug_redis
    names = await command_names(port)
    shown = {shlex.join(args) for document in DOCUMENTS for _, args in commands(document, names)}
    for expected in ["XPENDING orders billing IDLE 1000 - + 10",  # streams.py (was wrong: item 17)
                     "CONFIG SET client-output-buffer-limit 'pubsub 64kb 32kb 2'",  # slow_subscriber.py
                     "PSUBSCRIBE 'orders.*'",  # subscriber.py
                     "XREADGROUP GROUP billing c1 COUNT 10 BLOCK 500 STREAMS orders '>'",  # README, inline
                     "SET 'processed:<id>' 1 NX EX 86400"]:  # README, an exercise
        assert expected in shown, sorted(shown)
    assert len(shown) >= 20
    # The form streams.py used to show: a real Redis rejects it, and this test would say so.
    await run(port, ["XGROUP", "CREATE", "orders", "billing", "0", "MKSTREAM"])
    with pytest.raises(ReplyError, match="not an integer or out of range"):
        await run(port, shlex.split("XPENDING orders - + 10 IDLE 1000"))
