"""Airflow provider for waiting on asynchronous jobs at outside services and collecting their results."""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"

_VENDOR_MODULES = ["nitro", "pdfco", "alteryx", "apidatatools", "playment", "jobapi"]


def get_provider_info() -> dict[str, Any]:
    """What Airflow's ProvidersManager reads through the ``apache_airflow_provider`` entry point."""
    from airflow_provider_jobstatus.connection_types import provider_connection_types

    integration = "Job Status"
    return {
        "package-name": "airflow-provider-jobstatus",
        "name": "Job Status",
        "description": "Deferrable waits on asynchronous jobs at Nitro, PDF.co, Alteryx Server, "
        "APIDataTools, Playment and any job API declared in a connection, and operators that collect "
        "their results.",
        "versions": [__version__],
        "integrations": [{"integration-name": integration, "tags": ["service"]}],
        "hooks": [
            {
                "integration-name": integration,
                "python-modules": [
                    f"airflow_provider_jobstatus.hooks.{m}" for m in ["base", *_VENDOR_MODULES]
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": integration,
                "python-modules": ["airflow_provider_jobstatus.sensors.job_status"],
            }
        ],
        "triggers": [
            {
                "integration-name": integration,
                "python-modules": ["airflow_provider_jobstatus.triggers.job_status"],
            }
        ],
        "operators": [
            {
                "integration-name": integration,
                "python-modules": [
                    "airflow_provider_jobstatus.operators.download",
                    "airflow_provider_jobstatus.operators.batch",
                ],
            }
        ],
        "connection-types": provider_connection_types(),
    }
