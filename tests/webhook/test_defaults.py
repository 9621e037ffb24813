"""Every default is defined once: the command lines, the settings and the classes agree.

The provider's and receiver's ``--help`` show the same numbers as the constants,
because their argparse defaults *are* those constants; these tests keep it so.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from learn_webhook import provider, receiver
from learn_webhook.direct_route import DEFAULT_ROUTE
from learn_webhook.dispatcher import DEFAULT_CONCURRENCY, DEFAULT_HTTP_CLIENT, DEFAULT_TIMEOUT, Dispatcher
from learn_webhook.group_commit import DEFAULT_MAX_BATCH, GroupCommit
from learn_webhook.provider_app import DEFAULT_ROTATION_GRACE, Settings
from learn_webhook.receiver_app import DEFAULT_FAIL_STATUS, FailSwitch, ReceiverSettings
from learn_webhook.retry_schedule import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_MAX_ATTEMPTS,
    RetryPolicy,
)
from learn_webhook.signatures import DEFAULT_TOLERANCE, check_timestamp, verify_standard

pytestmark = pytest.mark.pure

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def default(function, name: str):
    return inspect.signature(function).parameters[name].default


def test_the_provider_command_line_defaults_are_the_module_constants():
    args = provider.parse_args([])
    assert (args.max_attempts, args.backoff_base, args.backoff_cap) == (
        DEFAULT_MAX_ATTEMPTS, DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_CAP)
    assert RetryPolicy() == RetryPolicy(args.max_attempts, args.backoff_base, args.backoff_cap)
    assert args.rotation_grace == DEFAULT_ROTATION_GRACE == Settings(Path(".")).rotation_grace
    assert args.timeout == DEFAULT_TIMEOUT == Settings(Path(".")).timeout == default(Dispatcher, "timeout")
    assert args.concurrency == DEFAULT_CONCURRENCY == Settings(Path(".")).concurrency
    assert DEFAULT_CONCURRENCY == default(Dispatcher, "concurrency")
    assert args.http_client == DEFAULT_HTTP_CLIENT == Settings(Path(".")).http_client == default(
        Dispatcher, "http_client")
    assert args.group_commit == DEFAULT_MAX_BATCH == Settings(Path(".")).group_commit == default(
        GroupCommit, "max_batch")
    assert args.route == DEFAULT_ROUTE and args.per_endpoint is None is Settings(Path(".")).per_endpoint


def test_the_receiver_command_line_defaults_are_the_module_constants():
    args = receiver.parse_args(["--secret", SECRET])
    assert args.tolerance == DEFAULT_TOLERANCE == ReceiverSettings(Path(".")).tolerance
    assert DEFAULT_TOLERANCE == default(verify_standard, "tolerance") == default(check_timestamp, "tolerance")
    assert args.fail_status == DEFAULT_FAIL_STATUS == ReceiverSettings(Path(".")).fail_status
    assert FailSwitch().status == DEFAULT_FAIL_STATUS
    assert args.group_commit == DEFAULT_MAX_BATCH == ReceiverSettings(Path(".")).group_commit
    assert args.route == DEFAULT_ROUTE


def test_help_shows_the_defaults_it_uses(capsys):
    for module, argv in ((provider, ["--help"]), (receiver, ["--help"])):
        try:
            module.parse_args(argv)
        except SystemExit:
            pass
    shown = " ".join(capsys.readouterr().out.split())
    for value in (DEFAULT_MAX_ATTEMPTS, DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_CAP, DEFAULT_TIMEOUT,
                  DEFAULT_CONCURRENCY, DEFAULT_ROTATION_GRACE, DEFAULT_TOLERANCE, DEFAULT_FAIL_STATUS,
                  DEFAULT_HTTP_CLIENT, DEFAULT_MAX_BATCH, DEFAULT_ROUTE):
        assert f"(default {value})" in shown
