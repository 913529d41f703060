"""The wait itself, run by the triggerer: poll until the job ends or a deadline passes.

Everything in the kwargs is plain data (no credential: the connection is fetched again in the
triggerer), and the deadlines are absolute epoch seconds, so a triggerer restart that re-creates
the trigger from its kwargs goes on where it was. One event ends the wait; transient faults never
do until they have lasted ``transient_fault_tolerance`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_jobstatus.errors import JobNotFoundError, JobStatusError, TransientVendorError
from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.retry import Backoff
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.triggers.events import done_event, error_event, timeout_event

DEFAULT_POLL_INTERVAL = 30.0
DEFAULT_FAULT_TOLERANCE = 30 * 60.0
DEFAULT_NOT_FOUND_GRACE = 60.0


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
            },
        )

    def deadline(self) -> tuple[float, str]:
        """The nearer of the two deadlines and which one it is.

        Started by the scheduler (``start_from_trigger``) there is no ``timeout_at``: the
        triggerer's own ``timeout_after`` (the sensor's timeout, capped by ``execution_timeout``,
        from when the scheduler created the trigger) stands in, so the trigger still ends the wait
        itself and says what it saw last."""
        candidates = [(float("inf"), "none")]
        if self.timeout_at is not None:
            candidates.append((float(self.timeout_at), "timeout"))
        else:
            scheduled = getattr(self, "timeout_after", None)  # set by the triggerer
            if isinstance(scheduled, datetime):
                candidates.append((scheduled.timestamp(), "timeout"))
        if self.execution_deadline is not None:
            candidates.append((float(self.execution_deadline), "execution_timeout"))
        return min(candidates)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            hook = await JobStatusHook.afor_connection(
                self.conn_id, retries=1, backoff=self.backoff, max_backoff=self.max_backoff
            )
        except JobStatusError as exc:
            yield TriggerEvent(error_event(exc, self.job_id, None))  # type: ignore[no-untyped-call]
            return
        try:
            async with hook:
                yield TriggerEvent(await _Wait(self, hook).run())  # type: ignore[no-untyped-call]
        except JobStatusError as exc:  # connection problems found on the first poll
            yield TriggerEvent(error_event(exc, self.job_id, None))  # type: ignore[no-untyped-call]


class _Wait:
    """The state of one wait: what was last seen, how long faults have lasted."""

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
        self.log = trigger.log

    async def run(self) -> dict[str, Any]:
        while True:
            deadline, reason = self.t.deadline()
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
            await asyncio.sleep(max(0.0, min(wait, remaining)))

    async def poll(self, **extra: Any) -> dict[str, Any] | float:
        """Poll once: an event dict when the wait is over, else the seconds to sleep."""
        now = time.time()
        try:
            status = await self.fetch(extra)
        except JobNotFoundError as exc:
            return self.not_found(exc, now)
        except JobStatusError as exc:
            if not exc.transient:
                return error_event(exc, self.t.job_id, self.last)
            return self.fault(exc, now)
        self.recovered()
        self.observe(status)
        if status.state.is_terminal:
            return done_event(status)
        self.delay = status.retry_after if status.retry_after else self.t.poll_interval
        return self.delay

    async def fetch(self, extra: dict[str, Any]) -> JobStatus:
        """Ask for the status, sharing answers with other waits in this triggerer: an answer
        younger than most of this wait's own interval is as good as a new one."""
        options = {**self.t.vendor_options, **extra}
        if extra:  # a final check must really ask
            return await self.hook.aget_job_status(self.t.job_id, retries=1, **options)
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
        return await self.hook.aget_job_status(self.t.job_id, retries=1, max_age=max_age, **options)

    async def final_check(self) -> dict[str, Any] | None:
        """One last check before the deadline with the vendor's final-check options (PDF.co
        ``force``): an id the vendor says it does not know fails now instead of at the deadline."""
        self.final_check_done = True
        outcome = await self.poll(**self.vendor.final_check_options)
        if isinstance(outcome, dict):
            return outcome
        if self.last is not None and self.last.state is JobState.UNKNOWN:
            return error_event(
                JobNotFoundError(
                    self.vendor.display_name, self.t.job_id, "the vendor does not know this job id"
                ),
                self.t.job_id,
                self.last,
            )
        return None

    def observe(self, status: JobStatus) -> None:
        """One log line per state change (not per poll)."""
        previous = self.last
        self.last = status
        if previous is not None and (previous.state, previous.raw_status) == (
            status.state,
            status.raw_status,
        ):
            return
        if status.state is JobState.UNKNOWN:
            self.log.warning(
                "%s; not a status we know: still waiting until the deadline (poll every %.0f s)",
                status.describe(),
                self.t.poll_interval,
            )
        elif status.state.is_terminal:
            self.log.info("%s; the wait is over", status.describe())
        else:
            self.log.info(
                "%s; next check in %.0f s", status.describe(), status.retry_after or self.t.poll_interval
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
