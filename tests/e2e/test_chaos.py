"""The chaos run at CI size: faults on, a triggerer restart half-way, every result checked."""

from __future__ import annotations

import pytest

from benchmarks.chaos import MUST_BE_ZERO, run

pytestmark = pytest.mark.e2e


def test_chaos_run_loses_nothing_hangs_nothing_leaks_nothing() -> None:
    result = run(jobs=100, seed=3)
    assert result["correct_terminal_states"] == 100, result["examples"]
    assert {k: result[k] for k in MUST_BE_ZERO} == dict.fromkeys(MUST_BE_ZERO, 0), result["examples"]
    assert result["sha256_matches"] == result["downloads_expected"] > 0
    assert sum(result["faults_injected"].values()) > 10  # the faults really happened
