"""The OpenAI-compatible planner against the sse pattern's /v1/chat/completions endpoint,
a real server on 127.0.0.1 (its fixed-rule "model" answers with text, never tool calls)."""

from __future__ import annotations

import sys

import pytest

from learn_mcp.host.client import ToolInfo
from learn_mcp.host.planner import Finish, OpenAICompatiblePlanner, ToolCall, Turn
from wirelab_common.processes import start_server

pytestmark = pytest.mark.loopback

TOOLS = [
    ToolInfo("calculate", "Evaluate arithmetic.",
             {"type": "object", "properties": {"expression": {"type": "string"}}}, {"readOnlyHint": True}),
]


async def test_the_sse_patterns_endpoint_answers_with_text_so_the_planner_finishes():
    """The fixed-rule 'model' of learn_sse ignores tools: a text answer is a Finish."""
    argv = [sys.executable, "-m", "learn_sse.server", "--port", "0", "--tick", "0", "--token-delay", "0"]
    with start_server(argv, name="sse") as server:
        planner = OpenAICompatiblePlanner(server.url)
        try:
            decision = await planner.decide("compute 2*(3+4)", TOOLS, [
                Turn(ToolCall("calculate", {"expression": "1"}), "ok", {"value": 1})])
        finally:
            await planner.close()
    assert isinstance(decision, Finish) and "fixed-rule reply" in decision.answer
