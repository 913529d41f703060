"""A declared job API (connection type ``jobapi``) end to end against the simulator: the sensor's
deferral, the run operator, downloads, and the behaviour contract's fault rows, for the default
profile and for one a test loads with the ``jobstatus_declared_api`` fixture."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_jobstatus.hooks import JobApiHook
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.operators.links import job_page
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger
from tests.integration.test_run import make, run
from tests.integration.test_trigger import first_event, trigger_for
from tests.task_doubles import FakeStore, FakeTI

#: an AssemblyAI-shaped API (header key with a prefix), started with a form, answering 404 until
#: the job is done, with results behind its own origin (``url_template``) that need the key
OWN_FILES: dict[str, Any] = {
    "name": "Own Files API",
    "auth": {"scheme": "header", "header": "Authorization", "prefix": "Key "},
    "start": {"path": "/v2/tasks", "body": "form", "job_id": "data.task_id"},
    "status": {
        "path": "/v2/tasks/{job_id}",
        "state": "data.status",
        "states": {"running": ["RUNNING"], "succeeded": ["OK"], "failed": ["FAILED"]},
        "message": "data.detail",
        "not_found": "running",
    },
    "results": {
        "files": "data.files",
        "url_template": "/v2/files/{file_id}/content",
        "name": "name",
        "size": "size",
    },
}


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    jobstatus_simulator.clear_requests()
    jobstatus_simulator.state.starts.reset()
    return jobstatus_simulator


def download(conn_id: str, job_id: str, destination: Path) -> list[dict[str, Any]]:
    op = DownloadJobResultOperator(
        task_id="get", conn_id=conn_id, job_id=job_id, destination=f"{destination}/", backoff=0.01
    )
    result: list[dict[str, Any]] = op.execute(context={})
    return result


# -- the sensor defers; the trigger ends the wait ---------------------------------------------------


def test_sensor_defers_and_the_trigger_ends_the_wait(sim: Simulator) -> None:
    job = sim.create_job("jobapi", polls=2)
    task = JobStatusSensor(task_id="wait", conn_id="jobapi_default", job_id=job["job_id"], poke_interval=0.05)
    with pytest.raises(TaskDeferred) as deferred:
        task.execute({})
    event = asyncio.run(first_event(deferred.value.trigger))  # type: ignore[arg-type]
    assert event["status"] == "done" and event["job"]["state"] == "succeeded"
    assert event["job"]["details"] == {"api": "Simulated Job API"}
    with structlog.testing.capture_logs() as logs:
        task.execute_complete({}, event)
    assert any("Simulated Job API job" in str(e["event"]) for e in logs), logs


# -- the run operator -------------------------------------------------------------------------------


def test_run_operator_starts_waits_and_downloads(sim: Simulator, tmp_path: Path) -> None:
    sim.plan_starts("jobapi", {"outcome": "succeeded", "polls": 2, "result_bytes": 3000})
    ti = FakeTI()
    run(make("jobapi"), ti)
    job_id = ti.pushed[0][1]
    assert sim.starts()["created"]["jobapi"] == 1
    (got,) = download("jobapi_default", job_id, tmp_path)
    data = (tmp_path / "output.txt").read_bytes()
    assert got["bytes"] == len(data) == 3000
    assert got["sha256"] == hashlib.sha256(data).hexdigest() == sim.job(job_id)["sha256"]
    files = sim.requests(include_log=False)["files"]
    assert files["requests"] == 1 and files["with_credentials"] == 0  # signed URL elsewhere: no key


def test_timeout_cancels_where_cancel_is_declared(sim: Simulator) -> None:
    sim.plan_starts("jobapi", {"outcome": "succeeded", "seconds": 600})
    ti = FakeTI()
    with pytest.raises(AirflowSensorTimeout):
        run(make("jobapi", timeout=0.5), ti)
    assert sim.job(ti.pushed[0][1])["canceled"] is True
    assert sim.starts()["canceled"]["jobapi"] == 1


def test_timeout_warns_where_no_cancel_is_declared(
    sim: Simulator, jobstatus_declared_api: Callable[..., str]
) -> None:
    profile = copy.deepcopy(sim.profile)
    del profile["cancel"]
    conn_id = jobstatus_declared_api(profile, "jobapi_nocancel")
    sim.plan_starts("jobapi", {"outcome": "succeeded", "seconds": 600})
    ti = FakeTI()
    with structlog.testing.capture_logs() as logs, pytest.raises(AirflowSensorTimeout):
        run(make("jobapi", conn_id=conn_id, timeout=0.5), ti)
    job_id = ti.pushed[0][1]
    warnings = [str(e["event"]) for e in logs if "no cancel call" in str(e["event"])]
    assert len(warnings) == 1 and job_id in warnings[0] and "Simulated Job API" in warnings[0]
    assert sim.job(job_id)["terminal"] is False


def test_a_retry_reattaches_instead_of_starting_again(sim: Simulator) -> None:
    sim.plan_starts("jobapi", {"outcome": "succeeded", "seconds": 600})
    store = FakeStore()
    first = run(make("jobapi", wait=False), FakeTI(), store)
    assert run(make("jobapi", wait=False), FakeTI(), store) == first
    assert sim.starts()["created"]["jobapi"] == 1


# -- a profile of the user's own, loaded by the fixture ------------------------------------------------


def test_own_profile_form_start_404_until_done_and_own_origin_files(
    sim: Simulator, jobstatus_declared_api: Callable[..., str], tmp_path: Path
) -> None:
    conn_id = jobstatus_declared_api(OWN_FILES, "own_files")
    sim.plan_starts(
        "jobapi", {"outcome": "succeeded", "polls": 2, "result_bytes": 2048, "opts": {"results": 2}}
    )
    ti = FakeTI()
    result = run(make("jobapi", conn_id=conn_id, payload={"source": "s3://in/a.txt", "n": 2}), ti)
    job_id = ti.pushed[0][1]
    assert result["state"] == "succeeded" and result["details"] == {"api": "Own Files API"}
    got = download(conn_id, job_id, tmp_path)
    assert [(g["name"], g["bytes"]) for g in got] == [("output.txt", 2048), ("output-2.txt", 2048)]
    counts = sim.requests(include_log=False)["counts"]
    assert counts["jobapi.status"] >= 3 and counts["jobapi.download"] == 2
    log = sim.requests()["log"]
    downloads = [entry for entry in log if entry["route"] == "download"]
    assert downloads and all(entry["auth_headers"] == ["authorization"] for entry in downloads)


def test_own_profile_wrong_key_fails_at_once(
    sim: Simulator, jobstatus_declared_api: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = jobstatus_declared_api(OWN_FILES, "own_files_badkey")
    conn = json.loads(os.environ["AIRFLOW_CONN_OWN_FILES_BADKEY"])
    monkeypatch.setenv("AIRFLOW_CONN_OWN_FILES_BADKEY", json.dumps({**conn, "password": "nope"}))
    job = sim.create_job("jobapi", polls=1)
    event = asyncio.run(
        first_event(JobStatusTrigger(conn_id=conn_id, job_id=job["job_id"], poll_interval=0.05))
    )
    assert event["status"] == "error" and event["error"] == "AuthenticationError"
    assert event["message"].startswith("Own Files API job"), event
    assert "nope" not in json.dumps(event)


def test_a_profile_the_simulator_cannot_answer_says_why(sim: Simulator) -> None:
    profile = copy.deepcopy(sim.profile)
    profile["status"]["state"] = "job.states[*].name"
    with pytest.raises(ValueError, match=r"profile\.status\.state: the simulator answers only plain paths"):
        sim.declare(profile)
    profile["status"]["stat"] = 1
    with pytest.raises(ValueError, match=r"profile\.status\.stat: unknown field"):
        sim.declare(profile)


def test_the_test_button_checks_the_declaration_and_the_key(sim: Simulator) -> None:
    ok, message = JobApiHook("jobapi_default").test_connection()
    assert ok and message.startswith("Simulated Job API: credentials accepted"), message


# -- the behaviour contract's fault rows, as for a built-in vendor ---------------------------------------


async def test_transient_faults_do_not_end_the_wait(sim: Simulator) -> None:
    sim.set_faults(
        "jobapi", seed=7, error_5xx=0.3, rate_429=0.1, retry_after=0, malformed_json=0.1, html_error=0.1
    )
    jobs = [sim.create_job("jobapi", polls=4) for _ in range(5)]
    events = await asyncio.gather(*(first_event(trigger_for("jobapi", j["job_id"])) for j in jobs))
    assert [e["job"]["state"] for e in events] == ["succeeded"] * 5
    faults = {e["fault"] for e in sim.requests()["log"] if e["fault"]}
    assert len(faults) >= 3, faults


async def test_a_5xx_streak_fails_after_the_tolerance(sim: Simulator) -> None:
    sim.set_faults("jobapi", seed=1, error_5xx=1.0)
    job = sim.create_job("jobapi", polls=1)
    event = await first_event(trigger_for("jobapi", job["job_id"], transient_fault_tolerance=0.5))
    assert event["status"] == "error" and event["error"] == "TransientVendorError"
    assert "persisted" in event["message"]


async def test_not_found_fails_after_the_grace(sim: Simulator) -> None:
    event = await first_event(trigger_for("jobapi", "no-such-job", not_found_grace=0.3))
    assert event["status"] == "error" and event["error"] == "JobNotFoundError"
    assert event["message"].startswith("Simulated Job API job 'no-such-job': not found (HTTP 404)")


async def test_unknown_state_keeps_waiting_until_the_deadline(sim: Simulator) -> None:
    sim.set_faults("jobapi", seed=3, unknown_status=1.0)
    job = sim.create_job("jobapi", polls=1)
    event = await first_event(trigger_for("jobapi", job["job_id"], timeout_at=time.time() + 0.5))
    assert event["status"] == "timeout"
    assert (event["job"]["state"], event["job"]["raw_status"]) == ("unknown", "sim-undocumented")


def test_the_job_at_vendor_link_is_the_profiles_job_url(sim: Simulator) -> None:
    assert job_page("jobapi_default", "j 1") == f"{sim.base_url('jobapi')}/ui/jobs/j%201"
    profile = copy.deepcopy(sim.profile)
    del profile["job_url"]
    sim.declare(profile)
    try:
        conn = {
            "conn_type": "jobapi",
            "host": sim.base_url("jobapi"),
            "password": "x",
            "extra": {"profile": profile},
        }
        os.environ["AIRFLOW_CONN_JOBAPI_NOPAGE"] = json.dumps(conn)
        assert job_page("jobapi_nopage", "j1") is None
    finally:
        os.environ.pop("AIRFLOW_CONN_JOBAPI_NOPAGE", None)
        sim.declare(None)
