"""The wait itself, run by the triggerer: poll until the job ends or a deadline passes.

Everything in the kwargs is plain data (no credential: the connection is fetched again in the
triggerer), and the deadlines are absolute epoch seconds, so a triggerer restart that re-creates
the trigger from its kwargs goes on where it was. The rules of the wait are
:class:`~airflow_provider_jobstatus.triggers.policy.WaitPolicy`'s, as on a worker; this module
only drives it with the async hook.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import math
import random
import time
import weakref
from collections.abc import AsyncIterator
from datetime import datetime
from types import ModuleType
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_jobstatus import airflow_workarounds as workarounds
from airflow_provider_jobstatus import metrics
from airflow_provider_jobstatus.errors import JobStatusError
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.triggers._sleep import sleep as pause
from airflow_provider_jobstatus.triggers.events import error_event
from airflow_provider_jobstatus.triggers.policy import (
    DEFAULT_FAULT_TOLERANCE,
    DEFAULT_NOT_FOUND_GRACE,
    DEFAULT_POLL_INTERVAL,
    Ask,
    DeadlineReason,
    End,
    Sleep,
    WaitPolicy,
    nearest_deadline,
    policy_for,
)

__all__ = [
    "DEFAULT_FAULT_TOLERANCE",
    "DEFAULT_NOT_FOUND_GRACE",
    "DEFAULT_POLL_INTERVAL",
    "JobStatusTrigger",
]


class JobStatusTrigger(BaseTrigger):
    """Poll one vendor job through the hook's async path until a terminal state or a deadline.

    :param conn_id: Airflow connection; its type picks the vendor.
    :param job_id: the vendor's job id.
    :param poll_interval: seconds between polls (a vendor's ``retry_after`` wins when given).
    :param timeout_at: epoch seconds when the sensor's ``timeout`` ends the wait (None: no limit).
    :param execution_deadline: epoch seconds when the task's ``execution_timeout`` ends it.
    :param vendor_options: vendor switches such as ``fail_on_warning`` (Alteryx), plain JSON.
    :param transient_fault_tolerance: seconds of uninterrupted faults before the wait fails.
    :param not_found_grace: seconds a 404 is read as "not visible yet" before "job not found".
    :param batch_id: the job's batch (Playment): waits on jobs of one batch are answered from one
        batch listing per interval, shared by every wait in the triggerer process.
    :param spread_start: when no call is due yet (no ``wait_state``, or a restart long after it),
        make the first at a random point of one interval, so waits that start together (a mapped
        sensor, a triggerer restart) do not poll in lock-step.
    :param seen_status: the vendor status the sensor saw (and logged) just before deferring: the
        trigger logs state changes, and that one is not news.
    :param cancel_on_kill: on Airflow 3.3+, when the deferred task is marked failed or success or
        cleared, cancel the job at the vendor (or warn where it has no cancel call). Off by default:
        a sensor never cancels a job it did not start; the run operators turn it on.
    :param end_from_trigger: the task's :class:`~.outcome.Ending` options (plain dict) when the
        trigger ends the task itself (Airflow's task-success/failed/skipped events); None: the
        event resumes the task on a worker.
    :param not_before: epoch seconds before which no event resumes the task on a worker (the
        deferring worker's exit must have been reported first: Airflow's late-exit race).
    :param wait_state: the wait's clocks (:meth:`.policy.Clocks.to_dict`) from the check made
        before deferring: when it started, faults and 404s seen, when the next call is due.
    """

    def __init__(
        self,
        conn_id: str,
        job_id: str,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout_at: float | None = None,
        execution_deadline: float | None = None,
        vendor_options: dict[str, Any] | None = None,
        transient_fault_tolerance: float = DEFAULT_FAULT_TOLERANCE,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        batch_id: str | None = None,
        spread_start: bool = False,
        seen_status: str | None = None,
        cancel_on_kill: bool = False,
        end_from_trigger: dict[str, Any] | None = None,
        not_before: float | None = None,
        wait_state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.conn_id = conn_id
        self.job_id = job_id
        self.poll_interval = float(poll_interval)
        self.timeout_at = timeout_at
        self.execution_deadline = execution_deadline
        self.vendor_options = dict(vendor_options or {})
        self.transient_fault_tolerance = float(transient_fault_tolerance)
        self.not_found_grace = float(not_found_grace)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.batch_id = batch_id or None
        self.spread_start = bool(spread_start)
        self.seen_status = seen_status
        self.cancel_on_kill = bool(cancel_on_kill)
        self.end_from_trigger = dict(end_from_trigger) if end_from_trigger is not None else None
        self.not_before = not_before
        self.wait_state = dict(wait_state) if wait_state else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "job_id": self.job_id,
                "poll_interval": self.poll_interval,
                "timeout_at": self.timeout_at,
                "execution_deadline": self.execution_deadline,
                "vendor_options": self.vendor_options,
                "transient_fault_tolerance": self.transient_fault_tolerance,
                "not_found_grace": self.not_found_grace,
                "backoff": self.backoff,
                "max_backoff": self.max_backoff,
                "batch_id": self.batch_id,
                "spread_start": self.spread_start,
                "seen_status": self.seen_status,
                "cancel_on_kill": self.cancel_on_kill,
                "end_from_trigger": self.end_from_trigger,
                "not_before": self.not_before,
                "wait_state": self.wait_state,
            },
        )

    @classmethod
    def compact_kwargs(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` without the entries the trigger would take by default (nulls, empty vendor
        options, default tolerances): a ``start_from_trigger`` task carries them in its serialized
        DAG, and the triggerer keeps a copy of that DAG for every such trigger it runs. The trigger
        built from the result is the same; stored kwargs that name every entry still load."""
        defaults = _init_defaults(cls)

        def default(name: str, value: Any) -> bool:
            if name == "vendor_options":
                return not value
            return name in defaults and value == defaults[name]

        return {name: value for name, value in kwargs.items() if not default(name, value)}

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Render the task's templated fields only when one holds a template (``airflow_workarounds``)."""
        if jinja_env is None and not workarounds.needs_rendering(self):
            return
        super().render_template_fields(context, jinja_env)

    def deadline(self) -> tuple[float, DeadlineReason]:
        """The nearer of the two deadlines and which one it is.

        Started by the scheduler (``start_from_trigger``) there is no ``timeout_at``: the
        triggerer's own ``timeout_after`` (the sensor's timeout, capped by ``execution_timeout``,
        from when the scheduler created the trigger) stands in, so the trigger still ends the wait
        itself and says what it saw last."""
        timeout_at = self.timeout_at
        scheduled = getattr(self, "timeout_after", None)  # set by the triggerer
        if timeout_at is None and isinstance(scheduled, datetime):
            timeout_at = scheduled.timestamp()
        return nearest_deadline(timeout_at, self.execution_deadline)

    def policy(self, vendor: Any, now: float) -> WaitPolicy:
        """The wait's rules, with the clocks the sensor or operator handed over."""
        timeout_at, reason = self.deadline()
        policy = policy_for(
            vendor,
            self.job_id,
            poll_interval=self.poll_interval,
            transient_fault_tolerance=self.transient_fault_tolerance,
            not_found_grace=self.not_found_grace,
            timeout_at=timeout_at if reason == "timeout" else None,
            execution_deadline=self.execution_deadline,
            vendor_options=self.vendor_options,
            now=now,
            backoff=self.backoff,
            max_backoff=self.max_backoff,
            clocks=self.wait_state,
            seen_status=self.seen_status,
        )
        deadline, rules = policy.deadline, policy.rules
        if self.spread_start:
            # waits that start together (a mapped sensor, a triggerer restart) should not all hit
            # the vendor at one instant: the first call comes at a random point of one interval
            c = policy.clocks
            if c.due is None or c.due < now:
                c.due = now + random.uniform(0, max(0.0, min(rules.interval, deadline - now)))
        return policy

    async def run(self) -> AsyncIterator[TriggerEvent]:
        if self.cancel_on_kill:
            workarounds.watch_stalls()
        hooks = await import_off_loop(_HOOKS_MODULE)
        payload = await self._wait(hooks)
        if self.end_from_trigger is not None:
            ending = await self._task_end_event(payload)
            if ending is not None:
                yield ending
                return
        await workarounds.hold_until(self.not_before)
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call]

    async def _wait(self, hooks: Any) -> dict[str, Any]:
        """Drive the wait's policy with the async hook until it ends; the end's event payload."""
        try:
            hook = await hooks.JobStatusHook.afor_connection(
                self.conn_id, retries=1, backoff=self.backoff, max_backoff=self.max_backoff
            )
            async with hook:
                await hook.async_client()  # connection problems show here, before the first call
                policy = self.policy(hook.vendor, time.time())
                # calls queue for the connection's request budget in the order of the deadlines
                with hooks.budget_deadline(policy.deadline if policy.deadline != math.inf else None):
                    event = await self._poll(hook, policy)
                seconds = time.time() - policy.clocks.started
                metrics.wait_event(hook.vendor.name, self.conn_id, seconds, event)
                return event
        except JobStatusError as exc:  # the connection, or a bad id, found before the first call
            return error_event(exc, self.job_id, None)

    async def _poll(self, hook: Any, policy: WaitPolicy) -> dict[str, Any]:
        step = policy.next(time.time())
        while not isinstance(step, End):
            if isinstance(step, Sleep):
                seconds = step.until - time.time()
                del step  # a sleeping wait holds no object of its own but the sleep (_sleep.py)
                await pause(seconds)
                step = policy.next(time.time())
                continue
            try:
                if self.batch_id is None or step.probe:
                    answer: JobStatus | JobStatusError = await hook.aget_job_status(
                        self.job_id, retries=1, max_age=step.max_age, **step.options
                    )
                else:
                    answer = await self._batch_status(hook, step)
            except JobStatusError as exc:
                answer = exc
            step = policy.answer(answer, time.time())
            if policy.notes:
                for level, line in policy.take_notes():
                    self.log.log(level, line)
        return step.event

    async def _batch_status(self, hook: Any, ask: Ask) -> JobStatus:
        """A job of a batch as its batch listing has it, shared by the waits on that batch in this
        triggerer (one listing per interval); the job's own status once the listing says it ended."""
        listed = (await hook.abatch_snapshot(self.batch_id, max_age=ask.max_age or 0.0)).get(self.job_id)
        if listed is not None and listed.state in (JobState.QUEUED, JobState.RUNNING):
            return JobStatus(
                vendor=hook.vendor.name,
                job_id=self.job_id,
                state=listed.state,
                raw_status=listed.status,
                message=f"as listed in batch {self.batch_id!r}",
            )
        status: JobStatus = await hook.aget_job_status(self.job_id, retries=1, max_age=ask.max_age)
        return status

    async def _task_end_event(self, payload: dict[str, Any]) -> TriggerEvent | None:
        """The event that ends the task from the triggerer (``end_from_trigger``), with the outcome
        logged as the task would log it; None when only a worker can end it exactly."""
        from airflow_provider_jobstatus.triggers.outcome import Ending, event_outcome, timeout_cancels

        ending = Ending.from_kwargs(self.end_from_trigger or {})
        outcome = event_outcome(payload, ending, self.job_id)
        event = outcome.task_end_event(ending)
        if event is not None and self.cancel_on_kill and timeout_cancels(payload):
            await self._cancel("the wait timed out")  # the worker would have, before failing
        if event is None:
            why = "would retry it" if not outcome.retryable else "cannot retry it on this Airflow"
            self.log.info(
                "%s; the task resumes on a worker to end (Airflow's task-failed event %s)",
                outcome.message,
                why,
            )
        elif outcome.state == "success":
            self.log.info("%s; the wait is over", outcome.message)
            ti = getattr(self, "task_instance", None)
            event = await workarounds.pushed_as_the_worker_would(event, ti)
        elif outcome.state == "skipped":
            self.log.info("%s; skipping the task", outcome.message)
        else:
            self.log.error("%s: %s", outcome.error.__name__, outcome.message)
        return event

    async def on_kill(self) -> None:
        """Airflow 3.3 calls this when it stops the trigger for a user's action on the task, but
        also when it merely moves the trigger to another triggerer: the job is cancelled only if
        Airflow says the task is no longer deferred (``airflow_workarounds``)."""
        if not self.cancel_on_kill:
            return
        stall = workarounds.recent_stall()
        if stall is not None:
            self.log.warning(
                "Job %r: trigger stopped %.0f s after this triggerer stood still for %.0f s (past half "
                "its health check threshold): its triggers were handed to another triggerer, so this "
                "is taken for a reassignment and the job is not cancelled; if the task was killed "
                "meanwhile, cancel the job at the vendor by hand",
                self.job_id,
                stall[0],
                stall[1],
            )
            return
        await workarounds.outlast_cancels(self._cancel_job_on_kill(), workarounds.ON_KILL_SECONDS)

    async def _cancel_job_on_kill(self) -> None:
        state = await workarounds.task_state(getattr(self, "task_instance", None))
        if state == "deferred" or state is workarounds.UNKNOWN_STATE:
            why = (
                "Airflow could not say"
                if state is workarounds.UNKNOWN_STATE
                else "the task is still deferred"
            )
            self.log.info(
                "Job %r: trigger stopped but %s (moved to another triggerer?): not cancelling",
                self.job_id,
                why,
            )
            return
        if not await self._job_has_ended():
            await self._cancel(f"the task is now {state}")

    async def _cancel(self, why: str) -> None:
        hooks = await import_off_loop(_HOOKS_MODULE)
        from airflow_provider_jobstatus.cancel import acancel_job, report

        try:
            hook = await hooks.JobStatusHook.afor_connection(self.conn_id, retries=1)
            async with hook:
                await acancel_job(hook, self.job_id, why, self.log)
        except JobStatusError as exc:
            report(self.conn_id, self.job_id, why, exc, self.log)  # the connection itself failed

    async def _job_has_ended(self) -> bool:
        """Whether the vendor says the job has ended: there is nothing to cancel, and another copy
        of this trigger (Airflow may run one briefly in two triggerers) has ended the wait, which
        is why the task is no longer deferred although nobody killed it. Transient faults get the
        hook's retries (its backoff, the vendor's ``Retry-After``), so that one 5xx does not cancel
        a job that has ended; still unknown after them: False."""
        hooks = await import_off_loop(_HOOKS_MODULE)
        try:
            hook = await hooks.JobStatusHook.afor_connection(self.conn_id)
            async with hook:
                status = await hook.aget_job_status(self.job_id, **self.vendor_options)
        except JobStatusError:
            return False
        if not status.state.is_terminal:
            return False
        self.log.info(
            "Job %r: trigger stopped, but the job has already ended (%s): nothing to cancel",
            self.job_id,
            status.raw_status,
        )
        return True


@functools.cache
def _init_defaults(cls: type[JobStatusTrigger]) -> dict[str, Any]:
    return {
        name: param.default
        for name, param in inspect.signature(cls.__init__).parameters.items()
        if param.default is not inspect.Parameter.empty
    }


#: the hooks, vendors, HTTP clients and TLS roots: imported off the triggerer's event loop
_HOOKS_MODULE = "airflow_provider_jobstatus.hooks"
_loaded: dict[str, ModuleType] = {}
_loading: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Future[ModuleType]]] = (
    weakref.WeakKeyDictionary()
)


async def import_off_loop(name: str) -> ModuleType:
    """``name`` imported in a worker thread the first time: imports are synchronous, and the
    triggerer warns when its event loop is held for more than 0.2 s. Waits starting together
    share one import, so they do not grow the loop's thread pool to its limit (each thread keeps
    its own malloc arena and stack for the life of the triggerer)."""
    module = _loaded.get(name)  # not sys.modules: a module is listed there before it has loaded
    if module is None:
        pending = _loading.setdefault(asyncio.get_running_loop(), {})
        future = pending.get(name)
        if future is None:
            future = pending[name] = asyncio.ensure_future(asyncio.to_thread(importlib.import_module, name))
            future.add_done_callback(lambda _: pending.pop(name, None))  # a failed import is tried again
        module = _loaded[name] = await asyncio.shield(future)
    return module
