"""The sans-IO vendor protocols, keyed by Airflow connection type, and what other packages use of them."""

from __future__ import annotations

from airflow_provider_jobstatus.status import JobStatus
from airflow_provider_jobstatus.vendors import alteryx, apidatatools, nitro, pdfco, playment
from airflow_provider_jobstatus.vendors._protocol import (
    MAX_BODY_BYTES,
    ApiRequest,
    ApiResponse,
    Credentials,
    ResultRequest,
    TokenGrant,
    VendorApi,
    basic_authorization,
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


def describe_status(status: JobStatus) -> str:
    """A one-line summary for logs and error messages, with the vendor's display name (the name
    users know, as in every error): "PDF.co job 'X' is running (vendor status 'working')"."""
    vendor = VENDORS.get(status.vendor)
    text = f"{vendor.display_name if vendor else status.vendor} job {status.job_id!r} is {status.state.value}"
    if status.raw_status is not None and status.raw_status != status.state.value:
        text += f" (vendor status {status.raw_status!r})"
    if status.message:
        text += f": {status.message}"
    return text


__all__ = [
    "MAX_BODY_BYTES",
    "VENDORS",
    "ApiRequest",
    "ApiResponse",
    "Credentials",
    "ResultRequest",
    "TokenGrant",
    "VendorApi",
    "basic_authorization",
    "describe_status",
    "download_url",
    "get_vendor",
    "retry_after_seconds",
    "safe_file_name",
    "unique_names",
    "url_file_name",
]
