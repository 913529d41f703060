"""Airflow connections pointing at a running simulator: what the pytest fixture sets, what the
demo stores and what the simulator's command line prints to export. No Airflow, no pytest."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .simulator import Simulator


def default_conn_ids() -> dict[str, str]:
    """Vendor -> the connection id the fixture sets up: each vendor hook's default connection
    (the registry is imported here, not with this module: the pytest plugin imports it)."""
    from airflow_provider_jobstatus.vendors import VENDORS

    return {name: api.default_conn_id for name, api in VENDORS.items()}


def __getattr__(name: str) -> dict[str, str]:
    if name == "DEFAULT_CONN_IDS":  # the name the repository's tools use
        return default_conn_ids()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def connection_uri_env_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_dict(sim: Simulator, vendor: str) -> dict[str, Any]:
    """One Airflow JSON connection for ``vendor`` pointing at ``sim``."""
    creds = dict(sim.credentials[vendor])
    conn: dict[str, Any] = {"conn_type": vendor, "host": sim.base_url(vendor)}
    if "client_id" in creds:
        conn["login"] = creds.pop("client_id")
        conn["password"] = creds.pop("client_secret")
    else:
        conn["password"] = creds.pop("api_key")
    from .simulator.catalog import vendor as simulated

    # what the vendor reads from the connection's extras (Playment's project_id, a declared profile)
    extra = {**creds, **simulated(vendor).connection_extras(sim.state)}
    if extra:
        conn["extra"] = extra
    return conn


def connection_env(sim: Simulator, conn_ids: Mapping[str, str] | None = None) -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` variables (JSON connections) for every vendor ``sim`` serves, pointing
    at it. Pass them to subprocesses (``airflow dags test``, the demo) or put them in ``os.environ``."""
    defaults = default_conn_ids()
    ids = {vendor: defaults[vendor] for vendor in sim.credentials}
    ids.update(conn_ids or {})
    return {connection_uri_env_name(ids[vendor]): json.dumps(connection_dict(sim, vendor)) for vendor in ids}


def export_lines(sim: Simulator) -> list[str]:
    """``export AIRFLOW_CONN_...='...'`` shell lines for the default connections."""
    return [f"export {name}={shlex.quote(value)}" for name, value in connection_env(sim).items()]
