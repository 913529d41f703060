"""JobStatusTrigger against the simulator over real HTTP, the way the triggerer runs it:
``run()`` iterated to its one event, in one event loop."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import structlog

from airflow_provider_jobstatus.hooks import _http
from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger

FAST = {"poll_interval": 0.05, "backoff": 0.01, "max_backoff": 0.05}

OUTCOMES = [
    ("nitro", "succeeded", "succeeded"),
    ("nitro", "failed", "failed"),
    ("nitro", "canceled", "canceled"),
    ("pdfco", "succeeded", "succeeded"),
    ("pdfco", "failed", "failed"),
    ("pdfco", "canceled", "canceled"),
    ("alteryx", "succeeded", "succeeded"),
    ("alteryx", "failed", "failed"),
    ("alteryx", "canceled", "canceled"),
    ("apidatatools", "succeeded", "succeeded"),
    ("apidatatools", "failed", "failed"),
    ("playment", "succeeded", "succeeded"),
    ("jobapi", "succeeded", "succeeded"),
    ("jobapi", "failed", "failed"),
    ("jobapi", "canceled", "canceled"),
]


async def first_event(trigger: JobStatusTrigger, limit: float = 20.0) -> dict[str, Any]:
    gen = trigger.run()
    try:
        event = await asyncio.wait_for(gen.__anext__(), limit)
    finally:
        await gen.aclose()
    payload = event.payload
    json.dumps(payload)  # events must be plain JSON
    return payload  # type: ignore[no-any-return]


def trigger_for(vendor: str, job_id: str, **kw: Any) -> JobStatusTrigger:
    return JobStatusTrigger(conn_id=f"{vendor}_default", job_id=job_id, **{**FAST, **kw})


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    return jobstatus_simulator


@pytest.mark.parametrize(("vendor", "outcome", "state"), OUTCOMES)
async def test_each_vendor_outcome_ends_the_wait(
    sim: Simulator, vendor: str, outcome: str, state: str
) -> None:
    opts = {"retry_after": 0} if vendor == "apidatatools" else {}
    job = sim.create_job(vendor, outcome=outcome, polls=3, **opts)
    event = await first_event(trigger_for(vendor, job["job_id"], timeout_at=time.time() + 30))
    assert event["status"] == "done", event
    assert event["job"]["state"] == state
    assert event["job"]["vendor"] == vendor and event["job"]["job_id"] == job["job_id"]
    assert "raw" not in event["job"]
    for result in event["job"]["results"]:
        assert "?" not in (result["url"] or ""), "signed URL query strings must not travel in events"
    if state == "failed":
        assert event["job"]["message"], "a failed job carries the vendor's message"


async def test_alteryx_warning_fails_only_with_fail_on_warning(sim: Simulator) -> None:
    job = sim.create_job("alteryx", outcome="succeeded", disposition="Warning", polls=1)
    lenient = await first_event(trigger_for("alteryx", job["job_id"]))
    assert lenient["job"]["state"] == "succeeded"
    job = sim.create_job("alteryx", outcome="succeeded", disposition="Warning", polls=1)
    strict = await first_event(
        trigger_for("alteryx", job["job_id"], vendor_options={"fail_on_warning": True})
    )
    assert strict["job"]["state"] == "failed"


async def test_sensor_timeout_deadline_reports_last_status(sim: Simulator) -> None:
    job = sim.create_job("nitro", outcome="succeeded", seconds=600)
    started = time.monotonic()
    event = await first_event(trigger_for("nitro", job["job_id"], timeout_at=time.time() + 0.6))
    assert event["status"] == "timeout" and event["reason"] == "timeout"
    assert event["job"]["state"] == "running"
    assert "last seen" in event["message"] and job["job_id"] in event["message"]
    assert time.monotonic() - started < 10


async def test_execution_deadline_wins_when_nearer(sim: Simulator) -> None:
    job = sim.create_job("pdfco", outcome="succeeded", seconds=600)
    trigger = trigger_for(
        "pdfco", job["job_id"], timeout_at=time.time() + 60, execution_deadline=time.time() + 0.5
    )
    event = await first_event(trigger)
    assert event["status"] == "timeout" and event["reason"] == "execution_timeout"


async def test_retry_after_paces_polling(sim: Simulator) -> None:
    job = sim.create_job("apidatatools", outcome="succeeded", seconds=600, retry_after=1)
    sim.clear_requests()
    event = await first_event(trigger_for("apidatatools", job["job_id"], timeout_at=time.time() + 2.5))
    assert event["status"] == "timeout"
    seen = sim.requests()
    polls = [e for e in seen["log"] if e["path"].startswith("/apidatatools/jobs/")]
    assert polls, seen["counts"]
    # poll_interval is 0.05 s: without honouring retry_after=1 there would be ~50 polls
    assert 2 <= len(polls) <= 4, polls


async def test_transient_faults_do_not_end_the_wait(sim: Simulator) -> None:
    sim.set_faults(
        "pdfco", seed=7, error_5xx=0.3, rate_429=0.1, retry_after=0, malformed_json=0.1, html_error=0.1
    )
    sim.clear_requests()
    jobs = [sim.create_job("pdfco", outcome="succeeded", polls=4) for _ in range(5)]
    events = await asyncio.gather(*(first_event(trigger_for("pdfco", j["job_id"])) for j in jobs))
    assert [e["job"]["state"] for e in events] == ["succeeded"] * 5
    faults = {e["fault"] for e in sim.requests()["log"] if e["fault"]}
    assert len(faults) >= 3, faults  # several kinds of fault were really met and survived


async def test_persisting_faults_fail_after_the_tolerance(sim: Simulator) -> None:
    sim.set_faults("pdfco", seed=1, error_5xx=1.0)
    job = sim.create_job("pdfco", outcome="succeeded", polls=1)
    event = await first_event(trigger_for("pdfco", job["job_id"], transient_fault_tolerance=0.5))
    assert event["status"] == "error" and event["error"] == "TransientVendorError"
    assert "persisted" in event["message"]


async def test_wrong_credentials_fail_at_once(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PDFCO_BADKEY",
        json.dumps({"conn_type": "pdfco", "host": sim.base_url("pdfco"), "password": "nope"}),
    )
    event = await first_event(JobStatusTrigger("pdfco_badkey", "anything", **FAST))
    assert event["status"] == "error" and event["error"] == "AuthenticationError"
    assert "nope" not in json.dumps(event)


async def test_not_found_fails_after_grace(sim: Simulator) -> None:
    event = await first_event(trigger_for("apidatatools", "no-such-job", not_found_grace=0.3))
    assert event["status"] == "error" and event["error"] == "JobNotFoundError"


async def test_pdfco_unknown_id_fails_fast_with_a_final_force_check(sim: Simulator) -> None:
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        event = await first_event(
            trigger_for("pdfco", "NO-SUCH-JOB", poll_interval=0.5, timeout_at=time.time() + 1.2)
        )
    assert event["status"] == "error" and event["error"] == "JobNotFoundError", event
    assert event["message"].startswith("PDF.co job 'NO-SUCH-JOB': unknown job id"), event
    assert time.monotonic() - started < 1.2  # failed before the deadline, not at it
    said = " ".join(str(entry["event"]) for entry in logs)
    # no "still waiting" (nor "waiting up to ... to appear") for an id PDF.co says it does not know
    assert "waiting" not in said and "not a status we know" not in said, said


async def test_unknown_status_keeps_waiting_until_deadline(sim: Simulator) -> None:
    sim.set_faults("nitro", seed=3, unknown_status=1.0)
    job = sim.create_job("nitro", outcome="succeeded", polls=1)
    event = await first_event(trigger_for("nitro", job["job_id"], timeout_at=time.time() + 0.5))
    assert event["status"] == "timeout"
    assert event["job"]["state"] == "unknown" and event["job"]["raw_status"]


def test_serialize_round_trip_carries_no_secret(sim: Simulator) -> None:
    trigger = trigger_for("nitro", "job-1", timeout_at=1e10, execution_deadline=2e10, vendor_options={"x": 1})
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_jobstatus.triggers.job_status.JobStatusTrigger"
    rebuilt = JobStatusTrigger(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (path, kwargs)
    text = json.dumps(kwargs)
    for secret in ("sim-nitro-secret", "sim-nitro-client", "Bearer"):
        assert secret not in text


async def test_restart_from_kwargs_goes_on_to_the_same_deadline(sim: Simulator) -> None:
    job = sim.create_job("alteryx", outcome="succeeded", seconds=1.5)
    first = trigger_for("alteryx", job["job_id"], timeout_at=time.time() + 30)
    gen = first.run()
    task = asyncio.ensure_future(gen.__anext__())
    await asyncio.sleep(0.5)
    assert not task.done()
    task.cancel()  # what a triggerer restart does
    with pytest.raises(asyncio.CancelledError):
        await task
    await gen.aclose()
    _, kwargs = first.serialize()
    event = await first_event(JobStatusTrigger(**kwargs))
    assert event["status"] == "done" and event["job"]["state"] == "succeeded"
    assert kwargs["timeout_at"] == first.timeout_at


async def test_cancellation_releases_the_shared_client(sim: Simulator) -> None:
    job = sim.create_job("pdfco", outcome="succeeded", seconds=600)
    loop = asyncio.get_running_loop()
    gens = [trigger_for("pdfco", job["job_id"]).run() for _ in range(3)]
    tasks = [asyncio.ensure_future(g.__anext__()) for g in gens]
    await asyncio.sleep(0.3)
    sessions = _http._async_clients.get(loop, {})
    assert len(sessions) == 1 and next(iter(sessions.values())).refs == 3  # three waits, one client
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for g in gens:
        await g.aclose()
    assert not _http._async_clients.get(loop, {})


async def test_started_by_the_scheduler_the_triggerers_timeout_is_the_deadline(sim: Simulator) -> None:
    from datetime import datetime, timedelta, timezone

    job = sim.create_job("nitro", outcome="succeeded", seconds=600)
    trigger = trigger_for("nitro", job["job_id"])  # start_from_trigger: no timeout_at in the kwargs
    trigger.timeout_after = datetime.now(timezone.utc) + timedelta(seconds=0.5)  # what the triggerer sets
    event = await first_event(trigger)
    assert event["status"] == "timeout" and event["reason"] == "timeout"
    assert event["job"]["state"] == "running"


def test_many_first_triggers_at_once_all_get_the_loaded_hooks() -> None:
    """In a fresh triggerer the first waits start together while the hooks are still being
    imported (off the event loop): none of them may see a half-loaded module, and they share one
    import (one thread of the loop's pool, not one per wait up to the pool's limit)."""
    import subprocess
    import sys

    script = (
        "import asyncio, threading\n"
        "from airflow_provider_jobstatus.triggers import job_status\n"
        "async def main():\n"
        "    load = job_status.import_off_loop\n"
        "    mods = await asyncio.gather(*(load(job_status._HOOKS_MODULE) for _ in range(50)))\n"
        "    pool = [t for t in threading.enumerate() if t.name.startswith('asyncio_')]\n"
        "    print(all(hasattr(m, 'JobStatusHook') for m in mods), len(pool))\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "True 1", out.stderr[-2000:]


@pytest.mark.parametrize(
    ("seen_status", "expected"),
    [
        (None, ["is running; next check"]),
        ("running", []),
        ("queued", ["is running; next check"]),
    ],
)
async def test_logs_each_state_change_once_counting_what_the_sensor_saw(
    sim: Simulator, seen_status: str | None, expected: list[str]
) -> None:
    job = sim.create_job("nitro", outcome="succeeded", polls=3)
    with structlog.testing.capture_logs() as logs:
        event = await first_event(trigger_for("nitro", job["job_id"], seen_status=seen_status))
    assert event["status"] == "done" and event["job"]["state"] == "succeeded"  # the sensor logs the end
    lines = [str(entry["event"]) for entry in logs if "Nitro PDF Services job" in str(entry["event"])]
    assert len(lines) == len(expected), lines
    for line, part in zip(lines, expected, strict=True):
        assert part in line


async def next_event(trigger: JobStatusTrigger, limit: float = 20.0) -> Any:
    gen = trigger.run()
    try:
        return await asyncio.wait_for(gen.__anext__(), limit)
    finally:
        await gen.aclose()


async def test_end_from_trigger_ends_the_task_with_the_status_as_xcom(sim: Simulator) -> None:
    from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent

    ending = {"canceled_as_skipped": True, "retry_possible": False}
    job = sim.create_job("pdfco", outcome="succeeded", polls=1)
    ok = await next_event(trigger_for("pdfco", job["job_id"], end_from_trigger=ending))
    assert isinstance(ok, TaskSuccessEvent)
    assert ok.xcoms is not None and ok.xcoms["return_value"]["state"] == "succeeded"
    assert ok.xcoms["return_value"]["job_id"] == job["job_id"]
    json.dumps(ok.model_dump())  # what the triggerer stores
    job = sim.create_job("nitro", outcome="canceled", polls=1)
    assert isinstance(
        await next_event(trigger_for("nitro", job["job_id"], end_from_trigger=ending)), TaskSkippedEvent
    )
    job = sim.create_job("nitro", outcome="failed", polls=1)
    assert isinstance(
        await next_event(trigger_for("nitro", job["job_id"], end_from_trigger=ending)), TaskFailedEvent
    )
    # a failure that must not retry, on a try Airflow would retry: the worker ends it
    job = sim.create_job("nitro", outcome="failed", polls=1)
    back = await next_event(trigger_for("nitro", job["job_id"], end_from_trigger={"retry_possible": True}))
    assert type(back).__name__ == "TriggerEvent" and back.payload["status"] == "done"


async def test_an_event_that_resumes_a_worker_waits_for_not_before(sim: Simulator) -> None:
    job = sim.create_job("pdfco", outcome="succeeded", polls=0)
    not_before = time.time() + 1.5
    event = await first_event(trigger_for("pdfco", job["job_id"], not_before=not_before))
    assert event["status"] == "done"
    assert time.time() >= not_before  # the job was done at once; the event waited
    job = sim.create_job("pdfco", outcome="succeeded", polls=0)
    # ending in the triggerer cannot trip the race: no hold-off
    started = time.time()
    await next_event(trigger_for("pdfco", job["job_id"], not_before=started + 60, end_from_trigger={}))
    assert time.time() < started + 60
