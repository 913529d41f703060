"""One sensor for all five vendors: the connection's type picks the hook.

Deferrable by default: it checks once on the worker, then hands the wait to
:class:`~airflow_provider_jobstatus.triggers.job_status.JobStatusTrigger` in the triggerer, so a
long wait holds no worker slot. ``mode="poke"``/``"reschedule"`` use the sync hook with the same
outcomes; ``start_from_trigger=True`` (Airflow 3.3+) starts the wait in the triggerer directly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.exceptions import AirflowRescheduleException
from airflow.providers.common.compat.sdk import AirflowException, BaseSensorOperator, PokeReturnValue
from airflow.triggers.base import StartTriggerArgs

from airflow_provider_jobstatus.airflow_workarounds import resume_not_before
from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.operators.links import JobAtVendorLink
from airflow_provider_jobstatus.task_arguments import default_deferrable, require_id
from airflow_provider_jobstatus.task_errors import hook_for
from airflow_provider_jobstatus.triggers.job_status import (
    DEFAULT_FAULT_TOLERANCE,
    DEFAULT_NOT_FOUND_GRACE,
    JobStatusTrigger,
)
from airflow_provider_jobstatus.triggers.outcome import DEFER_TIMEOUT_MARGIN, Ending, event_outcome
from airflow_provider_jobstatus.triggers.policy import End, WaitPolicy, policy_for, positive_seconds
from airflow_provider_jobstatus.worker_wait import drive

#: the task state store key holding a reschedule-mode wait's clocks between pokes (Airflow 3.3+)
WAIT_STATE_KEY = "jobstatus_wait"

_TRIGGER_PATH = f"{JobStatusTrigger.__module__}.{JobStatusTrigger.__qualname__}"


def _airflow_supports_start_from_trigger() -> bool:
    from airflow_provider_jobstatus.version_compat import AIRFLOW_V_3_3_PLUS

    return AIRFLOW_V_3_3_PLUS


class JobStatusSensor(BaseSensorOperator):
    """Wait for a vendor job to end; succeed with its status (XCom) or fail with the vendor's message.

    :param conn_id: a connection of one of the provider's types (its type picks the vendor).
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
        poke_interval: float | timedelta = 30.0,
        fail_on_warning: bool = False,
        canceled_as_skipped: bool = False,
        vendor_options: dict[str, Any] | None = None,
        transient_fault_tolerance: float | timedelta = DEFAULT_FAULT_TOLERANCE,
        not_found_grace: float | timedelta = DEFAULT_NOT_FOUND_GRACE,
        start_from_trigger: bool = False,
        batch_id: str | None = None,
        end_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        where = f"JobStatusSensor {kwargs.get('task_id')!r}"
        try:
            interval = positive_seconds(poke_interval, f"{where}: poke_interval")
            tolerance = positive_seconds(transient_fault_tolerance, f"{where}: transient_fault_tolerance")
            grace = positive_seconds(not_found_grace, f"{where}: not_found_grace")
        except ValueError as exc:
            raise AirflowException(str(exc)) from None
        super().__init__(poke_interval=interval, **kwargs)
        if self.timeout < interval:
            raise AirflowException(
                f"{where}: timeout ({self.timeout:.0f} s) is shorter than poke_interval ({interval:.0f} s): "
                "the wait would end before its second check; raise timeout or lower poke_interval"
            )
        self.conn_id = conn_id
        self.job_id = job_id
        self.deferrable = deferrable
        self.fail_on_warning = fail_on_warning
        self.canceled_as_skipped = canceled_as_skipped
        self.vendor_options = dict(vendor_options or {})
        self.transient_fault_tolerance = tolerance
        self.not_found_grace = grace
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
        """One check on the worker, then the wait: deferred (default), or ``poke``/``reschedule``."""
        hook = self.hook()
        now = time.time()
        if self.deferrable or self.mode != "reschedule":
            policy = self._policy(hook, now, now + self.timeout, self._execution_deadline(now))
        else:
            policy = self._rescheduled_policy(hook, context, now)
        step = drive(policy, hook, self.log, sleep=not self.deferrable and self.mode == "poke")
        if isinstance(step, End):
            self._forget(context)
            return self.execute_complete(context, step.event)
        if not self.deferrable:
            self._remember(context, policy)
            raise AirflowRescheduleException(datetime.fromtimestamp(step.until, tz=timezone.utc))  # type: ignore[no-untyped-call]
        last = policy.clocks.last
        self.defer(
            trigger=JobStatusTrigger(
                **self._trigger_kwargs(
                    policy.clocks.started + self.timeout,
                    self._execution_deadline(now),
                    Ending.of(self, context),
                    resume_not_before(now),
                ),
                spread_start=True,
                seen_status=last.raw_status if last is not None else None,
                wait_state=policy.clocks.to_dict(),
            ),
            method_name="execute_complete",
            # Airflow's own deferral timeout is the backstop: the trigger's deadline comes first and
            # ends the wait with what it saw last (and, with end_from_trigger, in the triggerer)
            timeout=timedelta(seconds=self.timeout + DEFER_TIMEOUT_MARGIN),
        )

    def poke(self, context: Any) -> bool | PokeReturnValue:
        """One step of the wait (Airflow's sensor interface); the wait's clocks stay on this task."""
        hook = self.hook()
        policy = self.__dict__.get("_poke_policy")
        if policy is None:
            now = time.time()
            policy = self.__dict__["_poke_policy"] = self._policy(hook, now, now + self.timeout, None)
        step = drive(policy, hook, self.log, sleep=False)
        if not isinstance(step, End):
            return False
        return PokeReturnValue(is_done=True, xcom_value=self.execute_complete(context, step.event))

    def _policy(
        self,
        hook: JobStatusHook,
        now: float,
        timeout_at: float,
        execution_deadline: float | None,
        clocks: dict[str, Any] | None = None,
    ) -> WaitPolicy:
        return policy_for(
            hook.vendor,
            self.job_id,
            poll_interval=float(self.poke_interval),
            transient_fault_tolerance=float(self.transient_fault_tolerance),
            not_found_grace=float(self.not_found_grace),
            timeout_at=timeout_at,
            execution_deadline=execution_deadline,
            vendor_options=self._options(),
            now=now,
            clocks=clocks,
        )

    def _execution_deadline(self, now: float) -> float | None:
        return now + self.execution_timeout.total_seconds() if self.execution_timeout else None

    def _rescheduled_policy(self, hook: JobStatusHook, context: Any, now: float) -> WaitPolicy:
        """Each reschedule is a new process: the clocks come from Airflow's task state store (3.3+),
        else the wait's start from Airflow's first reschedule, with the fault and 404 clocks of
        this poke only (the sensor's ``timeout`` then bounds them). ``execution_timeout`` applies
        to each poke, as Airflow's own sensors have it."""
        saved = self._saved(context)
        started = (saved or {}).get("started") or _first_reschedule(context) or now
        return self._policy(hook, now, float(started) + self.timeout, None, saved or {"started": started})

    def _saved(self, context: Any) -> dict[str, Any] | None:
        store = context.get("task_state_store") if context else None
        saved = store.get(WAIT_STATE_KEY) if store is not None else None
        ti = context.get("ti") if context else None
        if not isinstance(saved, dict) or saved.get("try") != getattr(ti, "try_number", None):
            return None  # none, or an earlier try's
        clocks = saved.get("clocks")
        return clocks if isinstance(clocks, dict) else None

    def _remember(self, context: Any, policy: WaitPolicy) -> None:
        store = context.get("task_state_store") if context else None
        if store is not None:
            ti = context.get("ti")
            store.set(
                WAIT_STATE_KEY, {"try": getattr(ti, "try_number", None), "clocks": policy.clocks.to_dict()}
            )

    def _forget(self, context: Any) -> None:
        store = context.get("task_state_store") if context else None
        if store is not None and not self.deferrable and self.mode == "reschedule":
            store.delete(WAIT_STATE_KEY)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Turn the wait's end into the task's outcome; anything unexpected is an error."""
        outcome = event_outcome(event, Ending.of(self, context), f"JobStatusSensor {self.task_id}")
        if isinstance(event, dict) and event.get("status") == "done":
            self.log.info("%s; the wait is over", outcome.message)  # the trigger leaves this line to us
        return outcome.apply()


def _first_reschedule(context: Any) -> float | None:
    """When Airflow started this sensor's first poke (its reschedule records), epoch seconds."""
    ti = context.get("ti") if context else None
    getter = getattr(ti, "get_first_reschedule_date", None)
    if getter is None:
        return None
    try:
        first = getter(context)
    except Exception:  # no record is a first poke
        return None
    return first.timestamp() if isinstance(first, datetime) else None
