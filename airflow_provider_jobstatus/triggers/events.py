"""The events a wait ends with: small plain-JSON dicts, logged in clear by the triggerer, so they
carry no secret and no signed URL's query string (``JobStatus.to_event`` strips both), and vendor
text cut to a few KiB (:func:`~airflow_provider_jobstatus.status.cut_text`)."""

from __future__ import annotations

from typing import Any, Literal

from airflow_provider_jobstatus.errors import JobStatusError
from airflow_provider_jobstatus.status import JobStatus, cut_text
from airflow_provider_jobstatus.vendors import describe_status

EventKind = Literal["done", "error", "timeout"]


def done_event(status: JobStatus) -> dict[str, Any]:
    return {"status": "done", "job_id": status.job_id, "job": status.to_event()}


def error_event(
    exc: JobStatusError, job_id: str, last: JobStatus | None, persisted_for: float | None = None
) -> dict[str, Any]:
    message = str(exc)
    if persisted_for is not None:
        message += f" (faults persisted for {persisted_for:.0f} s)"
    return {
        "status": "error",
        "job_id": job_id,
        "error": type(exc).__name__,
        "message": cut_text(message, f"the error of job {job_id!r}"),
        # a fault that may pass leaves the task to its retries; credentials, a refused request or a
        # job the vendor does not know fail it for good (retrying cannot help)
        "retryable": exc.transient,
        "job": last.to_event() if last else None,
    }


def timeout_event(reason: str, vendor: str, job_id: str, last: JobStatus | None) -> dict[str, Any]:
    seen = describe_status(last, vendor) if last else "no status was read"
    what = "the task's execution_timeout" if reason == "execution_timeout" else "the task's timeout"
    return {
        "status": "timeout",
        "job_id": job_id,
        "reason": reason,
        "message": cut_text(f"{vendor} job {job_id!r}: {what} was reached; last seen: {seen}", "the timeout"),
        "job": last.to_event() if last else None,
    }
