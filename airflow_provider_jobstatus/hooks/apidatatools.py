"""The hook of connection type ``apidatatools`` (APIDataTools): its names come from
:mod:`airflow_provider_jobstatus.vendors.apidatatools`, its work from :class:`.JobStatusHook`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class ApiDataToolsHook(JobStatusHook, vendor="apidatatools"):
    """APIDataTools job status, results and auth through an Airflow connection of type ``apidatatools``."""


__all__ = ["ApiDataToolsHook"]
