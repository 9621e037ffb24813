"""The running compose stack, for the end-to-end checks and the failure drills.

These tests need the whole stack up on a Docker engine: ``make compose-test``
(tools/compose-test.sh) starts the engine, builds the images, runs
``docker-compose up``, then runs this folder with ``WIRELAB_COMPOSE=1``.  Plain
``make test`` does not collect it (tests/conftest.py).  Everything is reached the
way a user reaches it: through the ports published on 127.0.0.1, or with
``docker-compose exec`` inside the compose network (Redis has no published port).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable
from wirelab_common.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
PROJECT = os.environ.get("COMPOSE_PROJECT_NAME", "wirelab")
ENV = {**os.environ, "COMPOSE_PROJECT_NAME": PROJECT}


def compose(*args: str, timeout: float = 120, check: bool = True, env: dict | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """``docker-compose ARGS`` in the repository root, for this project."""
    result = subprocess.run(["docker-compose", *args], cwd=ROOT, env={**ENV, **(env or {})}, input=input,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker-compose {' '.join(args)} -> {result.returncode}\n"
                             f"{result.stderr[-2000:]}")
    return result


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} -> {result.returncode}\n{result.stderr[-2000:]}")
    return result


def containers(service: str) -> list[str]:
    """Names of the service's containers (running or not), in replica order."""
    ids = compose("ps", "-a", "-q", service).stdout.split()
    names = [docker("inspect", "-f", "{{.Name}}", cid).stdout.strip().lstrip("/") for cid in ids]
    return sorted(names)


def state(container: str) -> dict[str, Any]:
    return json.loads(docker("inspect", "-f", "{{json .State}}", container).stdout)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    """``eventually()`` with a slower poll: each look costs a ``docker`` command."""
    return eventually(predicate, timeout, what, interval=every)


def healthy(container: str) -> bool:
    current = state(container)
    health = current.get("Health")
    return current["Running"] and (health is None or health["Status"] == "healthy")


def wait_healthy(service: str, timeout: float = 150) -> None:
    for name in containers(service):
        wait_until(lambda name=name: healthy(name), timeout, f"{name} healthy")


def logs(container: str, since: str | None = None) -> str:
    args = ["logs", *(["--since", since] if since else []), container]
    result = docker(*args)
    return result.stdout + result.stderr


def redis_cli(*args: str) -> str:
    return compose("exec", "-T", "redis", "redis-cli", *args).stdout.strip()


@pytest.fixture(scope="session", autouse=True)
def stack() -> None:
    """The stack must be up (tools/compose-test.sh brings it up); otherwise skip, or fail in CI."""
    try:
        running = compose("ps", "-q", timeout=30, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        unavailable(f"docker-compose unusable ({exc}): run `make compose-test`")
    if running.returncode != 0 or not running.stdout.split():
        unavailable(f"the compose project {PROJECT!r} is not running: run `make compose-test`")
