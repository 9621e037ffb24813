"""The 2026-07-28 headers that mirror the body, checked by the server without I/O."""

from __future__ import annotations

import base64

import pytest

from learn_mcp.http_headers import check_headers, decode_header
from learn_mcp.jsonrpc import HEADER_MISMATCH, JsonRpcError, Request

pytestmark = pytest.mark.pure

META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}
CALL = Request(1, "tools/call", {"name": "añadir", "arguments": {}, "_meta": META})
GOOD = {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call",
        "mcp-name": "=?base64?" + base64.b64encode("añadir".encode()).decode() + "?="}


def test_matching_headers_pass_and_a_base64_name_is_decoded():
    check_headers(GOOD, CALL)
    assert decode_header("calculate") == "calculate"
    assert decode_header("=?base64?!!!?=") is None


@pytest.mark.parametrize("header", ["mcp-protocol-version", "mcp-method", "mcp-name"])
def test_each_header_that_disagrees_with_the_body_is_named_in_minus_32020(header):
    with pytest.raises(JsonRpcError) as refused:
        check_headers({**GOOD, header: "other"}, CALL)
    assert refused.value.code == HEADER_MISMATCH
    assert refused.value.message.count("does not match") == 1


def test_a_method_without_a_name_field_needs_no_mcp_name():
    check_headers({"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"},
                  Request(2, "tools/list", {"_meta": META}))
