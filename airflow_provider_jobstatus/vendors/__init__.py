"""The vendor registry: the sans-IO protocols keyed by Airflow connection type, and what other
packages use of them.

Every public module of this package that has an ``API`` (a :class:`VendorApi`) is a vendor: the
connection types, the hook classes, provider info, the run operators' check of a connection's
type and the simulator's catalog are all made from :data:`VENDORS`. Adding a vendor is adding
its module here (and its simulator module and tests); nothing lists the vendors by hand.
"""

from __future__ import annotations

import importlib
import pkgutil

from airflow_provider_jobstatus.status import JobStatus
from airflow_provider_jobstatus.vendors._form import ConnectionForm, text_field
from airflow_provider_jobstatus.vendors._protocol import (
    MAX_BODY_BYTES,
    ApiRequest,
    ApiResponse,
    Credentials,
    OffsetListing,
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


def _discover() -> dict[str, VendorApi]:
    found: dict[str, VendorApi] = {}
    for module in pkgutil.iter_modules(__path__, f"{__name__}."):
        if not module.name.rpartition(".")[2].startswith("_"):
            api = getattr(importlib.import_module(module.name), "API", None)
            if isinstance(api, VendorApi):
                found[api.name] = api
    return found


#: connection type -> protocol, in the order of the modules' names
VENDORS: dict[str, VendorApi] = _discover()


def register(api: VendorApi) -> None:
    """Add a vendor declared outside this package (a test's, a plug-in's); call it before the
    connection types, hooks or the simulator are asked for it."""
    known = VENDORS.get(api.name)
    if known is not None and known is not api:
        raise ValueError(f"a vendor {api.name!r} is already registered ({known.display_name})")
    VENDORS[api.name] = api


def unregister(name: str) -> None:
    """Forget a vendor added by :func:`register`."""
    VENDORS.pop(name, None)


def get_vendor(name: str) -> VendorApi:
    """The protocol for a connection type; a clear error listing the known types otherwise."""
    try:
        return VENDORS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown vendor {name!r}; known vendors: {', '.join(sorted(VENDORS))}") from None


def describe_status(status: JobStatus, name: str | None = None) -> str:
    """A one-line summary for logs and error messages, with the vendor's display name (the name
    users know, as in every error): "PDF.co job 'X' is running (vendor status 'working')".
    ``name`` is the caller's, where it knows it (a declared API's status may have lost its own)."""
    vendor = VENDORS.get(status.vendor)
    name = name or (vendor.name_in(status) if vendor else status.vendor)
    text = f"{name} job {status.job_id!r} is {status.state.value}"
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
    "ConnectionForm",
    "Credentials",
    "OffsetListing",
    "ResultRequest",
    "TokenGrant",
    "VendorApi",
    "basic_authorization",
    "describe_status",
    "download_url",
    "get_vendor",
    "register",
    "retry_after_seconds",
    "safe_file_name",
    "text_field",
    "unique_names",
    "unregister",
    "url_file_name",
]
