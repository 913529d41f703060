"""Airflow connections pointing at a running simulator: what the pytest fixture sets, what the
demo stores and what the simulator's command line prints to export. No Airflow, no pytest."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .simulator import Simulator

#: vendor -> the connection id the fixture sets up
DEFAULT_CONN_IDS: Mapping[str, str] = {
    "nitro": "nitro_default",
    "pdfco": "pdfco_default",
    "alteryx": "alteryx_default",
    "apidatatools": "apidatatools_default",
    "playment": "playment_default",
    "jobapi": "jobapi_default",
}


def connection_uri_env_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_dict(sim: Simulator, vendor: str) -> dict[str, Any]:
    """One Airflow JSON connection for ``vendor`` pointing at ``sim``."""
    creds = sim.credentials[vendor]
    conn: dict[str, Any] = {"conn_type": vendor, "host": sim.base_url(vendor)}
    if "client_id" in creds:
        conn["login"] = creds["client_id"]
        conn["password"] = creds["client_secret"]
    else:
        conn["password"] = creds["api_key"]
    if vendor == "playment":
        conn["extra"] = {"project_id": creds["project_id"]}
    if vendor == "jobapi":  # the profile the simulator serves, as the connection declares it
        conn["login"] = creds["login"]
        conn["extra"] = {"profile": sim.profile}
    return conn


def connection_env(sim: Simulator, conn_ids: Mapping[str, str] | None = None) -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` variables (JSON connections) for the five vendors, pointing at ``sim``.
    Pass them to subprocesses (``airflow dags test``, the demo) or put them in ``os.environ``."""
    ids = dict(DEFAULT_CONN_IDS)
    ids.update(conn_ids or {})
    return {connection_uri_env_name(ids[vendor]): json.dumps(connection_dict(sim, vendor)) for vendor in ids}


def export_lines(sim: Simulator) -> list[str]:
    """``export AIRFLOW_CONN_...='...'`` shell lines for the five default connections."""
    return [f"export {name}={shlex.quote(value)}" for name, value in connection_env(sim).items()]
