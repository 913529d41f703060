"""Starting and stopping the simulator: in-process, through the CLI, and through the pytest plugin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.pytest_plugin import patched_environ
from airflow_provider_jobstatus.testing.simulator import DEFAULT_CREDENTIALS, VENDORS, Simulator


def test_in_process_start_stop_and_context_manager() -> None:
    sim = Simulator(seed=3)
    with pytest.raises(RuntimeError):
        _ = sim.url
    sim.start()
    try:
        assert sim.running
        assert sim.url.startswith("http://127.0.0.1:") and sim.files_url != sim.url
        assert sim.base_url("alteryx") == sim.url + "/alteryx/webapi"
        info = httpx.get(sim.url + "/_sim").json()
        assert info["vendors"] == {v: sim.base_url(v) for v in VENDORS}
        assert info["files_url"] == sim.files_url
    finally:
        sim.stop()
    assert not sim.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(sim.url + "/_sim", timeout=2)
    with Simulator() as again:
        assert httpx.get(again.url + "/_sim").status_code == 200
    assert not again.running


def test_cli_prints_urls_serves_and_stops_cleanly_on_sigterm() -> None:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_jobstatus.testing.simulator", "--port", "0", "--seed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        startup = time.monotonic() - started
        info = json.loads(line)
        assert set(info) >= {"url", "files_url", "vendors", "control", "pid"}
        assert info["pid"] == proc.pid
        assert info["vendors"]["playment"] == info["url"] + "/playment"
        assert startup < 5.0, f"startup took {startup:.2f}s"
        job = httpx.post(info["url"] + "/_sim/jobs", json={"vendor": "pdfco"}).json()
        check = httpx.post(
            info["vendors"]["pdfco"] + "/v1/job/check",
            json={"jobid": job["job_id"]},
            headers={"x-api-key": DEFAULT_CREDENTIALS["pdfco"]["api_key"]},
        )
        assert check.json()["status"] == "success"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def test_importing_the_simulator_and_plugin_does_not_import_airflow() -> None:
    code = (
        "import sys, time; t = time.monotonic();"
        "import airflow_provider_jobstatus.testing.pytest_plugin;"
        "import airflow_provider_jobstatus.testing.simulator;"
        "print(time.monotonic() - t, any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[1] == "False"  # what it imports, not how long it takes: no wall-clock limits in tests


def test_connection_env_builds_airflow_json_connections(sim: Simulator) -> None:
    env = connection_env(sim)
    assert set(env) == {
        "AIRFLOW_CONN_NITRO_DEFAULT",
        "AIRFLOW_CONN_PDFCO_DEFAULT",
        "AIRFLOW_CONN_ALTERYX_DEFAULT",
        "AIRFLOW_CONN_APIDATATOOLS_DEFAULT",
        "AIRFLOW_CONN_PLAYMENT_DEFAULT",
        "AIRFLOW_CONN_JOBAPI_DEFAULT",
    }
    nitro = json.loads(env["AIRFLOW_CONN_NITRO_DEFAULT"])
    assert nitro == {
        "conn_type": "nitro",
        "host": sim.base_url("nitro"),
        "login": "sim-nitro-client",
        "password": "sim-nitro-secret",
    }
    playment = json.loads(env["AIRFLOW_CONN_PLAYMENT_DEFAULT"])
    assert playment["password"] == "sim-playment-key"
    assert playment["extra"] == {"project_id": "sim-project"}
    assert "login" not in json.loads(env["AIRFLOW_CONN_PDFCO_DEFAULT"])
    jobapi = json.loads(env["AIRFLOW_CONN_JOBAPI_DEFAULT"])
    assert (jobapi["conn_type"], jobapi["login"], jobapi["password"]) == (
        "jobapi",
        "sim-jobapi-user",
        "sim-jobapi-secret",
    )
    assert jobapi["extra"] == {"profile": sim.profile}  # the declaration the simulator serves


def test_patched_environ_restores_previous_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NITRO_DEFAULT", "before")
    monkeypatch.delenv("AIRFLOW_CONN_PDFCO_DEFAULT", raising=False)
    with patched_environ({"AIRFLOW_CONN_NITRO_DEFAULT": "x", "AIRFLOW_CONN_PDFCO_DEFAULT": "y"}):
        assert os.environ["AIRFLOW_CONN_NITRO_DEFAULT"] == "x"
        assert os.environ["AIRFLOW_CONN_PDFCO_DEFAULT"] == "y"
    assert os.environ["AIRFLOW_CONN_NITRO_DEFAULT"] == "before"
    assert "AIRFLOW_CONN_PDFCO_DEFAULT" not in os.environ


def test_plugin_fixture_points_default_connections_at_the_simulator(jobstatus_simulator: Simulator) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_PDFCO_DEFAULT"])
    assert conn["host"] == jobstatus_simulator.base_url("pdfco")
    job = jobstatus_simulator.create_job("pdfco")
    resp = httpx.post(
        conn["host"] + "/v1/job/check", json={"jobid": job["job_id"]}, headers={"x-api-key": conn["password"]}
    )
    assert resp.json()["status"] == "success"


def test_stop_is_quick_even_with_a_slow_request_in_flight() -> None:
    import threading

    sim = Simulator().start()
    job = sim.create_job("pdfco")["job_id"]
    sim.set_faults("pdfco", slow=1.0, slow_seconds=30)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(
                httpx.post(
                    sim.base_url("pdfco") + "/v1/job/check",
                    json={"jobid": job},
                    headers={"x-api-key": "sim-pdfco-key"},
                    timeout=60,
                )
            )
        except httpx.TransportError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    sim.stop()
    thread.join(10)
    assert time.monotonic() - started < 1.5
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.TransportError)
