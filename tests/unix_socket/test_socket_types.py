"""The three socket types on a path and at an abstract address: boundaries, files, end-of-file."""

from __future__ import annotations

import os

import pytest

from learn_unix_socket.socket_types import all_examples, run_example

pytestmark = pytest.mark.loopback


@pytest.mark.parametrize("where", ["path", "abstract"])
def test_a_stream_loses_the_boundaries_between_sends(tmp_path, where):
    address = str(tmp_path / "s") if where == "path" else f"\0wirelab-test-{os.getpid()}".encode()
    outcome = run_example("stream", address)
    assert outcome.reads == (b"onetwo",)
    assert outcome.eof_on_close is True


@pytest.mark.parametrize("kind", ["dgram", "seqpacket"])
def test_datagrams_and_seqpackets_keep_them(tmp_path, kind):
    assert run_example(kind, str(tmp_path / kind)).reads == (b"one", b"two")


def test_a_short_read_of_a_datagram_loses_the_rest(tmp_path):
    assert run_example("dgram", str(tmp_path / "d")).truncated is True


def test_seqpacket_has_a_connection_and_dgram_has_none(tmp_path):
    assert run_example("seqpacket", str(tmp_path / "q")).eof_on_close is True
    assert run_example("dgram", str(tmp_path / "d")).eof_on_close is None


def test_a_path_makes_a_file_and_an_abstract_address_does_not(tmp_path):
    outcomes = all_examples(str(tmp_path))
    assert len(outcomes) == 6
    for outcome in outcomes:
        assert outcome.file_appeared == (not outcome.address.startswith("@")), outcome
    assert os.listdir(tmp_path) == []  # every example unlinked its file
