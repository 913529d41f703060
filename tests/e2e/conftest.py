"""Real Airflow against the simulator: an AIRFLOW_HOME with a SQLite database made once per
session, and helpers that run `airflow dags test` under `timeout -s KILL` (it enforces no defer
timeout of its own) and read task states back from the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import newest_run_task_states

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
E2E_DAGS = Path(__file__).resolve().parent / "dags"
EXAMPLE_DAGS = ROOT / "example_dags"


@dataclass
class AirflowEnv:
    home: Path
    base: dict[str, str]

    def env(self, dags_folder: Path, **extra: str) -> dict[str, str]:
        return {**self.base, "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder), **extra}

    def run(
        self, *args: str, dags_folder: Path, timeout: int = 300, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["timeout", "-s", "KILL", str(timeout), str(BIN / "airflow"), *args]
        return subprocess.run(
            cmd, env=self.env(dags_folder, **extra), capture_output=True, text=True, check=False
        )

    def dags_test(self, dag_id: str, dags_folder: Path, conf: dict[str, str] | None = None) -> DagRunResult:
        args = ["dags", "test", dag_id]
        if conf:
            args += ["-c", json.dumps(conf)]
        proc = self.run(*args, dags_folder=dags_folder)
        return DagRunResult(proc, self.task_states(dag_id))

    def task_states(self, dag_id: str) -> dict[str, str]:
        """Task states of the newest run of ``dag_id``."""
        return newest_run_task_states(self.home / "airflow.db", dag_id)


@dataclass
class DagRunResult:
    proc: subprocess.CompletedProcess[str]
    states: dict[str, str]

    @property
    def log(self) -> str:
        return self.proc.stdout + self.proc.stderr


@pytest.fixture(scope="session")
def airflow_env(
    jobstatus_simulator: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowEnv]:
    home = tmp_path_factory.mktemp("airflow_home")
    base = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        **connection_env(jobstatus_simulator),
    }
    env = AirflowEnv(home, base)
    migrated = env.run("db", "migrate", dags_folder=E2E_DAGS, timeout=180)
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    yield env


@pytest.fixture(autouse=True)
def clean_simulator(jobstatus_simulator: Simulator) -> None:
    """The session's simulator as a DAG run expects it: no faults, no queued start plans, whatever
    an earlier test in this process (``pytest -n``: an integration test, say) left behind."""
    jobstatus_simulator.clear_faults()
    jobstatus_simulator.state.starts.reset()
