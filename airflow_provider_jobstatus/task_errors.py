"""How tasks (sensor and operators) get their hook and how vendor errors become Airflow errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_jobstatus.errors import JobStatusError
from airflow_provider_jobstatus.hooks.base import JobStatusHook


def airflow_error(exc: JobStatusError, note: str = "") -> AirflowException:
    """A fault that may pass leaves the task to its retries; anything else (credentials, an expired
    link, a refused request) fails it at once, since retrying cannot help."""
    text = f"{exc}{f' ({note})' if note else ''}"
    return AirflowException(text) if exc.transient else AirflowFailException(text)


def hook_for(conn_id: str, hook_params: Mapping[str, Any] | None) -> JobStatusHook:
    """The vendor hook the connection's type selects, with the task's hook settings
    (``retries``, ``backoff``, ``timeout``; ``transport`` for an ``httpx.MockTransport`` in tests)."""
    try:
        hook = JobStatusHook.for_connection(conn_id, **dict(hook_params or {}))
        hook.settings()  # a wrong field fails the task here, naming it, before any request
        return hook
    except JobStatusError as exc:
        raise airflow_error(exc) from exc
