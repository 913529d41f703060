"""The sans-IO vendor protocols, keyed by Airflow connection type."""

from __future__ import annotations

from airflow_provider_jobstatus.vendors import alteryx, apidatatools, nitro, pdfco, playment
from airflow_provider_jobstatus.vendors._base import VendorApi

VENDORS: dict[str, VendorApi] = {
    module.API.name: module.API for module in (nitro, pdfco, alteryx, apidatatools, playment)
}


def get_vendor(name: str) -> VendorApi:
    """The protocol for a connection type; a clear error listing the known types otherwise."""
    try:
        return VENDORS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown vendor {name!r}; known vendors: {', '.join(sorted(VENDORS))}") from None


__all__ = ["VENDORS", "VendorApi", "get_vendor"]
