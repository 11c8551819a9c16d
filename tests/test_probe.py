"""scripts/probe_hostile.py: its strict classification, and a few real cases end to end."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import probe_hostile as probe  # noqa: E402

CASE = probe.Case("c", "test", lambda t: [], ("data.npz", "optim.lr"))


@pytest.mark.parametrize(
    ("rc", "err", "expected"),
    [
        (None, "", "hang"),
        (-6, "terminate called after throwing an instance of 'std::bad_alloc'", "crash"),
        (2, "pymg prepare: error: MemoryError:  (run with --debug for the traceback)", "crash"),
        (0, "", "silent wrong"),
        (2, "pymg train: error: total_iters must be >= 1, got -12", "unclear error"),
        (2, "pymg x: error: KeyError: 'a' (run with --debug for the traceback)", "unclear error"),
        (2, "pymg x: error: IndexError in data.npz", "unclear error"),
        (1, "Traceback (most recent call last):\n  ...\nValueError: data.npz", "unclear error"),
        (3, "PROBE-ERROR\tbuiltins.RecursionError\tdata.npz too deep", "unclear error"),
        (3, "PROBE-ERROR\tbuiltins.ValueError\tdata.npz: bad header", "clear error"),
        (2, "pymg train: error: optim.lr must be finite, got nan", "clear error"),
    ],
)
def test_classification_is_strict(rc: int | None, err: str, expected: str, tmp_path: Path) -> None:
    kind, _ = probe.classify(CASE, probe.Result(rc, "", err, 1.0), tmp_path)
    assert kind == expected


def test_success_is_correct_only_when_checked(tmp_path: Path) -> None:
    checked = probe.Case("c", "t", lambda t: [], ("x",), ok=lambda r, t: r.out == "exact\n")
    assert probe.classify(checked, probe.Result(0, "exact\n", "", 1), tmp_path)[0] == "correct"
    assert probe.classify(checked, probe.Result(0, "last 1", "", 1), tmp_path)[0] == "silent wrong"


def test_every_case_of_the_issue_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    names = [c.name for c in probe.cases()]
    assert len(names) == len(set(names)) >= 40
    assert probe.main(["--list"]) == 0
    assert capsys.readouterr().out.count("\n") == len(names)


def test_probe_runs_real_cases(capsys: pytest.CaptureFixture[str]) -> None:
    only = ["fuse-labels-disagree", "fuse-text-file", "prepare-out-is-a-directory"]
    assert probe.main(["--only", *only]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == (
        "counts: correct 0, clear error 3, unclear error 0, silent wrong 0, crash 0, hang 0 (of 3)"
    )
    by_case = {line.split()[2]: line for line in lines[:-1]}
    assert "labels clip 'c2'" in by_case["fuse-labels-disagree"]
    assert "not a pymg score file" in by_case["fuse-text-file"]
    assert "existing directory" in by_case["prepare-out-is-a-directory"]
