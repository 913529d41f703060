"""JobStatusSensor against the simulator: deferral, event handling, poke mode, start_from_trigger."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
import structlog
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    TaskDeferred,
)

from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.triggers.events import done_event, timeout_event
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger
from airflow_provider_jobstatus.triggers.outcome import DEFER_TIMEOUT_MARGIN, Ending
from tests.airflow_versions import needs_start_from_trigger, refuses_start_from_trigger


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    return jobstatus_simulator


def sensor(vendor: str, job_id: str, **kw: Any) -> JobStatusSensor:
    return JobStatusSensor(task_id=f"wait_{vendor}", conn_id=f"{vendor}_default", job_id=job_id, **kw)


def status(state: JobState, message: str | None = None) -> JobStatus:
    return JobStatus(vendor="pdfco", job_id="j1", state=state, raw_status=state.value, message=message)


def test_defers_to_the_trigger_with_absolute_deadlines(sim: Simulator) -> None:
    job = sim.create_job("pdfco", outcome="succeeded", seconds=600)
    task = sensor(
        "pdfco", job["job_id"], timeout=120, poke_interval=7, execution_timeout=timedelta(seconds=90)
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context={})
    trigger = deferred.value.trigger
    assert isinstance(trigger, JobStatusTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(
        seconds=120 + DEFER_TIMEOUT_MARGIN
    )  # the trigger's deadline first
    _, kwargs = trigger.serialize()
    assert kwargs["conn_id"] == "pdfco_default" and kwargs["job_id"] == job["job_id"]
    assert kwargs["poll_interval"] == 7
    assert before + 120 <= kwargs["timeout_at"] <= time.time() + 120
    assert before + 90 <= kwargs["execution_deadline"] <= time.time() + 90
    assert kwargs["seen_status"] == "working"  # what the sensor logged: the trigger will not repeat it
    assert "sim-pdfco-key" not in json.dumps(kwargs)


def test_finished_job_needs_no_deferral(sim: Simulator) -> None:
    job = sim.create_job("nitro", outcome="succeeded")
    result = sensor("nitro", job["job_id"]).execute(context={})
    assert result["state"] == "succeeded" and result["job_id"] == job["job_id"]


def test_failed_job_fails_on_the_first_check_with_the_vendor_message(sim: Simulator) -> None:
    job = sim.create_job("alteryx", outcome="failed")
    with pytest.raises(AirflowFailException) as err:
        sensor("alteryx", job["job_id"]).execute(context={})
    assert job["job_id"] in str(err.value) and "failed" in str(err.value)


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_poke_and_reschedule_modes_reach_the_same_result(sim: Simulator, mode: str) -> None:
    job = sim.create_job("apidatatools", outcome="succeeded", polls=2, retry_after=0)
    task = sensor("apidatatools", job["job_id"], deferrable=False, mode=mode, poke_interval=0.05, timeout=30)
    if mode == "reschedule":  # each reschedule is a new try: poke until done
        done = None
        for _ in range(40):
            done = task.poke(context={})
            if done:
                break
            time.sleep(0.05)  # Airflow pokes again after the reschedule
        assert done and done.xcom_value["state"] == "succeeded"  # type: ignore[union-attr]
        return
    assert task.execute(context={})["state"] == "succeeded"


def test_poke_mode_failed_job_skips_under_soft_fail(sim: Simulator) -> None:
    job = sim.create_job("nitro", outcome="failed")
    task = sensor("nitro", job["job_id"], deferrable=False, poke_interval=0.05, timeout=30, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        task.execute(context={})


def test_execute_complete_turns_events_into_outcomes() -> None:
    task = sensor("pdfco", "j1")
    with structlog.testing.capture_logs() as logs:
        ok = task.execute_complete({}, done_event(status(JobState.SUCCEEDED)))
    assert ok["state"] == "succeeded"
    # the trigger leaves the final line to the task: it is logged once, on resume
    assert [e["event"] for e in logs if "the wait is over" in str(e["event"])] == [
        "PDF.co job 'j1' is succeeded; the wait is over"
    ]
    with pytest.raises(AirflowFailException, match="damaged"):
        task.execute_complete({}, done_event(status(JobState.FAILED, "input file damaged")))
    with pytest.raises(AirflowFailException):
        task.execute_complete({}, done_event(status(JobState.CANCELED)))
    with pytest.raises(AirflowSkipException):
        sensor("pdfco", "j1", canceled_as_skipped=True).execute_complete(
            {}, done_event(status(JobState.CANCELED))
        )
    with pytest.raises(AirflowSensorTimeout, match="last seen"):
        task.execute_complete({}, timeout_event("timeout", "PDF.co", "j1", status(JobState.UNKNOWN)))
    with pytest.raises(AirflowTaskTimeout):
        task.execute_complete({}, timeout_event("execution_timeout", "PDF.co", "j1", None))
    with pytest.raises(AirflowException, match="credentials refused"):
        task.execute_complete({}, {"status": "error", "message": "PDF.co job 'j1': credentials refused"})
    for bad in (None, {}, {"status": "weird"}, "done"):
        with pytest.raises(AirflowException, match="unexpected trigger event"):
            task.execute_complete({}, bad)  # type: ignore[arg-type]


def test_soft_fail_skips_a_failed_event_on_resume() -> None:
    task = sensor("pdfco", "j1", soft_fail=True)
    event = done_event(status(JobState.FAILED, "boom"))
    with pytest.raises(AirflowSkipException):
        task.resume_execution("execute_complete", {"event": event}, context={})  # type: ignore[arg-type]


def test_wrong_connection_type_names_the_accepted_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HTTP_ONE", json.dumps({"conn_type": "http", "host": "http://x"}))
    task = JobStatusSensor(task_id="w", conn_id="http_one", job_id="j")
    accepted = "alteryx, apidatatools, jobapi, nitro"
    with pytest.raises(AirflowException, match=f"has type 'http'; use one of {accepted}"):
        task.execute(context={})


@needs_start_from_trigger
def test_start_from_trigger_builds_start_trigger_args() -> None:
    task = sensor("playment", "job-9", start_from_trigger=True, timeout=300, poke_interval=15)
    assert task.start_from_trigger is True
    args = task.start_trigger_args
    assert args is not None and args.trigger_cls.endswith("JobStatusTrigger")
    assert args.next_method == "execute_complete" and args.timeout == timedelta(seconds=300)
    assert args.trigger_kwargs is not None and args.trigger_kwargs["job_id"] == "job-9"
    assert JobStatusSensor.start_trigger_args.trigger_kwargs == {}  # the class default is untouched
    # only what differs from the trigger's defaults is carried (the triggerer keeps the serialized
    # DAG for each trigger), and the trigger built from it is the one the full kwargs build
    assert set(args.trigger_kwargs) == {"conn_id", "job_id", "poll_interval"}
    full = task._trigger_kwargs(None, None, Ending.of(task), not_before=None)
    assert JobStatusTrigger(**args.trigger_kwargs).serialize() == JobStatusTrigger(**full).serialize()


@refuses_start_from_trigger
def test_start_from_trigger_is_refused_before_airflow_3_3() -> None:
    with pytest.raises(AirflowException, match=r"start_from_trigger=True\) needs Airflow 3\.3 or newer"):
        sensor("playment", "job-9", start_from_trigger=True, timeout=300)


@pytest.mark.resume_hold_off
def test_deferral_holds_the_resumption_and_carries_the_ending(sim: Simulator) -> None:
    from types import SimpleNamespace

    from airflow_provider_jobstatus.airflow_workarounds import RESUME_MARGIN

    job = sim.create_job("pdfco", outcome="succeeded", seconds=600)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor("pdfco", job["job_id"]).execute(context={})
    _, kwargs = deferred.value.trigger.serialize()
    # the default [workers] min_heartbeat_interval (5 s) plus the margin, from the deferral
    assert before + 5 + RESUME_MARGIN <= kwargs["not_before"] <= time.time() + 5 + RESUME_MARGIN
    assert kwargs["end_from_trigger"] is None
    task = sensor("pdfco", job["job_id"], end_from_trigger=True, soft_fail=True, retries=2)
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context={"ti": SimpleNamespace(try_number=3, max_tries=2)})
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["end_from_trigger"] == {
        "canceled_as_skipped": False,
        "skip_failures": True,
        "push_xcom": True,
        "retry_possible": False,
    }
    json.dumps(kwargs)


def test_soft_fail_skips_a_job_that_failed_before_the_first_check(sim: Simulator) -> None:
    job = sim.create_job("nitro", outcome="failed", polls=0)
    with pytest.raises(AirflowSkipException, match="soft_fail"):
        sensor("nitro", job["job_id"], soft_fail=True).execute(context={})


@needs_start_from_trigger
def test_start_from_trigger_with_end_from_trigger_knows_only_a_task_without_retries() -> None:
    args = sensor("playment", "job-9", start_from_trigger=True, end_from_trigger=True).start_trigger_args
    assert args is not None and args.trigger_kwargs is not None
    assert args.trigger_kwargs["end_from_trigger"]["retry_possible"] is False
    # no worker ran: none can exit late
    assert JobStatusTrigger(**args.trigger_kwargs).not_before is None
    retried = sensor("playment", "job-9", start_from_trigger=True, end_from_trigger=True, retries=1)
    assert retried.start_trigger_args.trigger_kwargs["end_from_trigger"]["retry_possible"] is None  # type: ignore[index]
