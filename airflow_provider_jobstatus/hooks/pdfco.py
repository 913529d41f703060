"""``PdfCoHook`` at its fixed public name: the hook of connection type ``pdfco``, made from
:mod:`airflow_provider_jobstatus.vendors.pdfco` as every vendor's is."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks import hook_class

PdfCoHook = hook_class("pdfco")

__all__ = ["PdfCoHook"]
