"""The provider's metrics, sent through Airflow's own ``Stats`` so they go wherever the user pointed
Airflow's metrics (StatsD, OpenTelemetry, Datadog). Every name is under ``jobstatus.`` and carries
the tags ``vendor`` (the connection type) and ``conn_id``. What each means: docs/metrics.md.

A metric never fails or slows the call it counts: a backend that raises is logged and ignored.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobNotFoundError,
    JobStatusError,
    MalformedResponseError,
    ResultExpiredError,
    TransientVendorError,
    UnsafeRedirectError,
    VendorRequestError,
)

log = logging.getLogger(__name__)

POLL = "jobstatus.poll"
FAULT = "jobstatus.fault"
RATE_LIMITED = "jobstatus.rate_limited"
START = "jobstatus.start"
REATTACH = "jobstatus.reattach"
CANCEL = "jobstatus.cancel"
WAIT_DURATION = "jobstatus.wait.duration"


def polled(vendor: str, conn_id: str) -> None:
    """One status request answered or not (each attempt, retries included)."""
    _incr(POLL, vendor, conn_id)


def faulted(vendor: str, conn_id: str, exc: JobStatusError) -> None:
    """A call that met an error of the behaviour contract, tagged with its ``kind``."""
    _incr(FAULT, vendor, conn_id, kind=fault_kind(exc))


def rate_limited(vendor: str, conn_id: str) -> None:
    """The vendor said the account is over its request rate (HTTP 429 or its own code)."""
    _incr(RATE_LIMITED, vendor, conn_id)


def started(vendor: str, conn_id: str) -> None:
    """A run operator started a new job."""
    _incr(START, vendor, conn_id)


def reattached(vendor: str, conn_id: str) -> None:
    """A run operator found the job an earlier try started and waits on it instead of starting one."""
    _incr(REATTACH, vendor, conn_id)


def cancelled(vendor: str, conn_id: str) -> None:
    """A cancel request the vendor accepted."""
    _incr(CANCEL, vendor, conn_id)


def wait_ended(vendor: str, conn_id: str, seconds: float, outcome: str) -> None:
    """A wait (trigger, sensor or run operator) ended after ``seconds`` with ``outcome``
    (``succeeded``, ``failed``, ``canceled``, ``timeout``, ``error``...)."""
    tags = {"vendor": vendor, "conn_id": conn_id, "outcome": outcome}
    try:
        _stats().timing(WAIT_DURATION, timedelta(seconds=max(0.0, seconds)), tags=tags)
    except Exception:  # a metrics backend never ends a wait
        log.debug("metric %s not sent", WAIT_DURATION, exc_info=True)


def wait_event(vendor: str, conn_id: str, seconds: float, event: dict[str, Any]) -> None:
    """:func:`wait_ended` for a wait that ended with ``event``: the job's state, or the end's kind."""
    job = event.get("job") if event.get("status") == "done" else None
    outcome = job.get("state") if isinstance(job, dict) else event.get("status")
    wait_ended(vendor, conn_id, seconds, str(outcome))


#: most specific first: the first class an error is an instance of names its kind
_KINDS: tuple[tuple[type[JobStatusError], str], ...] = (
    (AuthenticationError, "auth"),
    (JobNotFoundError, "not_found"),
    (MalformedResponseError, "malformed"),
    (ResultExpiredError, "expired"),
    (UnsafeRedirectError, "unsafe_redirect"),
    (ConfigurationError, "configuration"),
    (VendorRequestError, "refused"),
)


def fault_kind(exc: JobStatusError) -> str:
    """The ``kind`` tag of ``jobstatus.fault``: one word an alert can select on."""
    if isinstance(exc, TransientVendorError):
        code = exc.status_code
        if code == 429:
            return "rate_limited"
        if code is not None and code >= 500:
            return "server_error"
        return "timeout" if code == 408 else "connection"  # no answer: refused, reset, timed out
    return next((kind for cls, kind in _KINDS if isinstance(exc, cls)), "other")


_loaded: list[Any] = []


def _stats() -> Any:
    """The Task SDK's ``Stats`` (what providers use): imported when first sent, not at import."""
    if not _loaded:
        from airflow.providers.common.compat.sdk import Stats

        _loaded.append(Stats)
    return _loaded[0]


def _incr(name: str, vendor: str, conn_id: str, **extra: str) -> None:
    try:
        stats = _loaded[0] if _loaded else _stats()
        stats.incr(name, tags={"vendor": vendor, "conn_id": conn_id, **extra})
    except Exception:  # a metrics backend never fails the call it counts
        log.debug("metric %s not sent", name, exc_info=True)
