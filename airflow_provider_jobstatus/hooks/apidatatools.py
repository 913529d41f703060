"""``ApiDataToolsHook`` at its fixed public name: the hook of connection type ``apidatatools``, made from
:mod:`airflow_provider_jobstatus.vendors.apidatatools` as every vendor's is."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks import hook_class

ApiDataToolsHook = hook_class("apidatatools")

__all__ = ["ApiDataToolsHook"]
