"""The sans-IO vendor protocols, keyed by Airflow connection type, and what other packages use of them."""

from __future__ import annotations

from airflow_provider_jobstatus.vendors import alteryx, apidatatools, nitro, pdfco, playment
from airflow_provider_jobstatus.vendors._protocol import (
    MAX_BODY_BYTES,
    ApiRequest,
    ApiResponse,
    Credentials,
    ResultRequest,
    TokenGrant,
    VendorApi,
    retry_after_seconds,
)
from airflow_provider_jobstatus.vendors._results import (
    download_url,
    safe_file_name,
    unique_names,
    url_file_name,
)

VENDORS: dict[str, VendorApi] = {
    module.API.name: module.API for module in (nitro, pdfco, alteryx, apidatatools, playment)
}


def get_vendor(name: str) -> VendorApi:
    """The protocol for a connection type; a clear error listing the known types otherwise."""
    try:
        return VENDORS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown vendor {name!r}; known vendors: {', '.join(sorted(VENDORS))}") from None


__all__ = [
    "MAX_BODY_BYTES",
    "VENDORS",
    "ApiRequest",
    "ApiResponse",
    "Credentials",
    "ResultRequest",
    "TokenGrant",
    "VendorApi",
    "download_url",
    "get_vendor",
    "retry_after_seconds",
    "safe_file_name",
    "unique_names",
    "url_file_name",
]
