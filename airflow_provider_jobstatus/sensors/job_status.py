"""One sensor for all five vendors: the connection's type picks the hook.

Deferrable by default: it checks once on the worker, then hands the wait to
:class:`~airflow_provider_jobstatus.triggers.job_status.JobStatusTrigger` in the triggerer, so a
long wait holds no worker slot. ``mode="poke"``/``"reschedule"`` use the sync hook with the same
outcomes; ``start_from_trigger=True`` (Airflow 3.3+) starts the wait in the triggerer directly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, BaseSensorOperator, PokeReturnValue
from airflow.triggers.base import StartTriggerArgs

from airflow_provider_jobstatus.errors import JobNotFoundError, JobStatusError
from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.operators.links import JobAtVendorLink
from airflow_provider_jobstatus.status import JobStatus
from airflow_provider_jobstatus.task_arguments import default_deferrable, require_id
from airflow_provider_jobstatus.task_errors import airflow_error, hook_for
from airflow_provider_jobstatus.triggers.job_status import (
    DEFAULT_FAULT_TOLERANCE,
    DEFAULT_NOT_FOUND_GRACE,
    JobStatusTrigger,
)
from airflow_provider_jobstatus.triggers.outcome import (
    DEFER_TIMEOUT_MARGIN,
    Ending,
    event_outcome,
    resume_not_before,
    status_outcome,
)
from airflow_provider_jobstatus.vendors import describe_status

_TRIGGER_PATH = f"{JobStatusTrigger.__module__}.{JobStatusTrigger.__qualname__}"


def _airflow_supports_start_from_trigger() -> bool:
    from airflow_provider_jobstatus.version_compat import AIRFLOW_V_3_3_PLUS

    return AIRFLOW_V_3_3_PLUS


class JobStatusSensor(BaseSensorOperator):
    """Wait for a vendor job to end; succeed with its status (XCom) or fail with the vendor's message.

    :param conn_id: a connection of type nitro, pdfco, alteryx, apidatatools or playment.
    :param job_id: the vendor's job id (templated).
    :param deferrable: wait in the triggerer (default True, or ``[operators] default_deferrable``
        where its environment variable is set).
    :param fail_on_warning: Alteryx: a job that completed with disposition Warning fails.
    :param canceled_as_skipped: a canceled job skips the task instead of failing it.
    :param vendor_options: further vendor switches (templated), plain JSON.
    :param transient_fault_tolerance: seconds of uninterrupted faults before the wait fails.
    :param not_found_grace: seconds a 404 counts as "not visible yet".
    :param start_from_trigger: start in the triggerer without a worker (Airflow 3.3+); the job id
        must be known at parse time or from templated fields that need no XCom.
    :param batch_id: the job's batch (Playment, templated): waits on one batch share one listing.
    :param end_from_trigger: the triggerer ends the task itself (success with the status as XCom,
        failure, skip) instead of resuming it on a worker; see docs/sensor.md for what then does not run.
    """

    template_fields: Sequence[str] = ("job_id", "conn_id", "vendor_options", "batch_id")
    ui_color = "#e8f4fd"
    operator_extra_links = (JobAtVendorLink(),)
    start_trigger_args = StartTriggerArgs(
        trigger_cls=_TRIGGER_PATH,
        next_method="execute_complete",
        trigger_kwargs={},
        next_kwargs=None,
        timeout=None,
    )
    start_from_trigger = False

    def __init__(
        self,
        *,
        conn_id: str,
        job_id: str,
        deferrable: bool = default_deferrable(),
        poke_interval: float = 30.0,
        fail_on_warning: bool = False,
        canceled_as_skipped: bool = False,
        vendor_options: dict[str, Any] | None = None,
        transient_fault_tolerance: float = DEFAULT_FAULT_TOLERANCE,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        start_from_trigger: bool = False,
        batch_id: str | None = None,
        end_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.conn_id = conn_id
        self.job_id = job_id
        self.deferrable = deferrable
        self.fail_on_warning = fail_on_warning
        self.canceled_as_skipped = canceled_as_skipped
        self.vendor_options = dict(vendor_options or {})
        self.transient_fault_tolerance = transient_fault_tolerance
        self.not_found_grace = not_found_grace
        self.batch_id = batch_id
        self.end_from_trigger = end_from_trigger
        if start_from_trigger:
            if not _airflow_supports_start_from_trigger():
                raise AirflowException("JobStatusSensor(start_from_trigger=True) needs Airflow 3.3 or newer")
            self.start_from_trigger = True
            self.start_trigger_args = StartTriggerArgs(
                trigger_cls=_TRIGGER_PATH,
                next_method="execute_complete",
                # no worker ran, so none can exit late; whether this try may retry is not known yet
                trigger_kwargs=JobStatusTrigger.compact_kwargs(
                    self._trigger_kwargs(None, None, Ending.of(self), not_before=None)
                ),
                next_kwargs=None,
                timeout=timedelta(seconds=self.timeout),
            )

    # -- options --------------------------------------------------------------------------------
    def _options(self) -> dict[str, Any]:
        options = dict(self.vendor_options)
        if self.fail_on_warning:
            options["fail_on_warning"] = True
        return options

    def _trigger_kwargs(
        self,
        timeout_at: float | None,
        execution_deadline: float | None,
        ending: Ending,
        not_before: float | None,
    ) -> dict[str, Any]:
        return {
            "conn_id": self.conn_id,
            "job_id": self.job_id,
            "poll_interval": float(self.poke_interval),
            "timeout_at": timeout_at,
            "execution_deadline": execution_deadline,
            "vendor_options": self._options(),
            "transient_fault_tolerance": float(self.transient_fault_tolerance),
            "not_found_grace": float(self.not_found_grace),
            "batch_id": self.batch_id or None,
            "end_from_trigger": ending.to_kwargs() if self.end_from_trigger else None,
            "not_before": not_before,
        }

    def hook(self) -> JobStatusHook:
        return hook_for(self.conn_id, None)

    # -- execution ------------------------------------------------------------------------------
    def pre_execute(self, context: Any) -> None:
        """A rendered ``job_id`` that cannot be one fails at once, before any request."""
        super().pre_execute(context)
        require_id(self, "job_id", self.job_id)

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        status = self._check(self.hook())
        ending = Ending.of(self, context)
        if status is not None and status.state.is_terminal:
            return status_outcome(status, ending).apply()
        now = time.time()
        execution_deadline = now + self.execution_timeout.total_seconds() if self.execution_timeout else None
        self.defer(
            trigger=JobStatusTrigger(
                **self._trigger_kwargs(
                    now + self.timeout, execution_deadline, ending, resume_not_before(now)
                ),
                spread_start=True,
                seen_status=status.raw_status if status is not None else None,
            ),
            method_name="execute_complete",
            # Airflow's own deferral timeout is the backstop: the trigger's deadline comes first and
            # ends the wait with what it saw last (and, with end_from_trigger, in the triggerer)
            timeout=timedelta(seconds=self.timeout + DEFER_TIMEOUT_MARGIN),
        )

    def poke(self, context: Any) -> bool | PokeReturnValue:
        status = self._check(self.hook())
        if status is None or not status.state.is_terminal:
            return False
        return PokeReturnValue(
            is_done=True, xcom_value=status_outcome(status, Ending.of(self, context)).apply()
        )

    def _check(self, hook: JobStatusHook) -> JobStatus | None:
        """One status check on the worker; None when it met a transient fault (the wait goes on)."""
        try:
            status = hook.get_job_status(self.job_id, **self._options())
        except JobStatusError as exc:
            if exc.transient:
                self.log.warning("%s; will check again", exc)
                return None
            if isinstance(exc, JobNotFoundError) and self._within_grace():
                self.log.warning("%s; allowing up to %.0f s for it to appear", exc, self.not_found_grace)
                return None
            raise airflow_error(exc) from exc
        self.log.info("%s", describe_status(status))
        return status

    def _within_grace(self) -> bool:
        """404s are tolerated for ``not_found_grace`` from the first one this task instance saw
        (in reschedule mode each run is a new instance, so the sensor timeout bounds it)."""
        if self.deferrable:
            return True  # the trigger keeps the grace period
        first = float(self.__dict__.setdefault("_not_found_since", time.monotonic()))
        return time.monotonic() - first < self.not_found_grace

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Turn the trigger's event into the task's outcome; anything unexpected is an error."""
        outcome = event_outcome(event, Ending.of(self, context), f"JobStatusSensor {self.task_id}")
        if isinstance(event, dict) and event.get("status") == "done":
            self.log.info("%s; the wait is over", outcome.message)  # the trigger leaves this line to us
        return outcome.apply()
