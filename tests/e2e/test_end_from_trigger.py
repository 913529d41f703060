"""``end_from_trigger=True`` in a real Airflow (scheduler with LocalExecutor, triggerer, API
server, DAG processor): every ending of ``e2e_end_from_trigger`` is given by the triggerer, with no
second worker run, and each is the one the sensor gives on a worker: success with the status as
XCom, failure, the sensor timeout, skip, soft_fail, and Airflow's retries where they apply.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import LocalAirflow, RunWatch, read_log_events
from tests.e2e.conftest import E2E_DAGS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600, method="thread")]

DAG_ID = "e2e_end_from_trigger"
#: Airflow, the run id, what polling it saw, the job id per task, the XCom return value per task
Run = tuple[LocalAirflow, str, RunWatch, dict[str, str], dict[str, Any]]


@pytest.fixture(scope="module")
def finished_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Run]:
    with Simulator() as sim:
        # a loaded machine's API server can take longer than the default 5 s for a task's first
        # call, and a task whose start times out four times fails before it runs
        env = {**connection_env(sim), "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30"}
        # nothing listens on port 1: every call is a connection refused, a fault that may pass
        env["AIRFLOW_CONN_PDFCO_DOWN"] = json.dumps(
            {"conn_type": "pdfco", "host": "http://127.0.0.1:1", "password": "down-key"}
        )
        airflow = LocalAirflow(tmp_path_factory.mktemp("airflow_eft"), E2E_DAGS, env=env, parallelism=2)
        with airflow:
            airflow.wait_for_dags([DAG_ID], timeout=240)
            conf = {
                "ok": sim.create_job("pdfco", outcome="succeeded", polls=2)["job_id"],
                "failed": sim.create_job("nitro", outcome="failed", polls=2)["job_id"],
                "failed_with_retries": sim.create_job("nitro", outcome="failed", polls=2)["job_id"],
                "timeout": sim.create_job("pdfco", outcome="succeeded", seconds=3600)["job_id"],
                "canceled_skips": sim.create_job("nitro", outcome="canceled", polls=2)["job_id"],
                "soft_fail": sim.create_job("nitro", outcome="failed", polls=2)["job_id"],
                "error_retries": sim.create_job("pdfco", outcome="succeeded", polls=2)["job_id"],
                "not_found": "no-such-job",
            }
            run_id = airflow.trigger(DAG_ID, conf={k: str(v) for k, v in conf.items()})
            watch = airflow.wait_for_run(DAG_ID, run_id, timeout=360, interval=0.5)
            xcoms = {task_id: airflow.xcom(DAG_ID, run_id, task_id) for task_id in [*conf, "read_ok"]}
        yield airflow, run_id, watch, {k: str(v) for k, v in conf.items()}, xcoms


def events_by_try(airflow: LocalAirflow, run_id: str, task_id: str) -> dict[int, list[str]]:
    tries: dict[int, list[str]] = {}
    for row in airflow.event_log(DAG_ID, run_id):
        if row["task_id"] == task_id:
            tries.setdefault(row["try_number"], []).append(row["event"])
    return tries


def trigger_lines(airflow: LocalAirflow, run_id: str, task_id: str) -> list[str]:
    return [
        str(event.get("event", ""))
        for path in airflow.trigger_logs(DAG_ID, run_id, task_id)
        for event in read_log_events(path)
    ]


def test_each_ending_is_the_sensors(finished_run: Run) -> None:
    _, _, watch, _, _ = finished_run
    final = {task: (row.state, row.try_number) for task, row in watch.final.items()}
    assert final == {
        "ok": ("success", 1),
        "read_ok": ("success", 1),
        "failed": ("failed", 1),
        "failed_with_retries": ("failed", 1),  # a failed job does not retry
        "timeout": ("failed", 1),  # nor does a sensor timeout
        "canceled_skips": ("skipped", 1),
        "soft_fail": ("skipped", 1),
        "error_retries": ("failed", 2),  # a fault that may pass gets its retry
        "not_found": ("failed", 1),  # a job the vendor does not know: no retry, though it has retries
    }, final


def test_the_triggerer_ended_them_without_a_second_worker_run(
    finished_run: Run,
) -> None:
    airflow, run_id, _, conf, _ = finished_run
    for task_id in ("ok", "failed", "timeout", "canceled_skips", "soft_fail", "error_retries"):
        for try_number, events in events_by_try(airflow, run_id, task_id).items():
            # one worker run (the first check), then the deferral: nothing ran on a worker after it
            assert events[:2] == ["running", "deferred"] and "running" not in events[2:], (
                task_id,
                try_number,
                events,
            )
    # the one ending a task-failed event cannot give (no retry on a try Airflow would retry) resumed
    for task_id in ("failed_with_retries", "not_found"):
        assert events_by_try(airflow, run_id, task_id)[1][:3] == ["running", "deferred", "running"], task_id
    # the only earlier try: the one a fault that may pass was retried after
    history = [(r["task_id"], r["try_number"]) for r in airflow.task_history(DAG_ID, run_id)]
    assert history == [("error_retries", 1)], history
    # the outcome is in the task's trigger log, as the task would have logged it
    # Airflow 3.3.2's per-trigger log forwarding can drop a trigger's last lines when it ends at
    # once (seen under load): the ending line is then looked for in the triggerer's own log too
    triggerer_lines = [
        line
        for path in airflow.all_logs()
        if path.name.startswith("triggerer")
        for line in path.read_text(errors="replace").splitlines()
    ]
    lines = {
        task: "\n".join(
            [
                *trigger_lines(airflow, run_id, task),
                *(line for line in triggerer_lines if f"/{task}/" in line),
            ]
        )
        for task in conf
    }
    assert f"PDF.co job '{conf['ok']}' is succeeded" in lines["ok"] and "the wait is over" in lines["ok"]
    assert "AirflowFailException" in lines["failed"] and conf["failed"] in lines["failed"]
    assert "AirflowSensorTimeout" in lines["timeout"] and "timeout was reached" in lines["timeout"]
    assert "skipping the task" in lines["canceled_skips"]
    assert "soft_fail" in lines["soft_fail"] and "skipping the task" in lines["soft_fail"]
    assert "AirflowException" in lines["error_retries"] and "faults persisted" in lines["error_retries"]
    assert "no-such-job" in lines["not_found"] and "resumes on a worker" in lines["not_found"]
    assert "resumes on a worker" in lines["failed_with_retries"]


def test_success_pushed_the_status_as_return_value(
    finished_run: Run,
) -> None:
    _, _, _, conf, xcoms = finished_run
    value = xcoms["ok"]
    assert isinstance(value, dict) and value["state"] == "succeeded" and value["job_id"] == conf["ok"], value
    # read back as a dict by a downstream task (read_ok asserts it), which returned the job id
    assert xcoms["read_ok"] == conf["ok"]
    for task_id in ("failed", "canceled_skips", "soft_fail", "timeout"):
        assert xcoms[task_id] is None, task_id
