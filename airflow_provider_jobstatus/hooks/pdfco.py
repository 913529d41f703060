"""The hook of connection type ``pdfco`` (PDF.co): its names come from
:mod:`airflow_provider_jobstatus.vendors.pdfco`, its work from :class:`.JobStatusHook`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook


class PdfCoHook(JobStatusHook, vendor="pdfco"):
    """PDF.co job status, results and auth through an Airflow connection of type ``pdfco``."""


__all__ = ["PdfCoHook"]
