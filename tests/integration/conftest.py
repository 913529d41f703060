"""A real S3 API (moto's server mode) for the object storage tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_jobstatus.testing.pytest_plugin import patched_environ
from tests.s3_server import S3Server, running_s3_server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto on a free port; ``aws_moto`` (an ``aws`` connection with ``endpoint_url``) points at it."""
    with (
        running_s3_server(tmp_path_factory.mktemp("moto")) as server,
        patched_environ(server.connection_env()),
    ):
        yield server
