"""Fixtures for the simulator tests: one simulator for the session, reset after each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.simulator.simkit import Calls


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _fresh(sim: Simulator) -> Iterator[None]:
    yield
    sim.reset()


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture
def calls(sim: Simulator, http: httpx.Client) -> Calls:
    return Calls(sim, http)
