"""The trace rides on the standard logging module: same lines, records a program can route."""

from __future__ import annotations

import io
import logging

from wirelab_common.wiretrace import Trace, include_library_logs


def test_the_lines_are_the_same_as_ever(capsys):
    trace = Trace("alice", verbose=True)
    trace.sent("TEXT 'hi'", ["81 02 68 69"])
    trace.received("TEXT 'hello'")
    trace.state("OPEN -> CLOSING")
    Trace().note("the server restarts now")
    assert capsys.readouterr().out == (
        "> alice    TEXT 'hi'\n"
        "      81 02 68 69\n"
        "< alice    TEXT 'hello'\n"
        "= alice    OPEN -> CLOSING\n"
        "# the server restarts now\n"
    )


def test_detail_lines_only_with_verbose_and_nothing_but_always_when_quiet():
    out = io.StringIO()
    Trace("bob", stream=out).sent("PING", ["89 00"])
    quiet = Trace("s1", stream=out, quiet=True)
    quiet.state("a state change")
    quiet.state("listening on http://127.0.0.1:1", always=True)
    assert out.getvalue() == "> bob      PING\n= s1       listening on http://127.0.0.1:1\n"


def test_a_test_or_a_program_reads_the_records_with_logging(caplog):
    with caplog.at_level(logging.INFO, logger="wirelab"):
        Trace("carol").received("TEXT 'x'")
    record = next(r for r in caplog.records if r.name == "wirelab.carol")
    assert (record.mark, record.actor, record.getMessage()) == ("<", "carol", "TEXT 'x'")


def test_a_librarys_warnings_join_the_trace(capsys):
    include_library_logs("wirelab-test-library")
    logging.getLogger("wirelab-test-library").warning("connection reset by peer")
    logging.getLogger("wirelab-test-library").info("not shown below WARNING")
    Trace("s1").state("still serving")
    expected = "! wirelab-test-library: connection reset by peer\n= s1       still serving\n"
    assert capsys.readouterr().out == expected
