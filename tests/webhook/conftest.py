"""Fixtures for the webhook tests: receiver processes on free ports, and signed deliveries.

The shared ``procs`` fixture lives in ``tests/conftest.py``; these build on it.
(pytest runs with ``--import-mode=importlib``, so helpers are shared as fixtures.)

``start_receiver(*args, secrets=..., data_dir=..., port=...)`` starts
``python -m learn_webhook.receiver`` and returns a :class:`ReceiverProcess`;
calling it again with the same ``data_dir`` restarts "the same" receiver (same
inbox).  ``receiver`` is one started with the default secret.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from learn_webhook.signatures import standard_headers
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess

READY = r"listening on http://"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's example secret


@dataclass
class ReceiverProcess:
    proc: ManagedProcess
    port: int
    data_dir: Path
    secrets: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The webhook endpoint, as a provider would be configured with it."""
        return f"http://127.0.0.1:{self.port}/webhook"

    @property
    def secret(self) -> str:
        return self.secrets[0]

    def base(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def deliver(self, payload: object = None, *, msg_id: str = "msg_1", body: bytes | None = None,
                timestamp: int | None = None, secrets: Sequence[str] | None = None,
                headers: dict[str, str] | None = None) -> httpx.Response:
        """POST a Standard Webhooks delivery signed with our signer (``headers`` override)."""
        if body is None:
            body = json.dumps(payload if payload is not None else {"type": "test.event", "data": {}}).encode()
        when = int(time.time()) if timestamp is None else timestamp
        signed = standard_headers(list(secrets or self.secrets), msg_id, when, body)
        all_headers = {"content-type": "application/json", **signed, **(headers or {})}
        return httpx.post(self.url, content=body, headers=all_headers, timeout=5)

    def received(self) -> dict:
        return httpx.get(self.base("/received"), timeout=5).json()

    def wait_processed(self, count: int, timeout: float = 10.0) -> dict:
        """Poll /received until ``count`` events are processed; returns that state."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.received()
            if state["counts"]["processed"] >= count:
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} processed events within {timeout} s wanted, got {state}")
            time.sleep(0.05)


@pytest.fixture
def start_receiver(procs, tmp_path) -> Callable[..., ReceiverProcess]:
    def start(*args: str, secrets: Sequence[str] = (SECRET,), data_dir: Path | None = None,
              port: int | None = None) -> ReceiverProcess:
        port = port or free_port()
        data_dir = data_dir or tmp_path / "receiver"
        secret_args = [arg for secret in secrets for arg in ("--secret", secret)]
        proc = procs.python("learn_webhook.receiver", "--port", str(port), "--data-dir", str(data_dir),
                            *secret_args, *args, name=f"receiver:{port}", ready_line=READY)
        return ReceiverProcess(proc, port, data_dir, list(secrets))

    return start


@pytest.fixture
def receiver(start_receiver) -> ReceiverProcess:
    """A receiver with the spec's example secret, a fresh inbox, on a free port."""
    return start_receiver()
