"""The hook of connection type ``nitro`` (Nitro PDF Services): its names come from
:mod:`airflow_provider_jobstatus.vendors.nitro`, its work from :class:`.JobStatusHook`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class NitroHook(JobStatusHook, vendor="nitro"):
    """Nitro PDF Services job status, results and auth through an Airflow connection of type ``nitro``."""


__all__ = ["NitroHook"]
