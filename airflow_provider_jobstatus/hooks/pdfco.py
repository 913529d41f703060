"""Hook for PDF.co: the protocol lives in :mod:`airflow_provider_jobstatus.vendors.pdfco`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class PdfCoHook(JobStatusHook):
    """PDF.co job status, results and auth through an Airflow connection of type ``pdfco``."""

    vendor_name = "pdfco"
    conn_name_attr = "conn_id"
    default_conn_name = "pdfco_default"
    conn_type = "pdfco"
    hook_name = "PDF.co"
