"""The documentation's example DAGs (docs/examples/dags) run green under `airflow dags test`
against the simulator, so that the snippets the pages include from them cannot drift."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.e2e.conftest import ROOT, AirflowEnv

pytestmark = pytest.mark.e2e

DOCS_DAGS = ROOT / "docs" / "examples" / "dags"


def test_docs_example_dags_import_without_errors(airflow_env: AirflowEnv) -> None:
    listed = airflow_env.run("dags", "list", "--local", "-o", "json", dags_folder=DOCS_DAGS, timeout=180)
    assert listed.returncode == 0, listed.stderr[-2000:]
    dags = {d["dag_id"] for d in json.loads(listed.stdout.strip().splitlines()[-1])}
    assert dags == {"docs_run_and_download", "docs_start_then_wait", "docs_batch"}


def test_run_and_download(airflow_env: AirflowEnv, jobstatus_simulator: Simulator, tmp_path: Path) -> None:
    result = airflow_env.dags_test("docs_run_and_download", DOCS_DAGS, {"output_root": str(tmp_path)})
    assert result.proc.returncode == 0, result.log[-4000:]
    assert result.states == {"run": "success", "get": "success"}, result.states
    (folder,) = (tmp_path / "pdfco").iterdir()
    assert [p.name for p in folder.iterdir()]  # the result, under its own name
    with sqlite3.connect(airflow_env.home / "airflow.db") as db:
        rows = db.execute(
            "SELECT key, value FROM xcom WHERE dag_id = 'docs_run_and_download' AND task_id = 'run'"
        ).fetchall()
    # the job's page link was computed (empty: PDF.co has no page for a job), not an error
    assert {"job_id", "return_value", "_link_JobAtVendorLink"} <= {key for key, _ in rows}, rows


def test_start_then_wait(airflow_env: AirflowEnv, jobstatus_simulator: Simulator) -> None:
    # the sensor's documented poke_interval is 30 s: a job done at once ends it on its first check
    jobstatus_simulator.plan_starts("pdfco", {"outcome": "succeeded", "polls": 0})
    result = airflow_env.dags_test("docs_start_then_wait", DOCS_DAGS)
    assert result.proc.returncode == 0, result.log[-4000:]
    assert result.states == {"start": "success", "wait": "success"}, result.states


def test_batch(airflow_env: AirflowEnv, jobstatus_simulator: Simulator) -> None:
    batch = jobstatus_simulator.create_batch(jobs=150)
    result = airflow_env.dags_test("docs_batch", DOCS_DAGS, {"batch_id": batch["batch_id"]})
    assert result.proc.returncode == 0, result.log[-4000:]
    assert result.states == {"jobs": "success"}, result.states
