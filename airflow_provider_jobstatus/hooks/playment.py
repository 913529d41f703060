"""Hook for Playment (GT Studio): the protocol lives in :mod:`airflow_provider_jobstatus.vendors.playment`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class PlaymentHook(JobStatusHook):
    """Playment (GT Studio) job status, results and auth through a connection of type ``playment``."""

    vendor_name = "playment"
    conn_name_attr = "conn_id"
    default_conn_name = "playment_default"
    conn_type = "playment"
    hook_name = "Playment (GT Studio)"
