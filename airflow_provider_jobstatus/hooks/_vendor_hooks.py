"""One hook class per registered vendor, made from its declaration: the classes Airflow's
connection form lists (provider info names them ``airflow_provider_jobstatus.hooks.<class>``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import cast

from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.vendors import VENDORS, VendorApi, get_vendor

#: connection type -> (the declaration, the class made from it)
_made: dict[str, tuple[VendorApi, type[JobStatusHook]]] = {}


def hook_class(conn_type: str) -> type[JobStatusHook]:
    """The hook class of a registered vendor's connection type (made once, then the same class)."""
    api = get_vendor(conn_type)
    made = _made.get(conn_type)
    if made is not None and made[0] is api:
        return made[1]
    hook = cast(
        type[JobStatusHook],
        type(
            api.hook_class_name,
            (JobStatusHook,),
            {
                "__module__": "airflow_provider_jobstatus.hooks",
                "__qualname__": api.hook_class_name,
                "__doc__": f"{api.display_name} job status, results and auth through an Airflow "
                f"connection of type ``{api.name}``; the protocol is :data:`{type(api).__module__}.API`.",
                "vendor_name": api.name,
                "conn_type": api.name,
                "conn_name_attr": "conn_id",
                "default_conn_name": api.default_conn_id,
                "hook_name": api.hook_name,
            },
        ),
    )
    _made[conn_type] = (api, hook)
    return hook


def hook_named(class_name: str) -> type[JobStatusHook] | None:
    """The hook class called ``class_name``, or None."""
    for api in VENDORS.values():
        if api.hook_class_name == class_name:
            return hook_class(api.name)
    return None


class VendorHooks(Mapping[str, type[JobStatusHook]]):
    """Connection type -> hook class, for every vendor registered at the time of asking."""

    def __getitem__(self, conn_type: str) -> type[JobStatusHook]:
        if conn_type not in VENDORS:
            raise KeyError(conn_type)
        return hook_class(conn_type)

    def __iter__(self) -> Iterator[str]:
        return iter(VENDORS)

    def __len__(self) -> int:
        return len(VENDORS)
