"""The run operators in a real Airflow 3.3 (scheduler with LocalExecutor, triggerer, API server,
DAG processor) against the simulator, all on one Airflow start:

- a first try killed (SIGKILL) while it waits reattaches on its retry: one job created in all;
- a deferred run marked failed cancels its Alteryx job (one cancel) and warns for PDF.co, which
  has no cancel call;
- a run that reaches its timeout cancels its job too.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import LocalAirflow, read_log_events
from tests.e2e.conftest import E2E_DAGS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600, method="thread")]

DAGS = ["e2e_run_reattach", "e2e_run_cancel", "e2e_run_timeout", "e2e_run_end_from_trigger"]


def until(what: str, check: Any, timeout: float = 180.0, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not seen within {timeout:.0f} s: {what}")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with Simulator() as sim:
        # the jobs the DAGs will start, chosen here without touching the DAGs' payloads
        sim.plan_starts("nitro", {"outcome": "succeeded", "seconds": 45})
        sim.plan_starts("alteryx", *[{"outcome": "succeeded", "seconds": 900}] * 3)
        sim.plan_starts("pdfco", {"outcome": "succeeded", "seconds": 900})
        airflow = LocalAirflow(
            tmp_path_factory.mktemp("airflow_run"), E2E_DAGS, env=connection_env(sim), parallelism=4
        )
        with airflow:
            airflow.wait_for_dags(DAGS, timeout=240)
            runs = {dag: airflow.trigger(dag) for dag in DAGS}

            # 1. kill the first try of run_nitro once its job exists
            until("the nitro job created", lambda: sim.starts()["created"]["nitro"] == 1)

            def running_pid() -> int | None:
                (ti,) = airflow.task_instances("e2e_run_reattach", runs["e2e_run_reattach"])
                return ti.pid if ti.state == "running" and ti.pid else None

            pid = until("run_nitro running with a pid", running_pid)
            time.sleep(2)  # it is waiting on the worker now
            os.kill(pid, signal.SIGKILL)

            # 2. mark both deferred tasks of e2e_run_cancel failed
            cancel_run = runs["e2e_run_cancel"]
            for task in ("run_alteryx", "run_pdfco"):
                until(
                    f"{task} deferred",
                    lambda task=task: any(
                        ti.task_id == task and ti.state == "deferred"
                        for ti in airflow.task_instances("e2e_run_cancel", cancel_run)
                    ),
                )
            alteryx_job = airflow.xcom("e2e_run_cancel", cancel_run, "run_alteryx", key="job_id")
            pdfco_job = airflow.xcom("e2e_run_cancel", cancel_run, "run_pdfco", key="job_id")
            for task in ("run_alteryx", "run_pdfco"):
                airflow.api(
                    "PATCH",
                    f"/api/v2/dags/e2e_run_cancel/dagRuns/{cancel_run}/taskInstances/{task}",
                    json={"new_state": "failed"},
                )
            until("the alteryx job canceled", lambda: sim.job(alteryx_job)["canceled"], timeout=120)

            watches = airflow.wait_for_runs(runs, timeout=300)
            timeout_job = airflow.xcom(
                "e2e_run_timeout", runs["e2e_run_timeout"], "run_alteryx", key="job_id"
            )
            eft = runs["e2e_run_end_from_trigger"]
            eft_xcoms = {
                (task, key): airflow.xcom("e2e_run_end_from_trigger", eft, task, key=key)
                for task in ("run_apidatatools", "run_alteryx")
                for key in ("job_id", "return_value")
            }
            yield {
                "sim": sim,
                "airflow": airflow,
                "runs": runs,
                "watches": watches,
                "starts": sim.starts(),
                "jobs": {"cancel_alteryx": alteryx_job, "cancel_pdfco": pdfco_job, "timeout": timeout_job},
                "killed_pid": pid,
                "eft_xcoms": eft_xcoms,
            }


def _task_log_events(airflow: LocalAirflow, dag: str, run: str, task: str, pattern: str) -> list[str]:
    return [
        str(event.get("event", ""))
        for path in airflow.task_log_dir(dag, run, task).glob(pattern)
        for event in read_log_events(path)
    ]


def test_a_killed_try_reattaches_and_one_job_is_created(outcome: dict[str, Any]) -> None:
    airflow: LocalAirflow = outcome["airflow"]
    run = outcome["runs"]["e2e_run_reattach"]
    watch = outcome["watches"]["e2e_run_reattach"]
    assert watch.state == "success", watch.states_seen("run_nitro")
    assert watch.final["run_nitro"].try_number == 2
    assert outcome["starts"]["created"]["nitro"] == 1
    second = _task_log_events(airflow, "e2e_run_reattach", run, "run_nitro", "**/attempt=2.log")
    assert any("Reattaching to Nitro PDF Services job" in line for line in second), second


def test_a_deferred_run_marked_failed_cancels_or_warns(outcome: dict[str, Any]) -> None:
    sim: Simulator = outcome["sim"]
    airflow: LocalAirflow = outcome["airflow"]
    run = outcome["runs"]["e2e_run_cancel"]
    jobs = outcome["jobs"]
    assert sim.job(jobs["cancel_alteryx"])["canceled"] is True
    assert sim.job(jobs["cancel_pdfco"])["terminal"] is False  # PDF.co has no cancel call
    texts = _task_log_events(airflow, "e2e_run_cancel", run, "run_pdfco", "**/*.log.trigger.*.log")
    warned = [t for t in texts if "PDF.co has no cancel call" in t and jobs["cancel_pdfco"] in t]
    assert len(warned) == 1, texts
    alteryx = _task_log_events(airflow, "e2e_run_cancel", run, "run_alteryx", "**/*.log.trigger.*.log")
    assert any("canceled: the task is now failed" in t for t in alteryx), alteryx


def test_a_run_that_times_out_cancels_its_job(outcome: dict[str, Any]) -> None:
    sim: Simulator = outcome["sim"]
    watch = outcome["watches"]["e2e_run_timeout"]
    assert watch.state == "failed" and watch.final["run_alteryx"].try_number == 1
    assert sim.job(outcome["jobs"]["timeout"])["canceled"] is True
    # one cancel per canceled run: the marked-failed one and the two timed-out ones
    assert outcome["starts"]["canceled"]["alteryx"] == 3
    assert outcome["starts"]["created"]["alteryx"] == 3


def test_the_triggerer_ends_a_run_operator_with_end_from_trigger(outcome: dict[str, Any]) -> None:
    airflow: LocalAirflow = outcome["airflow"]
    sim: Simulator = outcome["sim"]
    dag, run = "e2e_run_end_from_trigger", outcome["runs"]["e2e_run_end_from_trigger"]
    final = {task: (row.state, row.try_number) for task, row in outcome["watches"][dag].final.items()}
    assert final == {"run_apidatatools": ("success", 1), "run_alteryx": ("failed", 1)}, final
    for task in final:
        events = [row["event"] for row in airflow.event_log(dag, run) if row["task_id"] == task]
        # one worker run (submit, first check), the deferral, and nothing on a worker after it
        assert events[:2] == ["running", "deferred"] and "running" not in events[2:], (task, events)
    xcoms = outcome["eft_xcoms"]
    job_id = xcoms[("run_apidatatools", "job_id")]
    status = xcoms[("run_apidatatools", "return_value")]
    assert isinstance(status, dict) and status["state"] == "succeeded" and status["job_id"] == job_id, status
    timed_out = xcoms[("run_alteryx", "job_id")]
    assert xcoms[("run_alteryx", "return_value")] is None
    assert sim.job(timed_out)["canceled"] is True
