"""A wait never asks about a job more often than the floor, whatever the vendor's ``retry_after``
says, in the triggerer and on a worker; intervals that are not positive fail when the DAG is parsed."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowSensorTimeout

from airflow_provider_jobstatus.operators.run import PdfCoRunJobOperator
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger
from tests.scripted_vendor import FOREVER, Phase, ScriptedVendor

#: a vendor that asks to be polled again in a millisecond
HURRIED = [Phase(FOREVER, 200, {"status": "processing", "retry_after": 0.001})]


@pytest.fixture
def conn(vendor: ScriptedVendor, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW__JOBSTATUS__MIN_POLL_INTERVAL", "1")  # the production floor
    uri = {"conn_type": "apidatatools", "host": vendor.origin.url, "password": "pace-key"}
    monkeypatch.setenv("AIRFLOW_CONN_PACE_VENDOR", json.dumps(uri))
    return "pace_vendor"


def calls_for(vendor: ScriptedVendor, job_id: str) -> int:
    return sum(1 for seen in vendor.origin.requests if seen.target.endswith(f"/{job_id}"))


def test_a_tiny_retry_after_cannot_busy_loop_the_trigger(vendor: ScriptedVendor, conn: str) -> None:
    vendor.script("hurried-trigger", HURRIED)
    trigger = JobStatusTrigger(conn, "hurried-trigger", poll_interval=5, timeout_at=time.time() + 3.0)

    async def first() -> dict[str, object]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("no event")

    event = asyncio.run(first())
    assert event["status"] == "timeout"
    # 1,649 calls in 3 s before the floor; now one a second at most (and a call at the start)
    assert calls_for(vendor, "hurried-trigger") <= 4


def test_a_tiny_retry_after_cannot_busy_loop_a_worker(vendor: ScriptedVendor, conn: str) -> None:
    vendor.script("hurried-worker", HURRIED)
    sensor = JobStatusSensor(
        task_id="w", conn_id=conn, job_id="hurried-worker", deferrable=False, poke_interval=5, timeout=5
    )
    sensor.timeout = 3  # shorter than an interval only here: the floor is what is measured
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute(context={})
    assert calls_for(vendor, "hurried-worker") <= 4


@pytest.mark.parametrize("bad", [0, -5, float("nan"), "30"])
def test_intervals_that_are_not_positive_fail_at_parse_time(bad: object) -> None:
    with pytest.raises(AirflowException, match=r"JobStatusSensor 'w': poke_interval must be"):
        JobStatusSensor(task_id="w", conn_id="c", job_id="j", poke_interval=bad)  # type: ignore[arg-type]
    with pytest.raises(AirflowException, match=r"PdfCoRunJobOperator 'r': poll_interval must be"):
        PdfCoRunJobOperator(task_id="r", conn_id="c", endpoint="/x", payload={}, poll_interval=bad)  # type: ignore[arg-type]


def test_durations_take_a_timedelta_and_a_timeout_shorter_than_the_interval_is_refused() -> None:
    task = PdfCoRunJobOperator(
        task_id="r", conn_id="c", endpoint="/x", payload={}, poll_interval=timedelta(seconds=45)
    )
    assert task.poll_interval == 45
    with pytest.raises(AirflowException, match=r"timeout \(10 s\) is shorter than poll_interval \(45 s\)"):
        PdfCoRunJobOperator(task_id="r", conn_id="c", endpoint="/x", payload={}, poll_interval=45, timeout=10)
    with pytest.raises(AirflowException, match=r"timeout \(10 s\) is shorter than poke_interval \(45 s\)"):
        JobStatusSensor(task_id="w", conn_id="c", job_id="j", poke_interval=timedelta(seconds=45), timeout=10)
