"""``AlteryxHook`` at its fixed public name: the hook of connection type ``alteryx``, made from
:mod:`airflow_provider_jobstatus.vendors.alteryx` as every vendor's is."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks import hook_class

AlteryxHook = hook_class("alteryx")

__all__ = ["AlteryxHook"]
