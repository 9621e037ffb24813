"""bench/summary.py: its list of expected rows is bench/README.md's targets table, line for line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from wirelab_common.bench_report import report

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_summary", ROOT / "bench" / "summary.py")
assert spec and spec.loader
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)


def test_the_expected_rows_are_keyed_by_the_lines_of_the_targets_table_one_for_one():
    lines = summary.readme_lines(ROOT / "bench" / "README.md")
    assert len(lines) == len(summary.EXPECTED)
    assert summary.disagreements(lines) == []


def test_a_line_without_a_key_or_a_key_without_a_line_is_named():
    lines = [*summary.readme_lines(ROOT / "bench" / "README.md"), "telepathy: thoughts/s"]
    lines.remove(next(line for line in lines if line.startswith("tunnel:")))
    assert summary.disagreements(lines) == [
        "the line 'telepathy: thoughts/s' of bench/README.md matches 0 keys of EXPECTED",
        "no line of bench/README.md starts with 'tunnel: requests/s'"]


def test_the_readme_has_the_markers_the_summary_rewrites():
    text = (ROOT / "bench" / "README.md").read_text()
    assert text.index(summary.BEGIN) < text.index(summary.END)


def test_a_run_with_a_crash_lists_what_was_not_measured_and_exits_1(tmp_path, monkeypatch, capsys):
    results = str(tmp_path / "results.jsonl")
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "bench" / "README.md").read_text())
    summary.main(["begin", results])
    monkeypatch.setenv("WIRELAB_BENCH_RESULTS", results)
    report("sse", "1,000 subscribers x 100 events", 0.9, 1.0, anchor="Starlette")
    report("webhook", "end to end, fast", 1200, 1000, unit="/s")
    report("unix_socket", "round trips, 32 B", 1.5, None)
    summary.main(["crashed", results, "dns"])
    assert summary.main(["end", results, "--readme", str(readme)]) == 1
    printed = capsys.readouterr().out
    assert "| sse | 1,000 subscribers x 100 events | Starlette | 0.90x | >= 1.00x | missed |" in printed
    assert "| webhook | end to end, fast | - | 1,200 /s | >= 1,000 /s | met |" in printed
    assert "| unix_socket | round trips, 32 B | - | 1.50x | report | reported |" in printed
    assert "| dns | resolver, hot cache | - | - | >= 1.00x | not measured (crashed) |" in printed
    assert "| queue | fast worker vs arq, 1 worker | - | - | >= 2.00x | not measured |" in printed
    section = readme.read_text().split(summary.BEGIN)[1].split(summary.END)[0]
    assert "1 met, 1 missed, 1 reported without a target; crashed: bench-dns." in section
    assert printed.strip() in section


def test_without_a_crash_the_exit_status_is_0_even_when_targets_are_missed(tmp_path, monkeypatch):
    results = str(tmp_path / "results.jsonl")
    summary.main(["begin", results])
    monkeypatch.setenv("WIRELAB_BENCH_RESULTS", results)
    report("tunnel", "requests/s through the tunnel", 0.1, 0.5)
    assert summary.main(["end", results, "--no-write"]) == 0


def test_a_row_missing_from_the_list_is_shown_and_named(tmp_path, monkeypatch, capsys):
    results = str(tmp_path / "results.jsonl")
    summary.main(["begin", results])
    monkeypatch.setenv("WIRELAB_BENCH_RESULTS", results)
    report("tunnel", "a row nobody listed", 2.0, 1.0)
    summary.main(["end", results, "--no-write"])
    printed = capsys.readouterr().out
    assert "| tunnel | a row nobody listed | - | 2.00x | >= 1.00x | met |" in printed
    assert "'a row nobody listed' is not a row of bench/summary.py's EXPECTED list" in printed
