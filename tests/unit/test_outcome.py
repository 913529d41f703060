"""The end of a wait: the triggerer (``end_from_trigger``) ends a task exactly as the worker would.

For every event and every combination of the options that decide an ending, the real sensor's
``resume_execution`` (what Airflow calls on the worker, soft_fail included) is compared with the
event the trigger would yield, both read as the state Airflow gives the task instance.
"""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
)
from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent

from airflow_provider_jobstatus.airflow_workarounds import RESUME_MARGIN, resume_not_before
from airflow_provider_jobstatus.errors import AuthenticationError, TransientVendorError
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.triggers import outcome
from airflow_provider_jobstatus.triggers.events import done_event, error_event, timeout_event
from airflow_provider_jobstatus.triggers.outcome import Ending, event_outcome


def status(state: JobState, message: str | None = None) -> JobStatus:
    return JobStatus(vendor="pdfco", job_id="j1", state=state, raw_status=state.value, message=message)


EVENTS: dict[str, Any] = {
    "succeeded": done_event(status(JobState.SUCCEEDED)),
    "failed": done_event(status(JobState.FAILED, "input file damaged")),
    "canceled": done_event(status(JobState.CANCELED)),
    "timeout": timeout_event("timeout", "PDF.co", "j1", status(JobState.RUNNING)),
    "execution_timeout": timeout_event("execution_timeout", "PDF.co", "j1", None),
    "error": error_event(AuthenticationError("PDF.co", "j1", "key refused"), "j1", None),
    "garbled": {"status": "done", "job": {"state": "succeeded"}},
    "unknown kind": {"status": "weird"},
}


def worker_state(task: JobStatusSensor, event: Any, retry_possible: bool) -> tuple[str, Any]:
    """The state Airflow gives the task when it resumes on a worker with ``event``."""
    ti = SimpleNamespace(try_number=1, max_tries=1 if retry_possible else 0)
    try:
        value = task.resume_execution("execute_complete", {"event": event}, context={"ti": ti})  # type: ignore[arg-type]
    except AirflowSkipException:
        return "skipped", None
    except (AirflowFailException, AirflowSensorTimeout):
        return "failed", None
    except (AirflowException, BaseException):  # AirflowTaskTimeout is a BaseException; both retry
        return ("up_for_retry" if retry_possible else "failed"), None
    return "success", value


def trigger_state(event: Any, ending: Ending) -> tuple[str, Any] | None:
    """The state Airflow gives the task for the trigger's ending event (None: it resumes on a worker)."""
    end = event_outcome(event, ending, "t").task_end_event(ending)
    if end is None:
        return None
    if isinstance(end, TaskSuccessEvent):
        return "success", (end.xcoms or {}).get("return_value")
    if isinstance(end, TaskSkippedEvent):
        return "skipped", None
    assert isinstance(end, TaskFailedEvent)
    routes = outcome.retries_trigger_failures()
    return ("up_for_retry" if ending.retry_possible and routes else "failed"), None


CASES = list(itertools.product(EVENTS, [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("routes_retries", [True, False], ids=["airflow>=3.3.1", "older"])
@pytest.mark.parametrize(("name", "canceled_as_skipped", "soft_fail", "retry_possible"), CASES)
def test_trigger_ends_the_task_as_the_worker_would(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    canceled_as_skipped: bool,
    soft_fail: bool,
    retry_possible: bool,
    routes_retries: bool,
) -> None:
    monkeypatch.setattr(outcome, "retries_trigger_failures", lambda: routes_retries)
    task = JobStatusSensor(
        task_id="w",
        conn_id="pdfco_default",
        job_id="j1",
        canceled_as_skipped=canceled_as_skipped,
        soft_fail=soft_fail,
        retries=1 if retry_possible else 0,
    )
    ending = Ending.of(task, {"ti": SimpleNamespace(try_number=1, max_tries=1 if retry_possible else 0)})
    assert ending.retry_possible is retry_possible
    on_worker = worker_state(task, EVENTS[name], retry_possible)
    in_trigger = trigger_state(EVENTS[name], ending)
    if in_trigger is None:  # only a failure the triggerer cannot give exactly goes back to a worker
        assert on_worker[0] in ("failed", "up_for_retry") and retry_possible, on_worker
    else:
        assert in_trigger == on_worker


def test_what_each_event_does() -> None:
    plain = Ending()
    assert event_outcome(EVENTS["succeeded"], plain).value == status(JobState.SUCCEEDED).to_event()
    failed = event_outcome(EVENTS["failed"], plain)
    assert (failed.state, failed.error, failed.retryable) == ("failed", AirflowFailException, False)
    assert "input file damaged" in failed.message
    assert event_outcome(EVENTS["timeout"], plain).error is AirflowSensorTimeout
    # credentials refused: retrying cannot help, on a worker or from the trigger alike
    refused = event_outcome(EVENTS["error"], plain)
    assert (refused.error, refused.retryable) == (AirflowFailException, False)
    fault = TransientVendorError("PDF.co", "j1", "HTTP 503")
    assert event_outcome(error_event(fault, "j1", None, persisted_for=40), plain).retryable
    assert event_outcome({"status": "error", "message": "an older trigger's"}, plain).retryable
    assert event_outcome(EVENTS["canceled"], Ending(canceled_as_skipped=True)).state == "skipped"
    soft = event_outcome(EVENTS["timeout"], Ending(skip_failures=True))
    assert soft.state == "skipped" and "last seen" in soft.message
    # the execution_timeout is not a sensor failure: soft_fail does not skip it (as on a worker)
    assert event_outcome(EVENTS["execution_timeout"], Ending(skip_failures=True)).state == "failed"


def test_success_pushes_the_status_as_return_value_unless_xcom_is_off() -> None:
    done = event_outcome(EVENTS["succeeded"], Ending())
    pushed = done.task_end_event(Ending())
    assert isinstance(pushed, TaskSuccessEvent)
    assert pushed.xcoms == {"return_value": status(JobState.SUCCEEDED).to_event()}
    quiet = done.task_end_event(Ending(push_xcom=False))
    assert isinstance(quiet, TaskSuccessEvent) and quiet.xcoms is None


def test_ending_travels_as_plain_kwargs() -> None:
    ending = Ending(canceled_as_skipped=True, skip_failures=True, push_xcom=False, retry_possible=None)
    assert Ending.from_kwargs(ending.to_kwargs()) == ending
    assert Ending.from_kwargs({}) == Ending()


def test_retry_possible_follows_airflow_eligibility() -> None:
    task = JobStatusSensor(task_id="w", conn_id="pdfco_default", job_id="j1", retries=2)
    assert Ending.of(task).retry_possible is None  # no try known yet (start_from_trigger)
    assert Ending.of(task, {"ti": SimpleNamespace(try_number=3, max_tries=2)}).retry_possible is False
    assert Ending.of(task, {"ti": SimpleNamespace(try_number=2, max_tries=2)}).retry_possible is True
    none = JobStatusSensor(task_id="w", conn_id="pdfco_default", job_id="j1", retries=0)
    assert Ending.of(none, {"ti": SimpleNamespace(try_number=1, max_tries=5)}).retry_possible is False


def test_resumption_waits_for_the_workers_late_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", "7")
    now = time.time()
    assert resume_not_before(now) == now + 7 + RESUME_MARGIN


def test_no_hold_off_under_dag_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """``dag.test()`` runs the task and its trigger in one process: nothing can exit late."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms

    monkeypatch.setattr(
        task_runner, "SUPERVISOR_COMMS", object.__new__(InProcessSupervisorComms), raising=False
    )
    assert resume_not_before() is None
