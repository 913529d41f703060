"""A declared job API (connection type ``jobapi``) in a real Airflow 3.3 (scheduler with
LocalExecutor, triggerer, API server, DAG processor) against the simulator: a run operator defers,
succeeds and its results download; a second one times out and its job is canceled."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import LocalAirflow
from tests.e2e.conftest import E2E_DAGS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600, method="thread")]

DAGS = ["e2e_jobapi_run", "e2e_jobapi_timeout"]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("jobapi_out")
    with Simulator() as sim:
        # the first start (e2e_jobapi_run, triggered first) succeeds; the second never ends
        sim.plan_starts(
            "jobapi",
            {"outcome": "succeeded", "polls": 3, "result_bytes": 4096},
            {"outcome": "succeeded", "seconds": 900},
        )
        env = {**connection_env(sim), "AIRFLOW_VAR_E2E_JOBAPI_OUT": str(out)}
        airflow = LocalAirflow(tmp_path_factory.mktemp("airflow_jobapi"), E2E_DAGS, env=env, parallelism=4)
        with airflow:
            airflow.wait_for_dags(DAGS, timeout=240)
            for dag in DAGS:
                airflow.unpause(dag)
            runs = {"e2e_jobapi_run": airflow.trigger("e2e_jobapi_run")}
            deadline = time.monotonic() + 180
            while sim.starts()["created"].get("jobapi", 0) < 1:  # keep the planned order of starts
                assert time.monotonic() < deadline, "the first declared job was never started"
                time.sleep(0.5)
            runs["e2e_jobapi_timeout"] = airflow.trigger("e2e_jobapi_timeout")
            watches = airflow.wait_for_runs(runs, timeout=300)
            run, timeout_run = runs["e2e_jobapi_run"], runs["e2e_jobapi_timeout"]
            yield {
                "sim": sim,
                "watches": watches,
                "starts": sim.starts(),
                "deferrals": airflow.deferrals("e2e_jobapi_run", run),
                "job": airflow.xcom("e2e_jobapi_run", run, "run_jobapi", key="job_id"),
                "written": airflow.xcom("e2e_jobapi_run", run, "download_jobapi"),
                "timed_out_job": airflow.xcom("e2e_jobapi_timeout", timeout_run, "run_jobapi", key="job_id"),
                "out": out,
            }


def test_a_declared_run_defers_succeeds_and_downloads(outcome: dict[str, Any]) -> None:
    sim: Simulator = outcome["sim"]
    watch = outcome["watches"]["e2e_jobapi_run"]
    assert watch.state == "success", {t: r.state for t, r in watch.final.items()}
    assert outcome["deferrals"].get("run_jobapi"), "the wait was in the triggerer"
    (written,) = outcome["written"]
    job = sim.job(outcome["job"])
    assert written["sha256"] == job["sha256"] and written["bytes"] == 4096
    assert Path(written["destination"]).is_file()
    assert sim.requests(include_log=False)["files"]["with_credentials"] == 0


def test_a_declared_run_that_times_out_cancels_its_job(outcome: dict[str, Any]) -> None:
    sim: Simulator = outcome["sim"]
    watch = outcome["watches"]["e2e_jobapi_timeout"]
    assert watch.state == "failed" and watch.final["run_jobapi"].try_number == 1
    assert sim.job(outcome["timed_out_job"])["canceled"] is True
    assert outcome["starts"]["created"]["jobapi"] == 2 and outcome["starts"]["canceled"]["jobapi"] == 1
