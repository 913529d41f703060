"""A real Airflow (scheduler, triggerer, API server, DAG processor) waits through a forward proxy
and against a vendor served over TLS with a certificate from a private CA: the worker's first check
(httpx) and the triggerer's polls (aiohttp) both use the connection's ``proxy`` and ``verify``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_jobstatus.testing.connections import connection_dict
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import LocalAirflow
from tests.certs import PrivateCA
from tests.e2e.conftest import E2E_DAGS
from tests.servers import Background, ForwardProxy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(480, method="thread")]

DAG_ID = "e2e_proxy_tls"
#: "working" answers before "success": with 1 s polls the waits go on well past the first check
JOB_POLLS = 15


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    folder = tmp_path_factory.mktemp("tls")
    ca = PrivateCA(folder)
    leaf = ca.issue("simulator", ["127.0.0.1"])
    bg = Background()
    proxy = ForwardProxy(bg)
    with (
        Simulator(ssl_certfile=str(leaf.cert), ssl_keyfile=str(leaf.key)) as tls_sim,
        Simulator() as plain_sim,
    ):
        assert tls_sim.url.startswith("https://")
        tls = connection_dict(tls_sim, "pdfco")
        tls["extra"] = {**tls.get("extra", {}), "verify": str(ca.bundle)}
        proxied = connection_dict(plain_sim, "pdfco")
        proxied["extra"] = {**proxied.get("extra", {}), "proxy": proxy.url()}
        env = {
            "AIRFLOW_CONN_PDFCO_PRIVATE_CA": json.dumps(tls),
            "AIRFLOW_CONN_PDFCO_PROXY": json.dumps(proxied),
        }
        airflow = LocalAirflow(tmp_path_factory.mktemp("airflow_proxy_tls"), E2E_DAGS, env=env)
        with airflow:
            airflow.wait_for_dags([DAG_ID], timeout=240)
            jobs = {
                "private_ca": str(tls_sim.create_job("pdfco", polls=JOB_POLLS)["job_id"]),
                "proxy": str(plain_sim.create_job("pdfco", polls=JOB_POLLS)["job_id"]),
            }
            run_id = airflow.trigger(DAG_ID, conf=jobs)
            watch = airflow.wait_for_run(DAG_ID, run_id, timeout=300, interval=0.5)
        yield {"watch": watch, "jobs": jobs, "proxy": proxy.targets(), "plain_url": plain_sim.url}
    proxy.close()
    bg.close()


def test_both_waits_succeed_in_the_triggerer(finished: dict[str, object]) -> None:
    """The https simulator accepts nothing but TLS: its wait succeeding means the CA bundle was
    trusted on the worker and in the triggerer."""
    watch: Any = finished["watch"]
    seen = {task: watch.states_seen(task) for task in ("wait_private_ca", "wait_proxy")}
    assert watch.state == "success", seen
    for task, states in seen.items():
        assert "deferred" in states and states[-1] == "success", (task, states)


def test_every_poll_of_the_proxied_wait_went_through_the_proxy(finished: dict[str, object]) -> None:
    targets = finished["proxy"]
    plain_url = str(finished["plain_url"])
    assert isinstance(targets, list)
    status_calls = [t for t in targets if t.startswith(plain_url) and t.endswith("/v1/job/check")]
    # the worker's first check, the triggerer's polls (JOB_POLLS "working" answers), the final one
    assert len(status_calls) >= JOB_POLLS, targets
