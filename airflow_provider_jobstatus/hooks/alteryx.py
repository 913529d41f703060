"""The hook of connection type ``alteryx`` (Alteryx Server): its names come from
:mod:`airflow_provider_jobstatus.vendors.alteryx`, its work from :class:`.JobStatusHook`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class AlteryxHook(JobStatusHook, vendor="alteryx"):
    """Alteryx Server job status, results and auth through an Airflow connection of type ``alteryx``."""


__all__ = ["AlteryxHook"]
