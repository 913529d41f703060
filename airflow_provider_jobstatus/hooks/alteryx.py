"""Hook for Alteryx Server: the protocol lives in :mod:`airflow_provider_jobstatus.vendors.alteryx`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class AlteryxHook(JobStatusHook):
    """Alteryx Server job status, results and auth through an Airflow connection of type ``alteryx``."""

    vendor_name = "alteryx"
    conn_name_attr = "conn_id"
    default_conn_name = "alteryx_default"
    conn_type = "alteryx"
    hook_name = "Alteryx Server"
