"""Lifecycle: the legacy handshake table, version negotiation, and the modern per-request envelope."""

from __future__ import annotations

import pytest

from learn_mcp.jsonrpc import INVALID_PARAMS, INVALID_REQUEST, UNSUPPORTED_PROTOCOL_VERSION, JsonRpcError
from learn_mcp.lifecycle import (
    LATEST_LEGACY,
    LIFECYCLE,
    Event,
    Lifecycle,
    LifecycleError,
    Phase,
    is_modern,
    level_allows,
    negotiate,
    read_envelope,
)
from wirelab_common.state_table import BadTransition

pytestmark = pytest.mark.pure

ENVELOPE = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}


def test_handshake_goes_new_initializing_operating():
    lifecycle = Lifecycle()
    assert lifecycle.initialize({"protocolVersion": "2025-11-25", "capabilities": {}}) == "2025-11-25"
    assert lifecycle.phase is Phase.INITIALIZING
    lifecycle.fire(Event.INITIALIZED)
    assert lifecycle.phase is Phase.OPERATING


def test_request_before_initialize_is_refused_naming_phase_and_allowed_events():
    with pytest.raises(LifecycleError) as info:
        Lifecycle().fire(Event.REQUEST)
    assert "not initialized" in info.value.message
    assert "in state NEW" in info.value.message and "expected: INITIALIZE, PING, CLOSE" in info.value.message
    # the table's refusal, carried to the wire as -32600 Invalid Request
    assert info.value.code == INVALID_REQUEST and isinstance(info.value.__cause__, BadTransition)


def test_ping_is_allowed_before_initialize():
    lifecycle = Lifecycle()
    lifecycle.fire(Event.PING)
    assert lifecycle.phase is Phase.NEW


def test_second_initialize_is_refused():
    lifecycle = Lifecycle()
    lifecycle.initialize({"protocolVersion": "2025-11-25"})
    with pytest.raises(LifecycleError):
        lifecycle.initialize({"protocolVersion": "2025-11-25"})


def test_nothing_is_allowed_after_close():
    lifecycle = Lifecycle()
    lifecycle.fire(Event.CLOSE)
    assert LIFECYCLE.expected(Phase.CLOSED) == []
    with pytest.raises(LifecycleError):
        lifecycle.fire(Event.PING)


def test_unsupported_initialize_version_gets_a_counter_offer_not_an_error():
    assert negotiate("2024-11-05") == LATEST_LEGACY
    assert negotiate("2025-06-18") == "2025-06-18"
    assert negotiate(None) == LATEST_LEGACY


def test_initialize_without_version_is_invalid_params():
    with pytest.raises(JsonRpcError) as info:
        Lifecycle().initialize({})
    assert info.value.code == INVALID_PARAMS


def test_modern_envelope_is_read_from_meta():
    params = {"_meta": {**ENVELOPE, "io.modelcontextprotocol/logLevel": "info"}}
    assert is_modern(params)
    envelope = read_envelope(params)
    assert envelope.protocol_version == "2026-07-28" and envelope.log_level == "info"


def test_unsupported_modern_version_is_minus_32022_with_supported_list():
    with pytest.raises(JsonRpcError) as info:
        read_envelope({"_meta": {**ENVELOPE, "io.modelcontextprotocol/protocolVersion": "1900-01-01"}})
    assert info.value.code == UNSUPPORTED_PROTOCOL_VERSION
    assert info.value.data["requested"] == "1900-01-01"
    assert "2026-07-28" in info.value.data["supported"] and "2025-11-25" in info.value.data["supported"]


@pytest.mark.parametrize("meta", [None, {}, {"io.modelcontextprotocol/protocolVersion": "2026-07-28"},
                                  {**ENVELOPE, "io.modelcontextprotocol/protocolVersion": 2026},
                                  {**ENVELOPE, "io.modelcontextprotocol/logLevel": "loud"}])
def test_incomplete_envelope_is_invalid_params(meta):
    with pytest.raises(JsonRpcError) as info:
        read_envelope({} if meta is None else {"_meta": meta})
    assert info.value.code == INVALID_PARAMS


def test_log_level_threshold():
    assert level_allows("info", "error") and level_allows("info", "info")
    assert not level_allows("warning", "info")
    assert not level_allows(None, "emergency")
