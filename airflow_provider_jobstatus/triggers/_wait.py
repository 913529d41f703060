"""The poll loop of one wait: what was last seen, how long faults have lasted, when to stop.

Kept apart from :mod:`.job_status` (the trigger's serializable definition) so that its imports can
be made off the triggerer's event loop."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_jobstatus.errors import JobNotFoundError, JobStatusError, TransientVendorError
from airflow_provider_jobstatus.hooks import JobStatusHook
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.triggers._sleep import sleep as pause
from airflow_provider_jobstatus.triggers.events import done_event, error_event, timeout_event
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger
from airflow_provider_jobstatus.triggers.outcome import (
    Ending,
    event_outcome,
    hold_until,
    pushed_as_the_worker_would,
    timeout_cancels,
)

__all__ = ["cancel_job", "cancel_on_kill", "hold_until", "task_end_event", "wait_for"]
from airflow_provider_jobstatus.vendors import describe_status

#: the longest a vendor's ``retry_after`` may make a wait sleep (unless the poll interval is longer)
MAX_VENDOR_PACING = 600.0


async def wait_for(trigger: JobStatusTrigger) -> dict[str, Any]:
    """Run one wait to its end and return the event payload."""
    try:
        hook = await JobStatusHook.afor_connection(
            trigger.conn_id, retries=1, backoff=trigger.backoff, max_backoff=trigger.max_backoff
        )
    except JobStatusError as exc:
        return error_event(exc, trigger.job_id, None)
    try:
        async with hook:
            await hook.async_client()  # connection problems show here, before the first poll
            return await _Wait(trigger, hook).run()
    except JobStatusError as exc:  # connection problems (or a bad id) found before or on the first poll
        return error_event(exc, trigger.job_id, None)


async def cancel_on_kill(trigger: JobStatusTrigger) -> None:
    """Cancel the job of a trigger whose task is no longer deferred (see ``JobStatusTrigger.on_kill``)."""
    log = trigger.log
    ti = getattr(trigger, "task_instance", None)
    state = await task_state(ti)
    if state == "deferred" or state is _UNKNOWN:
        why = "Airflow could not say" if state is _UNKNOWN else "the task is still deferred"
        log.info(
            "Job %r: trigger stopped but %s (moved to another triggerer?): not cancelling",
            trigger.job_id,
            why,
        )
        return
    await cancel_job(trigger, f"the task is now {state}")


async def cancel_job(trigger: JobStatusTrigger, why: str) -> None:
    """Cancel the trigger's job at the vendor, or warn once where it has no cancel call."""
    log = trigger.log
    try:
        hook = await JobStatusHook.afor_connection(trigger.conn_id, retries=1)
        async with hook:
            name = hook.vendor.display_name
            if not await hook.acancel_job(trigger.job_id):
                log.warning(
                    "%s has no cancel call: job %r is left running at %s (%s)",
                    name,
                    trigger.job_id,
                    name,
                    why,
                )
                return
    except JobStatusError as exc:
        log.warning("Could not cancel job %r (%s): %s", trigger.job_id, why, exc)
        return
    log.info("%s job %r canceled: %s", name, trigger.job_id, why)


_UNKNOWN: Any = object()


async def task_state(ti: Any) -> Any:
    """The task instance's state as Airflow has it now, or ``_UNKNOWN`` when it cannot say."""
    if ti is None:
        return _UNKNOWN
    try:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        map_index = getattr(ti, "map_index", -1)
        # a sync SDK call: made from a thread, it waits on the triggerer's comms without blocking the loop
        states = await asyncio.to_thread(
            RuntimeTaskInstance.get_task_states,
            dag_id=ti.dag_id,
            map_index=map_index,
            task_ids=[ti.task_id],
            run_ids=[ti.run_id],
        )
    except Exception:  # no answer means no cancel, never a crash in on_kill
        return _UNKNOWN
    key = ti.task_id if map_index is None or map_index < 0 else f"{ti.task_id}_{map_index}"
    run = states.get(ti.run_id) if isinstance(states, dict) else None
    return run.get(key, _UNKNOWN) if isinstance(run, dict) else _UNKNOWN


async def task_end_event(trigger: JobStatusTrigger, payload: dict[str, Any]) -> TriggerEvent | None:
    """The event that ends the task from the triggerer (``end_from_trigger``), with the outcome
    logged as the task would log it; None when only a worker can end it exactly."""
    ending = Ending.from_kwargs(trigger.end_from_trigger or {})
    outcome = event_outcome(payload, ending, trigger.job_id)
    event = outcome.task_end_event(ending)
    log = trigger.log
    if event is not None and trigger.cancel_on_kill and timeout_cancels(payload):
        await cancel_job(trigger, "the wait timed out")  # the worker would have, before failing
    if event is None:
        why = "would retry it" if not outcome.retryable else "cannot retry it on this Airflow"
        log.info(
            "%s; the task resumes on a worker to end (Airflow's task-failed event %s)", outcome.message, why
        )
    elif outcome.state == "success":
        log.info("%s; the wait is over", outcome.message)
        event = await pushed_as_the_worker_would(event, getattr(trigger, "task_instance", None))
    elif outcome.state == "skipped":
        log.info("%s; skipping the task", outcome.message)
    else:
        log.error("%s: %s", outcome.error.__name__, outcome.message)
    return event


class _Wait:
    """The state of one wait: what was last seen, how long faults have lasted."""

    __slots__ = (
        "backoff",
        "delay",
        "failures",
        "faults_since",
        "final_check_done",
        "hook",
        "last",
        "not_found_since",
        "t",
        "vendor",
    )

    def __init__(self, trigger: JobStatusTrigger, hook: JobStatusHook) -> None:
        self.t = trigger
        self.hook = hook
        self.vendor = hook.vendor
        self.backoff = Backoff(trigger.backoff, trigger.max_backoff)
        self.last: JobStatus | None = None
        self.failures = 0
        self.faults_since: float | None = None
        self.not_found_since: float | None = None
        self.final_check_done = False
        self.delay = trigger.poll_interval

    @property
    def log(self) -> Any:
        """The trigger's logger, made only when there is something to say (most waits never log)."""
        return self.t.log

    async def run(self) -> dict[str, Any]:
        deadline, reason = self.t.deadline()  # absolute: fixed for the life of the wait
        if self.t.spread_start:
            # The sensor checked on its worker a moment ago, and waits that start together (a
            # mapped sensor, a triggerer restart) should not all hit the vendor at one instant:
            # the first poll comes at a random point of the first interval.
            await pause(random.uniform(0, min(self.t.poll_interval, deadline - time.time())))
        while True:
            if time.time() >= deadline:
                return timeout_event(reason, self.vendor.display_name, self.t.job_id, self.last)
            started = time.monotonic()
            outcome = await self.poll()
            if isinstance(outcome, dict):
                return outcome
            remaining = deadline - time.time()
            if remaining <= outcome and not self.final_check_done and self.vendor.final_check_options:
                final = await self.final_check()
                if final is not None:
                    return final
            # a fixed cadence: the interval counts from the start of the poll, so slow answers
            # under load do not stretch the schedule
            wait = outcome - (time.monotonic() - started)
            await pause(min(wait, remaining))

    async def poll(self, **extra: Any) -> dict[str, Any] | float:
        """Poll once: an event dict when the wait is over, else the seconds to sleep."""
        now = time.time()
        try:
            status = await self.fetch(extra)
        except JobNotFoundError as exc:
            if extra:  # the final check is the vendor's last word: no grace is left to give
                return error_event(exc, self.t.job_id, self.last)
            return self.not_found(exc, now)
        except JobStatusError as exc:
            if not exc.transient:
                return error_event(exc, self.t.job_id, self.last)
            return self.fault(exc, now)
        self.recovered()
        self.observe(status)
        if status.state.is_terminal:
            return done_event(status)
        # the vendor's pacing hint wins, but a broken one cannot park the wait for hours
        ceiling = max(self.t.poll_interval, MAX_VENDOR_PACING)
        self.delay = min(status.retry_after, ceiling) if status.retry_after else self.t.poll_interval
        return self.delay

    async def fetch(self, extra: dict[str, Any]) -> JobStatus:
        """Ask for the status, sharing answers with other waits in this triggerer: an answer
        younger than most of this wait's own interval is as good as a new one."""
        if extra:  # a final check must really ask
            return await self.hook.aget_job_status(
                self.t.job_id, retries=1, **{**self.t.vendor_options, **extra}
            )
        max_age = 0.9 * self.delay
        if self.t.batch_id:
            listed = (await self.hook.abatch_snapshot(self.t.batch_id, max_age=max_age)).get(self.t.job_id)
            if listed is not None and listed.state in (JobState.QUEUED, JobState.RUNNING):
                return JobStatus(
                    vendor=self.vendor.name,
                    job_id=self.t.job_id,
                    state=listed.state,
                    raw_status=listed.status,
                    message=f"as listed in batch {self.t.batch_id!r}",
                )
        return await self.hook.aget_job_status(
            self.t.job_id, retries=1, max_age=max_age, **self.t.vendor_options
        )

    async def final_check(self) -> dict[str, Any] | None:
        """One last check before the deadline with the vendor's final-check options (PDF.co
        ``force``): an id the vendor says it does not know fails now instead of at the deadline."""
        self.final_check_done = True
        outcome = await self.poll(**self.vendor.final_check_options)
        return outcome if isinstance(outcome, dict) else None

    def observe(self, status: JobStatus) -> None:
        """One log line per state change (not per poll), counting what the sensor logged before
        it deferred; the final state is logged by the task when it resumes with the event. At
        thousands of waits a log line in the triggerer costs as much as a poll."""
        previous = self.last
        self.last = status
        if status.state.is_terminal:
            return
        if previous is None:
            if status.raw_status == self.t.seen_status:
                return
        elif (previous.state, previous.raw_status) == (status.state, status.raw_status):
            return
        if status.state is JobState.UNKNOWN:
            self.log.warning(
                "%s; not a status we know: still waiting until the deadline (poll every %.0f s)",
                describe_status(status),
                self.t.poll_interval,
            )
        else:
            self.log.info(
                "%s; next check in %.0f s",
                describe_status(status),
                status.retry_after or self.t.poll_interval,
            )

    def fault(self, exc: JobStatusError, now: float) -> dict[str, Any] | float:
        self.failures += 1
        if self.faults_since is None:
            self.faults_since = now
            self.log.warning("%s; treating as transient and retrying with backoff", exc)
        if now - self.faults_since >= self.t.transient_fault_tolerance:
            return error_event(exc, self.t.job_id, self.last, persisted_for=now - self.faults_since)
        hint = exc.retry_after if isinstance(exc, TransientVendorError) else None
        return self.backoff.delay(self.failures, hint)

    def not_found(self, exc: JobNotFoundError, now: float) -> dict[str, Any] | float:
        if self.not_found_since is None:
            self.not_found_since = now
            self.log.warning("%s; waiting up to %.0f s for it to appear", exc, self.t.not_found_grace)
        if now - self.not_found_since >= self.t.not_found_grace:
            return error_event(exc, self.t.job_id, self.last)
        return min(self.t.poll_interval, max(1.0, self.t.not_found_grace / 4))

    def recovered(self) -> None:
        if self.faults_since is not None:
            self.log.info(
                "%s job %r: answering again after %d faults",
                self.vendor.display_name,
                self.t.job_id,
                self.failures,
            )
        self.failures = 0
        self.faults_since = None
        self.not_found_since = None
