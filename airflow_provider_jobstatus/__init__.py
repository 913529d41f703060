"""Airflow provider for waiting on asynchronous jobs at outside services and collecting their results."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

__version__ = "0.3.0"

#: the kinds of public module Airflow's provider info lists, each a subpackage
_LISTED = ("hooks", "sensors", "triggers", "operators")


def get_provider_info() -> dict[str, Any]:
    """What Airflow's ProvidersManager reads through the ``apache_airflow_provider`` entry point.

    The connection types come from the vendor registry and the module lists from the package's
    files, so neither can miss a vendor or a module."""
    from airflow_provider_jobstatus.connection_types import provider_connection_types
    from airflow_provider_jobstatus.vendors import VENDORS

    integration = "Job Status"
    names = [api.display_name for api in VENDORS.values()]
    vendors = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else "".join(names)
    return {
        "package-name": "airflow-provider-jobstatus",
        "name": "Job Status",
        "description": f"Deferrable waits on asynchronous jobs at {vendors}, "
        "and operators that collect their results.",
        "versions": [__version__],
        "integrations": [{"integration-name": integration, "tags": ["service"]}],
        **{
            kind: [{"integration-name": integration, "python-modules": public_modules(kind)}]
            for kind in _LISTED
        },
        "connection-types": provider_connection_types(),
        "config": {
            "jobstatus": {
                "description": "Settings of the Job Status provider's waits.",
                "options": {
                    "min_poll_interval": {
                        "description": "The least time, in seconds, between two calls about one job, "
                        "whatever a wait's poll_interval or a vendor's retry_after says.",
                        "version_added": "0.3.0",
                        "type": "float",
                        "example": "1.0",
                        "default": "1.0",
                    },
                },
            },
        },
    }


def public_modules(kind: str) -> list[str]:
    """The public modules of subpackage ``kind`` (names not starting with ``_``), found without
    importing them: Airflow reads provider info at every start."""
    return sorted(
        f"{__name__}.{kind}.{entry.name.removesuffix('.py')}"
        for entry in files(__name__).joinpath(kind).iterdir()
        if entry.name.endswith(".py") and not entry.name.startswith("_")
    )
