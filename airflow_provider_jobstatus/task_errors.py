"""How tasks (sensor and operators) get their hook, how vendor errors become Airflow errors and
how the end of a wait becomes the task's outcome (one place, so the run operators end exactly as
the sensor does)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
)

from airflow_provider_jobstatus.errors import JobStatusError
from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.status import JobState, JobStatus


def airflow_error(exc: JobStatusError, note: str = "") -> AirflowException:
    """A fault that may pass leaves the task to its retries; anything else (credentials, an expired
    link, a refused request) fails it at once, since retrying cannot help."""
    text = f"{exc}{f' ({note})' if note else ''}"
    return AirflowException(text) if exc.transient else AirflowFailException(text)


def hook_for(conn_id: str, hook_params: Mapping[str, Any] | None) -> JobStatusHook:
    """The vendor hook the connection's type selects, with the task's hook settings
    (``retries``, ``backoff``, ``timeout``; ``transport`` for an ``httpx.MockTransport`` in tests)."""
    try:
        return JobStatusHook.for_connection(conn_id, **dict(hook_params or {}))
    except JobStatusError as exc:
        raise airflow_error(exc) from exc


def job_outcome(status: JobStatus, canceled_as_skipped: bool) -> dict[str, Any]:
    """A terminal status as the task's outcome: the status dict (XCom) on success, else an error."""
    if status.state is JobState.SUCCEEDED:
        return status.to_event()
    if status.state is JobState.CANCELED and canceled_as_skipped:
        raise AirflowSkipException(status.describe())
    raise AirflowFailException(status.describe())


def wait_outcome(task: Any, event: Any, canceled_as_skipped: bool) -> dict[str, Any]:
    """A trigger's event as the task's outcome; anything unexpected is an error."""
    if not isinstance(event, dict) or event.get("status") not in ("done", "error", "timeout"):
        raise AirflowException(f"{type(task).__name__} {task.task_id}: unexpected trigger event {event!r}")
    kind = event["status"]
    if kind == "done":
        status = JobStatus.from_event(event["job"])
        task.log.info("%s; the wait is over", status.describe())  # the trigger leaves this line to us
        return job_outcome(status, canceled_as_skipped)
    message = str(event.get("message") or "no message")
    if kind == "timeout":
        if event.get("reason") == "execution_timeout":
            raise AirflowTaskTimeout(message)
        raise AirflowSensorTimeout(message)
    raise AirflowException(message)
