"""The MCP Inspector CLI (npm @modelcontextprotocol/inspector@0.15.0, the newest that runs on Node 20).

Its ``--cli`` mode connects with the TypeScript SDK of mid-2025, which offers protocol
2025-06-18 in ``initialize``: our server accepts it (lifecycle.LEGACY_VERSIONS).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.differential, pytest.mark.slow, pytest.mark.timeout(180)]


def inspect(inspector_bin, target: list[str], *args: str) -> dict:
    done = subprocess.run([str(inspector_bin), "--cli", *target, *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


STDIO_TARGET = [sys.executable, "-m", "learn_mcp.server", "--transport", "stdio"]


@pytest.fixture(scope="module")
def http_target(wire):
    proc, url = wire.start_http_server()
    with proc:
        yield [url]


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_inspector_lists_tools(inspector_bin, http_target, transport):
    target = http_target if transport == "http" else STDIO_TARGET
    tools = inspect(inspector_bin, target, "--method", "tools/list")["tools"]
    listed = {t["name"]: t for t in tools}
    assert listed["calculate"]["annotations"]["readOnlyHint"] is True
    assert listed["delete_note"]["annotations"]["destructiveHint"] is True


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_inspector_calls_a_tool(inspector_bin, http_target, transport):
    target = http_target if transport == "http" else STDIO_TARGET
    result = inspect(inspector_bin, target, "--method", "tools/call", "--tool-name", "calculate",
                     "--tool-arg", "expression=(1+2)*14")
    assert result["structuredContent"] == {"value": 42} and result["isError"] is False


def test_inspector_reads_a_resource(inspector_bin, http_target):
    read = inspect(inspector_bin, http_target, "--method", "resources/read", "--uri", "notes://index")
    assert read["contents"][0]["mimeType"] == "text/markdown"
    assert read["contents"][0]["text"].startswith("# Notes")


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_the_inspector_is_never_asked_what_it_did_not_declare(inspector_bin, http_target, transport):
    """The Inspector CLI declares neither sampling nor elicitation (and has no subscribe, completion or
    listen command): the tools that would ask it fail as tool errors naming the missing capability."""
    target = http_target if transport == "http" else STDIO_TARGET
    asking = [("summarize", "query=buy", "sampling"), ("ask_for_note", "why=test", "elicitation"),
              ("remind", "about=tea", "elicitation")]
    for tool, arg, capability in asking:
        result = inspect(inspector_bin, target, "--method", "tools/call", "--tool-name", tool,
                         "--tool-arg", arg)
        text = result["content"][0]["text"]
        assert result["isError"] is True and capability in text, (tool, text)


def test_inspector_gets_the_prompt_whose_arguments_completion_offers(inspector_bin, http_target):
    prompt = inspect(inspector_bin, http_target, "--method", "prompts/get",
                     "--prompt-name", "summarize_notes", "--prompt-args", "style=bullets", "query=milk")
    assert prompt["messages"][0]["content"]["text"].endswith("in a bullets style.")
