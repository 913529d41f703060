"""One hook class per vendor; the connection's type picks it."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks._settings import ClientSettings, ConnSettings, origin_of
from airflow_provider_jobstatus.hooks.alteryx import AlteryxHook
from airflow_provider_jobstatus.hooks.apidatatools import ApiDataToolsHook
from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.hooks.jobapi import JobApiHook
from airflow_provider_jobstatus.hooks.nitro import NitroHook
from airflow_provider_jobstatus.hooks.pdfco import PdfCoHook
from airflow_provider_jobstatus.hooks.playment import PlaymentHook

HOOKS: dict[str, type[JobStatusHook]] = {
    hook.conn_type: hook
    for hook in (NitroHook, PdfCoHook, AlteryxHook, ApiDataToolsHook, PlaymentHook, JobApiHook)
}

__all__ = [
    "HOOKS",
    "AlteryxHook",
    "ApiDataToolsHook",
    "ClientSettings",
    "ConnSettings",
    "JobApiHook",
    "JobStatusHook",
    "NitroHook",
    "PdfCoHook",
    "PlaymentHook",
    "origin_of",
]
