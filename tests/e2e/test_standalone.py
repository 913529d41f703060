"""The sensors really defer: a real Airflow (scheduler with LocalExecutor, triggerer, API server,
DAG processor on SQLite) runs ``e2e_deferred`` against the simulator.

``airflow dags test`` runs triggers inline, so only this proves the production path: each sensor
checks once on a worker, goes ``deferred``, the triggerer polls the vendor, fires, and the sensor
succeeds. With ``parallelism=2`` and five sensors, seeing all five ``deferred`` at the same moment
means none of them held a worker slot while it waited.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import (
    LocalAirflow,
    RunWatch,
    read_log_events,
)
from tests.e2e.conftest import E2E_DAGS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(480, method="thread")]

VENDORS = ["nitro", "pdfco", "alteryx", "apidatatools", "playment"]
SENSORS = [f"wait_{vendor}" for vendor in VENDORS]
DAG_ID = "e2e_deferred"
#: each simulated job answers "running" this many times, then "done": with the sensors' 1 s poll
#: interval about 30 s in the triggerer. Counted in polls rather than ``seconds=`` (from creation),
#: so a slow worker start on a busy machine cannot let a job end before its sensor first looks.
JOB_POLLS = 30
#: the whole test, startup included; pytest-timeout's hard stop (480 s) comes after it
BUDGET = 390.0
PARALLELISM = 2


class Budget:
    """One deadline for all the waits, so a slow startup leaves less for the run, not more."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self, at_least: float = 10.0) -> float:
        return max(at_least, self.end - time.monotonic())


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


@pytest.fixture(scope="module")
def secrets(simulator: Simulator) -> list[str]:
    """The values that must never reach a log: API keys and client secrets (not ids)."""
    values = [
        value
        for fields in simulator.credentials.values()
        for name, value in fields.items()
        if name in ("api_key", "client_secret")
    ]
    # one secret per vendor the simulator serves (the built-in five and a declared API)
    assert len(values) == len(simulator.credentials) and all(v.startswith("sim-") for v in values), values
    return values


@pytest.fixture(scope="module")
def finished_run(
    simulator: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalAirflow, str, RunWatch, dict[str, str]]]:
    """Start Airflow, run ``e2e_deferred`` once with five fresh jobs, stop Airflow; yields what was seen."""
    budget = Budget(BUDGET)
    home = tmp_path_factory.mktemp("airflow_standalone")
    airflow = LocalAirflow(
        home,
        E2E_DAGS,
        env=connection_env(simulator),
        parallelism=PARALLELISM,
        startup_timeout=min(240.0, budget.left()),
    )
    with airflow:
        airflow.wait_for_dags([DAG_ID], timeout=budget.left())
        opts = {"apidatatools": {"retry_after": 1}}
        jobs = {
            vendor: str(simulator.create_job(vendor, polls=JOB_POLLS, **opts.get(vendor, {}))["job_id"])
            for vendor in VENDORS
        }
        run_id = airflow.trigger(DAG_ID, conf=jobs)
        watch = airflow.wait_for_run(DAG_ID, run_id, timeout=budget.left(), interval=0.5)
    # stopped: every log is flushed, and the DB and log files stay readable
    assert airflow.leftover_processes() == [], "processes left running after stop()"
    yield airflow, run_id, watch, jobs


def test_run_succeeds_after_every_sensor_waited_in_the_triggerer(
    finished_run: tuple[LocalAirflow, str, RunWatch, dict[str, str]],
) -> None:
    airflow, run_id, watch, _ = finished_run
    seen = {task: watch.states_seen(task) for task in SENSORS}
    print(f"states seen in {DAG_ID} {run_id}: {seen}")
    assert watch.state == "success", seen
    assert {task: watch.final[task].state for task in SENSORS} == dict.fromkeys(SENSORS, "success")
    for task, states in seen.items():
        # polling every 0.5 s can miss a short "running", never a ~30 s "deferred"
        assert "deferred" in states, f"{task} never seen deferred: {states}"
        assert states[-1] == "success", states
    # Airflow's own audit log has every step: a worker check, the deferral, the resumed run
    events: dict[str, list[str]] = {}
    for row in airflow.event_log(DAG_ID, run_id):
        events.setdefault(row["task_id"], []).append(row["event"])
    for task in SENSORS:
        assert events.get(task) == ["running", "deferred", "running", "success"], (task, events.get(task))
    # a deferral is one try, not a retry
    assert airflow.task_history(DAG_ID, run_id) == []
    assert {watch.final[task].try_number for task in SENSORS} == {1}


def test_waiting_sensors_held_no_worker_slot(
    finished_run: tuple[LocalAirflow, str, RunWatch, dict[str, str]],
) -> None:
    """Two worker slots, five waits: they can only all be waiting at once if none holds a slot."""
    _, _, watch, _ = finished_run
    assert len(SENSORS) > PARALLELISM
    assert watch.all_at_once(SENSORS, "deferred"), {task: watch.changes[task] for task in SENSORS}
    for task in SENSORS:
        # never "running" from the first check to the end: between the two worker runs it was deferred
        states = watch.states_seen(task)
        assert states.count("running") <= 2, (task, states)
        assert watch.time_in(task, "deferred") > 0, task


def test_trigger_logs_show_the_wait_in_the_triggerer(
    finished_run: tuple[LocalAirflow, str, RunWatch, dict[str, str]],
) -> None:
    airflow, run_id, _, jobs = finished_run
    triggerers = {str(job["id"]) for job in airflow.jobs("TriggererJob")}
    assert triggerers, "no triggerer job recorded"
    deferrals = airflow.deferrals(DAG_ID, run_id)
    for vendor, task in zip(VENDORS, SENSORS, strict=True):
        logs = airflow.trigger_logs(DAG_ID, run_id, task)
        assert logs, f"{task}: no trigger log next to the task log"
        # attempt=1.log.trigger.<triggerer job id>.log: written by the triggerer process
        assert {path.name.rsplit(".", 2)[-2] for path in logs} <= triggerers, logs
        lines = [event for path in logs for event in read_log_events(path)]
        texts = [str(event.get("event", "")) for event in lines]
        assert any(text.endswith("starting") for text in texts), texts
        fired = [event for event in lines if event.get("event") == "Trigger fired event"]
        assert len(fired) == 1, fired
        result = str(fired[0].get("result"))
        assert "'status': 'done'" in result and jobs[vendor] in result and "'succeeded'" in result, fired
        assert "trigger completed" in texts, texts
        # the trigger logs state changes only (not the status the sensor logged before deferring),
        # and the task logs the end when it resumes on a worker
        task_lines = [
            str(event.get("event", ""))
            for path in airflow.task_log_dir(DAG_ID, run_id, task).glob("**/attempt=*.log")
            for event in read_log_events(path)
        ]
        assert any(jobs[vendor] in t and "the wait is over" in t for t in task_lines), task_lines
        (deferral,) = deferrals[task]
        assert deferral.fired_at is not None and deferral.resumed_at is not None, deferral
        assert deferral.deferred_at <= deferral.fired_at <= deferral.resumed_at, deferral


def test_no_secret_in_any_log(
    finished_run: tuple[LocalAirflow, str, RunWatch, dict[str, str]], secrets: list[str]
) -> None:
    airflow, _, _, _ = finished_run
    logs = airflow.all_logs()
    names = {path.name for path in logs}
    assert {"scheduler.log", "triggerer.log", "api-server.log", "dag-processor.log"} <= names, names
    assert sum(".log.trigger." in path.name for path in logs) == len(SENSORS), logs
    leaks = {
        str(path.relative_to(airflow.home)): [s for s in secrets if s in text]
        for path in logs
        if any(s in (text := path.read_text(errors="replace")) for s in secrets)
    }
    assert leaks == {}, leaks


def test_secret_check_would_catch_a_leak(
    finished_run: tuple[LocalAirflow, str, RunWatch, dict[str, str]], secrets: list[str]
) -> None:
    """The scan above reads the files it should: a planted secret is found."""
    airflow, _, _, _ = finished_run
    planted = airflow.process_logs / "planted.log"
    planted.write_text(f"oops {secrets[0]}\n")
    try:
        assert planted in airflow.all_logs()
        assert any(secrets[0] in Path(p).read_text() for p in airflow.all_logs())
    finally:
        planted.unlink()
