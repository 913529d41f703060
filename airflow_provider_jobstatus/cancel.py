"""Cancelling a job and saying what happened, the same from a worker and from the triggerer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_jobstatus.errors import JobStatusError

if TYPE_CHECKING:
    from airflow_provider_jobstatus.hooks.base import JobStatusHook


def cancel_job(hook: JobStatusHook, job_id: str, why: str, log: Any) -> None:
    """Cancel ``job_id`` from a worker; never raises (a failed cancel must not hide the task's end)."""
    try:
        done: bool | JobStatusError = hook.cancel_job(job_id)
    except JobStatusError as exc:
        done = exc
    report(hook.vendor.display_name, job_id, why, done, log)


async def acancel_job(hook: JobStatusHook, job_id: str, why: str, log: Any) -> None:
    """:func:`cancel_job` in the triggerer, without blocking its loop."""
    try:
        done: bool | JobStatusError = await hook.acancel_job(job_id)
    except JobStatusError as exc:
        done = exc
    report(hook.vendor.display_name, job_id, why, done, log)


def report(vendor: str, job_id: str, why: str, done: bool | JobStatusError, log: Any) -> None:
    """One log line: canceled, left running (the vendor has no cancel call), or the cancel's error."""
    if isinstance(done, JobStatusError):
        log.warning("Could not cancel job %r (%s): %s", job_id, why, done)
    elif done:
        log.info("%s job %r canceled: %s", vendor, job_id, why)
    else:
        log.warning("%s has no cancel call: job %r is left running at %s (%s)", vendor, job_id, vendor, why)
