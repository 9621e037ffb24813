"""The bench results file: one JSON line per reported row, nothing when the variable is unset."""

from __future__ import annotations

import json

import pytest

from wirelab_common import bench_report
from wirelab_common.bench_report import read, report, verdict


def test_without_the_variable_report_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(bench_report.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    report("dns", "resolver, hot cache", 0.9, 1.0)
    assert list(tmp_path.iterdir()) == []


def test_each_call_appends_one_json_line_with_every_field(tmp_path, monkeypatch):
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(bench_report.ENV, str(results))
    report("dns", "resolver, hot cache", 0.93, 1.0, anchor="unbound 1.17")
    report("mini_git", "status", 4.8, 5, better="lower")
    report("webrtc", "data channel throughput", 10.1, None, unit="MiB/s")
    lines = results.read_text().splitlines()
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert set(first) == {"pattern", "row", "value", "target", "better", "unit", "anchor", "time"}
    assert first["pattern"] == "dns" and first["row"] == "resolver, hot cache"
    assert (first["value"], first["target"], first["better"]) == (0.93, 1.0, "higher")
    assert (first["unit"], first["anchor"]) == ("x", "unbound 1.17")
    assert isinstance(first["time"], float)
    assert (second["target"], second["better"]) == (5.0, "lower")
    assert (third["target"], third["unit"]) == (None, "MiB/s")
    assert read(str(results)) == [first, second, third]


def test_a_value_that_is_not_finite_is_written_as_null(tmp_path, monkeypatch):
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(bench_report.ENV, str(results))
    report("tunnel", "requests/s through the tunnel", float("nan"), 0.5)
    assert json.loads(results.read_text())["value"] is None


def test_better_must_be_higher_or_lower(tmp_path, monkeypatch):
    monkeypatch.setenv(bench_report.ENV, str(tmp_path / "r.jsonl"))
    with pytest.raises(ValueError):
        report("dns", "x", 1.0, 1.0, better="more")


@pytest.mark.parametrize(
    ("value", "target", "better", "expected"),
    [
        (1.0, 1.0, "higher", "met"),
        (0.99, 1.0, "higher", "missed"),
        (1.5, 1.5, "lower", "met"),
        (1.6, 1.5, "lower", "missed"),
        (3.0, None, "higher", "reported"),
        (None, 1.0, "higher", "missed"),
    ],
)
def test_the_verdict(value, target, better, expected):
    assert verdict(value, target, better) == expected


def test_reading_a_missing_file_gives_no_rows(tmp_path):
    assert read(str(tmp_path / "absent.jsonl")) == []
