"""Servers the integration tests share: a real S3 API (moto's server mode), the hostile origins'
background loop, a vendor scripted by time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_jobstatus.testing.pytest_plugin import patched_environ
from tests.s3_server import S3Server, running_s3_server
from tests.scripted_vendor import ScriptedVendor
from tests.servers import Background


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto on a free port; ``aws_moto`` (an ``aws`` connection with ``endpoint_url``) points at it."""
    with (
        running_s3_server(tmp_path_factory.mktemp("moto")) as server,
        patched_environ(server.connection_env()),
    ):
        yield server


@pytest.fixture(autouse=True)
def no_resume_hold_off(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deferring task's resumption is held ``min_heartbeat_interval`` + 5 s (the late-exit race):
    10 s of sleep in every test that runs a wait to its end in this process, where no worker can
    exit late. Tests of the hold-off itself are marked ``resume_hold_off`` and keep it."""
    if request.node.get_closest_marker("resume_hold_off") is None:
        from airflow_provider_jobstatus import airflow_workarounds

        monkeypatch.setenv("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", "0")
        monkeypatch.setattr(airflow_workarounds, "RESUME_MARGIN", 0.0)


@pytest.fixture(scope="module")
def bg() -> Iterator[Background]:
    """An event loop in a thread for the hand-written hostile servers of ``tests/servers.py``."""
    loop = Background()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def vendor() -> Iterator[ScriptedVendor]:
    """An APIDataTools-shaped origin whose answers each test scripts by time (tests/scripted_vendor.py)."""
    bg = Background()
    scripted = ScriptedVendor(bg)
    try:
        yield scripted
    finally:
        scripted.origin.close()
        bg.close()
