"""The differential runner (tests/diff) in CI: every scenario against
CPython's own manager server and against ``mpcluster-manager``, compared
outcome by outcome. Zero differences (beyond the documented
``EXPECTED_DIFFERENCES``) is the bar; on failure the assertion message is the
runner's full report (step, CPython's outcome, ours).

Two more tests keep the runner itself honest: it reports nothing when a
second CPython server stands in for ours (so its normalisation removes only
noise), and its comparison catches a changed outcome, a missing outcome and a
stale expectation.
"""

import sys
from pathlib import Path

import pytest

from conftest import cargo_bin

DIFF_DIR = Path(__file__).resolve().parents[1] / "diff"
sys.path.insert(0, str(DIFF_DIR))

import difftest  # noqa: E402
from expected import Expected  # noqa: E402


def test_no_differences_against_cpython():
    report = difftest.run(ours_binary=cargo_bin("mpcluster-manager"))
    assert report.steps >= 150
    if report.ok:
        print(report.text())  # expected differences and timing, shown with -rP
    else:
        pytest.fail("mpcluster differs from CPython's manager server:\n" + report.text(), pytrace=False)


def test_runner_is_quiet_between_two_cpython_servers():
    """Normalisation removes ids, addresses and set order and nothing else:
    two CPython servers must compare equal on id-heavy scenarios."""
    names = ["control", "list-basic", "dict-iter", "raw-control"]
    report = difftest.run(names=names, ours_cpython=True)
    assert report.ok, report.text()
    assert report.steps == sum(len(difftest.scenarios.SCENARIOS[n]) for n in names)


def _run(outcomes):
    records = [{"scenario": "s", "index": i, "code": c, "outcome": o} for i, (c, o) in enumerate(outcomes)]
    return difftest.ClientRun(records, 0, "", 0.0)


def test_compare_reports_differences_expectations_and_gaps(monkeypatch):
    steps = ["a", "b", "c", "d"]
    monkeypatch.setitem(difftest.scenarios.SCENARIOS, "s", steps)
    cpython = _run([("a", "= 1"), ("b", "= 2"), ("c", "! builtins.KeyError: 'x'"), ("d", "= 4")])
    ours = _run([("a", "= 1"), ("b", "= 3"), ("c", "= None")])
    expected = {
        ("s", "c"): Expected("documented policy", "= None"),
        ("s", "a"): Expected("no longer differs", "= 9"),
    }
    report = difftest.compare(["s"], cpython, ours, expected)
    assert [(d[2], d[3], d[4]) for d in report.differences] == [
        ("b", "= 2", "= 3"),
        ("d", "= 4", "<no outcome: client stopped>"),
    ]
    assert [e[2] for e in report.expected] == ["c"]
    assert [s[1] for s in report.stale] == ["a"]
    assert not report.ok
    text = report.text()
    assert "[s #1] b" in text and "cpython: = 2" in text and "ours:    = 3" in text

    # An expectation matches only the exact outcome it documents.
    report = difftest.compare(["s"], cpython, _run([("a", "= 1"), ("b", "= 2"), ("c", "= 0"), ("d", "= 4")]),
                              expected)
    assert [d[2] for d in report.differences] == ["c"]


def test_compare_flags_a_crashed_client(monkeypatch):
    monkeypatch.setitem(difftest.scenarios.SCENARIOS, "s", ["a"])
    crashed = difftest.ClientRun([{"scenario": "s", "index": 0, "code": "a", "outcome": "= 1"}], 1, "boom", 0.0)
    report = difftest.compare(["s"], _run([("a", "= 1")]), crashed, {})
    assert not report.differences
    assert not report.ok and "boom" in report.problems[0]
