"""How the end of a wait becomes the task's outcome: one decision, used on a worker
(``execute_complete``, and a status that was already terminal at the first check) and in the
triggerer (``end_from_trigger``), by the sensor and by the run operators alike.

An ending the triggerer can give exactly is given there (Airflow's task-success, task-failed and
task-skipped events), where Airflow's late-exit race cannot happen (``airflow_workarounds``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
)
from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent, TriggerEvent

from airflow_provider_jobstatus.airflow_workarounds import retries_trigger_failures
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.vendors import describe_status

#: seconds Airflow's deferral timeout is given past the trigger's own deadline, so that the trigger
#: (not the scheduler's check, every ``[scheduler] trigger_timeout_check_interval``) ends the wait
DEFER_TIMEOUT_MARGIN = 30.0

OutcomeState = Literal["success", "skipped", "failed"]


@dataclass(frozen=True)
class Ending:
    """The task's options that decide how a wait ends it; plain data, so it travels in trigger kwargs.

    :param canceled_as_skipped: a canceled job skips the task instead of failing it.
    :param skip_failures: any failure skips the task (a sensor's ``soft_fail`` or ``never_fail``).
    :param push_xcom: the status dict becomes the task's ``return_value`` XCom on success.
    :param retry_possible: whether Airflow would retry a failure of this try (the task has retries
        and this try is within them); None when unknown (``start_from_trigger``).
    """

    canceled_as_skipped: bool = False
    skip_failures: bool = False
    push_xcom: bool = True
    retry_possible: bool | None = None

    @classmethod
    def of(cls, task: Any, context: Any = None, canceled_as_skipped: bool | None = None) -> Ending:
        """The ending ``task`` asks for; with ``context`` (on a worker) also whether this try may retry."""
        retries = int(getattr(task, "retries", 0) or 0)
        retry_possible: bool | None = False if not retries else None
        ti = context.get("ti") if context else None
        if retries and ti is not None and isinstance(getattr(ti, "max_tries", None), int):
            retry_possible = int(ti.try_number) <= int(ti.max_tries)  # TaskInstance.is_eligible_to_retry
        if canceled_as_skipped is None:
            canceled_as_skipped = bool(getattr(task, "canceled_as_skipped", False))
        return cls(
            canceled_as_skipped=canceled_as_skipped,
            skip_failures=bool(getattr(task, "soft_fail", False) or getattr(task, "never_fail", False)),
            push_xcom=bool(getattr(task, "do_xcom_push", True)),
            retry_possible=retry_possible,
        )

    def to_kwargs(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> Ending:
        fields = ("canceled_as_skipped", "skip_failures", "push_xcom", "retry_possible")
        return cls(**{k: kwargs[k] for k in fields if k in kwargs})


@dataclass(frozen=True)
class Outcome:
    """What a wait's end does to the task: succeed with ``value``, skip, or fail with ``error``.

    ``retryable`` says whether Airflow's retries apply to a failure (a job that failed and a sensor
    timeout do not retry: ``AirflowFailException`` / ``AirflowSensorTimeout``)."""

    state: OutcomeState
    message: str
    value: dict[str, Any] | None = None
    error: type[BaseException] = AirflowException
    retryable: bool = False

    def apply(self) -> dict[str, Any] | None:
        """On a worker: return the task's value, or raise what ends it."""
        if self.state == "success":
            return self.value
        if self.state == "skipped":
            raise AirflowSkipException(self.message)
        raise self.error(self.message)

    def task_end_event(self, ending: Ending) -> TriggerEvent | None:
        """In the triggerer: the event that ends the task exactly as :meth:`apply` would, or None
        when only a worker can (a failure that must not retry on a try Airflow would retry, or one
        that must retry where Airflow's task-failed event cannot)."""
        if self.state == "success":
            xcoms: dict[str, Any] | None = None
            if ending.push_xcom and self.value is not None:
                xcoms = {"return_value": self.value}
            return TaskSuccessEvent(xcoms=xcoms)
        if self.state == "skipped":
            return TaskSkippedEvent()
        if ending.retry_possible is False:
            return TaskFailedEvent()  # no retry either way
        if self.retryable and ending.retry_possible and retries_trigger_failures():
            return TaskFailedEvent()
        return None


def status_outcome(status: JobStatus, ending: Ending) -> Outcome:
    """A terminal status as the task's outcome: the status dict on success, else an error that
    does not retry (the vendor's answer will not change), or a skip."""
    message = describe_status(status)
    if status.state is JobState.SUCCEEDED:
        return Outcome("success", message, value=status.to_event())
    if status.state is JobState.CANCELED and ending.canceled_as_skipped:
        return Outcome("skipped", message)
    return _failure(message, AirflowFailException, False, ending)


def event_outcome(event: Any, ending: Ending, task_id: str = "") -> Outcome:
    """A trigger event (``done`` / ``error`` / ``timeout``) as the task's outcome; anything else
    is an error (it retries: it may be a newer trigger's event)."""
    kind = event.get("status") if isinstance(event, dict) else None
    if kind == "done":
        try:
            status = JobStatus.from_event(event["job"])
        except (KeyError, TypeError, ValueError):
            status = None
        if status is not None and status.state.is_terminal:
            return status_outcome(status, ending)
    elif kind in ("error", "timeout"):
        message = str(event.get("message") or "no message")
        if kind == "error":
            if event.get("retryable", True):  # events of older triggers carry no flag: they retried
                return _failure(message, AirflowException, True, ending)
            return _failure(message, AirflowFailException, False, ending)
        if event.get("reason") == "execution_timeout":
            return _failure(message, AirflowTaskTimeout, True, ending)
        return _failure(message, AirflowSensorTimeout, False, ending)
    return _failure(f"{task_id}: unexpected trigger event {event!r}", AirflowException, True, ending)


def timeout_cancels(event: Any) -> bool:
    """Whether this end of a wait cancels the job first (for a task that cancels its jobs, the run
    operators' ``cancel_on_kill``): a timeout does, on the worker or, with ``end_from_trigger``,
    in the triggerer before it fails the task; a job's own end and a fault do not."""
    return isinstance(event, dict) and event.get("status") == "timeout"


def _failure(message: str, error: type[BaseException], retryable: bool, ending: Ending) -> Outcome:
    # soft_fail skips what Airflow's sensor turns into a skip: AirflowExceptions, not the
    # execution_timeout (AirflowTaskTimeout is a BaseException: it fails, with retries)
    if ending.skip_failures and issubclass(error, AirflowException):
        return Outcome("skipped", f"{message} (skipped: soft_fail)")
    return Outcome("failed", message, error=error, retryable=retryable)
