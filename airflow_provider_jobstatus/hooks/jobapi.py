"""``JobApiHook`` at its fixed public name: the hook of connection type ``jobapi``, whose protocol
each connection declares in its ``profile`` extra (:mod:`airflow_provider_jobstatus.vendors.jobapi`),
read and checked with the connection and by the connection form's Test button."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks import hook_class

JobApiHook = hook_class("jobapi")

__all__ = ["JobApiHook"]
