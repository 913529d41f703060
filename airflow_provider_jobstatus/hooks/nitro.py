"""``NitroHook`` at its fixed public name: the hook of connection type ``nitro``, made from
:mod:`airflow_provider_jobstatus.vendors.nitro` as every vendor's is."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks import hook_class

NitroHook = hook_class("nitro")

__all__ = ["NitroHook"]
