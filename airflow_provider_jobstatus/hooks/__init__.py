"""One hook class per vendor, made from the vendor registry; the connection's type picks it.

``airflow_provider_jobstatus.hooks.<Name>Hook`` is each registered vendor's class (e.g.
``PdfCoHook``); the five first vendors' classes are also importable from their own modules
(``airflow_provider_jobstatus.hooks.pdfco.PdfCoHook``).
"""

from __future__ import annotations

from airflow_provider_jobstatus.hooks._settings import ClientSettings, ConnSettings, origin_of
from airflow_provider_jobstatus.hooks._vendor_hooks import VendorHooks, hook_class, hook_named
from airflow_provider_jobstatus.hooks.base import JobStatusHook

#: connection type -> hook class, for every registered vendor
HOOKS = VendorHooks()


def __getattr__(name: str) -> type[JobStatusHook]:
    hook = hook_named(name)
    if hook is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return hook


__all__ = [
    "HOOKS",
    "ClientSettings",
    "ConnSettings",
    "JobStatusHook",
    "hook_class",
    "origin_of",
]
