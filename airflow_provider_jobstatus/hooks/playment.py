"""``PlaymentHook`` at its fixed public name: the hook of connection type ``playment``, made from
:mod:`airflow_provider_jobstatus.vendors.playment` as every vendor's is."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks import hook_class

PlaymentHook = hook_class("playment")

__all__ = ["PlaymentHook"]
