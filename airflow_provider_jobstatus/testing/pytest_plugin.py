"""pytest plugin (entry point ``jobstatus_simulator``): the vendor simulator as a fixture.

``jobstatus_simulator`` (session scope) starts a :class:`~.simulator.Simulator`, points each
simulated vendor's default connection (``nitro_default``, ``pdfco_default``, ``alteryx_default``,
``apidatatools_default``, ``playment_default``, and ``jobapi_default`` for the declared API) at it
through ``AIRFLOW_CONN_*`` variables, and restores the environment afterwards. Before each test
that uses it, its faults and queued start plans are cleared, so one test's set-up never reaches
the next (jobs, batches and counts stay: ids are unique).

``jobstatus_declared_api`` loads your own profile: ``conn_id = jobstatus_declared_api(profile)``
makes the simulator serve that declaration and points a ``jobapi`` connection (``jobapi_default``
unless named) at it for the test. Importing this module is cheap: no Airflow, no simulator until
a fixture is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from .connections import connection_dict, connection_env, connection_uri_env_name

if TYPE_CHECKING:
    from .simulator import Simulator

__all__ = ["jobstatus_declared_api", "jobstatus_simulator", "jobstatus_simulator_clean", "patched_environ"]


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
    """A running simulator; the default connection of each vendor it simulates points at it."""
    from .simulator import Simulator

    sim = Simulator().start()
    try:
        with patched_environ(connection_env(sim)):
            yield sim
    finally:
        sim.stop()


@pytest.fixture(autouse=True)
def jobstatus_simulator_clean(request: pytest.FixtureRequest) -> None:
    """Before each test that uses ``jobstatus_simulator``: no faults, no queued start plans."""
    if "jobstatus_simulator" not in request.fixturenames:
        return
    sim: Simulator = request.getfixturevalue("jobstatus_simulator")
    sim.clear_faults()
    sim.clear_start_plans()


@pytest.fixture
def jobstatus_declared_api(jobstatus_simulator: Simulator) -> Iterator[Callable[..., str]]:
    """``declare(profile, conn_id="jobapi_default") -> conn_id``: the simulator serves ``profile``
    (a ``jobapi`` connection's declaration; a ValueError says what it cannot answer) and the
    connection points at it until the test ends. Script its jobs with
    ``jobstatus_simulator.create_job("jobapi", ...)`` or ``plan_starts("jobapi", ...)``."""
    import json

    saved: dict[str, str | None] = {}

    def declare(profile: Mapping[str, Any], conn_id: str = "jobapi_default") -> str:
        jobstatus_simulator.declare(profile)
        name = connection_uri_env_name(conn_id)
        saved.setdefault(name, os.environ.get(name))
        os.environ[name] = json.dumps(connection_dict(jobstatus_simulator, "jobapi"))
        return conn_id

    try:
        yield declare
    finally:
        jobstatus_simulator.declare(None)
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
