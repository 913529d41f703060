"""Hook for Nitro PDF Services: the protocol lives in :mod:`airflow_provider_jobstatus.vendors.nitro`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class NitroHook(JobStatusHook):
    """Nitro PDF Services job status, results and auth through an Airflow connection of type ``nitro``."""

    vendor_name = "nitro"
    conn_name_attr = "conn_id"
    default_conn_name = "nitro_default"
    conn_type = "nitro"
    hook_name = "Nitro PDF Services"
