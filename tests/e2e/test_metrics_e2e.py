"""The provider's metrics from a real Airflow 3.3 (scheduler with LocalExecutor, triggerer, API
server, DAG processor) with StatsD on, received by a UDP listener in this test: each metric name
arrives, with its ``vendor`` and ``conn_id`` tags, from one DAG run that starts and waits on a
job while the vendor answers some polls 429, cancels a job whose wait timed out, and reattaches
a retried task to its job."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import LocalAirflow
from tests.e2e.conftest import E2E_DAGS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600, method="thread")]

DAG_ID = "e2e_metrics"


class StatsdListener:
    """Every datagram sent to a UDP port of 127.0.0.1, one metric line each."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port: int = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            self.lines.extend(data.decode(errors="replace").splitlines())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def ours(self) -> dict[str, list[dict[str, str]]]:
        """Our metrics by name (prefix dropped), each with its tags (InfluxDB-style in StatsD)."""
        seen: dict[str, list[dict[str, str]]] = {}
        for line in list(self.lines):
            head = line.split(":", 1)[0]
            name, *tags = head.split(",")
            if ".jobstatus." not in name:
                continue
            short = name[name.index("jobstatus.") :]
            seen.setdefault(short, []).append(dict(t.split("=", 1) for t in tags if "=" in t))
        return seen


def until(what: str, check: Any, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not seen within {timeout:.0f} s: {what}")


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[dict[str, str]]]]:
    listener = StatsdListener()
    statsd = {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(listener.port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",
    }
    try:
        with Simulator() as sim:
            sim.plan_starts("apidatatools", {"outcome": "succeeded", "seconds": 10})
            sim.plan_starts("alteryx", {"outcome": "succeeded", "seconds": 900})
            sim.plan_starts("nitro", {"outcome": "succeeded", "seconds": 30})
            # half of the waits' status polls answered 429 (the vendor's RATE_LIMITED)
            sim.set_faults("apidatatools", seed=3, rate_429=0.5, paths=["status"])
            airflow = LocalAirflow(
                tmp_path_factory.mktemp("airflow_metrics"),
                E2E_DAGS,
                env={**connection_env(sim), **statsd},
                parallelism=4,
            )
            with airflow:
                airflow.wait_for_dags([DAG_ID], timeout=240)
                run = airflow.trigger(DAG_ID)
                until("the nitro job created", lambda: sim.starts()["created"]["nitro"] == 1)

                def running_pid() -> int | None:
                    ti = next(t for t in airflow.task_instances(DAG_ID, run) if t.task_id == "reattach")
                    return ti.pid if ti.state == "running" and ti.pid else None

                pid = until("reattach running with a pid", running_pid)
                time.sleep(2)  # waiting on its worker now
                os.kill(pid, signal.SIGKILL)
                watch = airflow.wait_for_runs({DAG_ID: run}, timeout=300)[DAG_ID]
                assert watch.final["start_and_wait"].state == "success", watch.states_seen("start_and_wait")
                time.sleep(2)  # the last datagrams
        yield listener.ours()
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("name", "vendor", "conn_id"),
    [
        ("jobstatus.start", "apidatatools", "apidatatools_default"),
        ("jobstatus.poll", "apidatatools", "apidatatools_default"),  # the triggerer's polls
        ("jobstatus.rate_limited", "apidatatools", "apidatatools_default"),
        ("jobstatus.fault", "apidatatools", "apidatatools_default"),
        ("jobstatus.cancel", "alteryx", "alteryx_default"),
        ("jobstatus.reattach", "nitro", "nitro_default"),
    ],
)
def test_each_metric_arrives_tagged(
    metrics: dict[str, list[dict[str, str]]], name: str, vendor: str, conn_id: str
) -> None:
    assert {"vendor": vendor, "conn_id": conn_id} in [
        {k: tags[k] for k in ("vendor", "conn_id") if k in tags} for tags in metrics.get(name, [])
    ], sorted(metrics)


def test_faults_say_their_kind(metrics: dict[str, list[dict[str, str]]]) -> None:
    kinds = {
        tags.get("kind")
        for tags in metrics.get("jobstatus.fault", [])
        if tags.get("vendor") == "apidatatools"
    }
    assert "rate_limited" in kinds, metrics.get("jobstatus.fault")


def test_a_wait_reports_its_duration(metrics: dict[str, list[dict[str, str]]]) -> None:
    ended = metrics.get("jobstatus.wait.duration", [])
    assert any(t.get("vendor") == "apidatatools" and t.get("outcome") == "succeeded" for t in ended), ended
