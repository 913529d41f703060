"""One hook class per registered vendor, made from its declaration: the classes Airflow's
connection form lists (provider info names them ``airflow_provider_jobstatus.hooks.<class>``)."""

from __future__ import annotations

import importlib
import types
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
    hook = _declared(api)
    if hook is None:
        doc = (
            f"{api.display_name} job status, results and auth through an Airflow connection of type "
            f"``{api.name}``; the protocol is :data:`{type(api).__module__}.API`."
        )
        namespace = {"__module__": "airflow_provider_jobstatus.hooks", "__qualname__": api.hook_class_name}
        hook = cast(
            type[JobStatusHook],
            types.new_class(
                api.hook_class_name,
                (JobStatusHook,),
                {"vendor": api.name},
                lambda ns: ns.update({**namespace, "__doc__": doc}),
            ),
        )
    _made[conn_type] = (api, hook)
    return hook


def _declared(api: VendorApi) -> type[JobStatusHook] | None:
    """The class a built-in vendor declares in ``hooks/<name>.py`` (a real class: type checkers
    and docs see it), or None for a vendor registered without one."""
    try:
        module = importlib.import_module(f"airflow_provider_jobstatus.hooks.{api.name}")
    except ModuleNotFoundError:
        return None
    hook = getattr(module, api.hook_class_name, None)
    return hook if isinstance(hook, type) and issubclass(hook, JobStatusHook) else None


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
