"""The testing recipe of docs/testing.md, run as written: ``pytest`` in the recipe's own folder
(docs/examples/testing: a user's DAGs, conftest and tests), in a fresh process with none of this
repository's Airflow settings, as a user's project would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "testing"

pytestmark = pytest.mark.timeout(600)


def test_the_recipe_passes_as_written() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],  # no cache files in the repo
        cwd=RECIPE,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert "4 passed" in out, out[-3000:]
