"""pytest plugin (entry point ``jobstatus_simulator``): the vendor simulator as a fixture.

``jobstatus_simulator`` (session scope) starts a :class:`~.simulator.Simulator`, points the five
default connections (``nitro_default``, ``pdfco_default``, ``alteryx_default``,
``apidatatools_default``, ``playment_default``) at it through ``AIRFLOW_CONN_*`` variables, and
restores the environment afterwards. Importing this module is cheap: no Airflow, no simulator
until the fixture is used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .simulator import Simulator

#: vendor -> the connection id the fixture sets up
DEFAULT_CONN_IDS: Mapping[str, str] = {
    "nitro": "nitro_default",
    "pdfco": "pdfco_default",
    "alteryx": "alteryx_default",
    "apidatatools": "apidatatools_default",
    "playment": "playment_default",
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
    return conn


def connection_env(sim: Simulator, conn_ids: Mapping[str, str] | None = None) -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` variables (JSON connections) for the five vendors, pointing at ``sim``.
    Pass them to subprocesses (``airflow dags test``, the demo) or put them in ``os.environ``."""
    ids = dict(DEFAULT_CONN_IDS)
    ids.update(conn_ids or {})
    return {connection_uri_env_name(ids[vendor]): json.dumps(connection_dict(sim, vendor)) for vendor in ids}


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ``; put back what was there (or remove them) afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


@pytest.fixture(scope="session")
def jobstatus_simulator() -> Iterator[Simulator]:
    """A running simulator; the default connections of the five vendors point at it."""
    from .simulator import Simulator

    sim = Simulator().start()
    try:
        with patched_environ(connection_env(sim)):
            yield sim
    finally:
        sim.stop()
