"""The ACME objects' lives: state machines of RFC 8555 §7.1.6, as tables.

Every resource the CA keeps has a ``status``, and RFC 8555 §7.1.6 draws how
each one moves.  The tables below are those drawings; the CA (``ca.py``)
moves its objects only through them, so an order can never become ``valid``
without passing ``ready`` and ``processing``.

ACCOUNT::

    valid --deactivate--> deactivated
    valid --revoke-->     revoked

ORDER (it waits on its authorizations, then on the CSR)::

    pending    --authorized-->   ready
    pending    --authz_failed--> invalid
    pending    --expire-->       invalid
    ready      --finalize-->     processing
    ready      --expire-->       invalid
    processing --issued-->       valid
    processing --issue_failed--> invalid

AUTHORIZATION (one per identifier)::

    pending --challenge_valid-->   valid
    pending --challenge_invalid--> invalid
    pending --expire-->            expired
    pending --deactivate-->        deactivated
    pending --revoke-->            revoked
    valid   --expire-->            expired
    valid   --deactivate-->        deactivated
    valid   --revoke-->            revoked

CHALLENGE (the client says "ready", the CA looks)::

    pending    --respond--> processing
    processing --retry-->   processing
    processing --pass-->    valid
    processing --fail-->    invalid

Pure: tables and one helper.
"""

from __future__ import annotations

from wirelab_common.state_table import StateTable

ACCOUNT = StateTable(
    "account",
    {
        ("valid", "deactivate"): "deactivated",
        ("valid", "revoke"): "revoked",
    },
)

ORDER = StateTable(
    "order",
    {
        ("pending", "authorized"): "ready",
        ("pending", "authz_failed"): "invalid",
        ("pending", "expire"): "invalid",
        ("ready", "finalize"): "processing",
        ("ready", "expire"): "invalid",
        ("processing", "issued"): "valid",
        ("processing", "issue_failed"): "invalid",
    },
)

AUTHORIZATION = StateTable(
    "authorization",
    {
        ("pending", "challenge_valid"): "valid",
        ("pending", "challenge_invalid"): "invalid",
        ("pending", "expire"): "expired",
        ("pending", "deactivate"): "deactivated",
        ("pending", "revoke"): "revoked",
        ("valid", "expire"): "expired",
        ("valid", "deactivate"): "deactivated",
        ("valid", "revoke"): "revoked",
    },
)

CHALLENGE = StateTable(
    "challenge",
    {
        ("pending", "respond"): "processing",
        ("processing", "retry"): "processing",
        ("processing", "pass"): "valid",
        ("processing", "fail"): "invalid",
    },
)


def order_event(authorization_states: list[str]) -> str | None:
    """What an order's authorizations say to it (§7.1.6): all valid -> ready, any failed -> invalid."""
    if any(s in ("invalid", "expired", "deactivated", "revoked") for s in authorization_states):
        return "authz_failed"
    if authorization_states and all(s == "valid" for s in authorization_states):
        return "authorized"
    return None
