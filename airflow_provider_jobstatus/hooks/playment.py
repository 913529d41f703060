"""The hook of connection type ``playment`` (Playment): its names come from
:mod:`airflow_provider_jobstatus.vendors.playment`, its work from :class:`.JobStatusHook`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class PlaymentHook(JobStatusHook, vendor="playment"):
    """Playment job status, results and auth through an Airflow connection of type ``playment``."""


__all__ = ["PlaymentHook"]
