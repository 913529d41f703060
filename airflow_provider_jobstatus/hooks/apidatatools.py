"""Hook for APIDataTools: the protocol lives in :mod:`airflow_provider_jobstatus.vendors.apidatatools`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class ApiDataToolsHook(JobStatusHook):
    """APIDataTools job status, results and auth through an Airflow connection of type ``apidatatools``."""

    vendor_name = "apidatatools"
    conn_name_attr = "conn_id"
    default_conn_name = "apidatatools_default"
    conn_type = "apidatatools"
    hook_name = "APIDataTools"
