"""The run operators against the simulator: start, wait (in the trigger, run here as the triggerer
would), succeed or fail as the sensor does; refused starts; faults on submit; reattach on retry;
cancel at the timeout."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    TaskDeferred,
)

from airflow_provider_jobstatus.operators.run import (
    STATE_KEY,
    AlteryxRunWorkflowOperator,
    ApiDataToolsRunJobOperator,
    JobApiRunJobOperator,
    NitroRunJobOperator,
    PdfCoRunJobOperator,
    PlaymentCreateJobOperator,
    RunJobOperator,
)
from airflow_provider_jobstatus.testing.connections import connection_uri_env_name
from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger
from tests.task_doubles import FakeStore, FakeTI


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    jobstatus_simulator.state.starts.reset()
    return jobstatus_simulator


def make(vendor: str, **kw: Any) -> RunJobOperator:
    common: dict[str, Any] = {
        "task_id": f"run_{vendor}",
        "conn_id": f"{vendor}_default",
        "poll_interval": 0.05,
    }
    common.update(kw)
    if vendor == "nitro":
        common.setdefault("operation", "transformations")
        common.setdefault("method", "compress")
        common.setdefault("file", "https://example.com/in.pdf")
        return NitroRunJobOperator(**common)
    if vendor == "pdfco":
        common.setdefault("endpoint", "/v1/pdf/convert/to/text")
        common.setdefault("payload", {"url": "https://example.com/in.pdf"})
        return PdfCoRunJobOperator(**common)
    if vendor == "alteryx":
        common.setdefault("workflow_id", "wf1")
        return AlteryxRunWorkflowOperator(**common)
    if vendor == "apidatatools":
        common.setdefault("tool", "/json-to-csv-api")
        common.setdefault("source_url", "https://example.com/in.json")
        return ApiDataToolsRunJobOperator(**common)
    if vendor == "jobapi":
        common.setdefault("payload", {"input": "https://example.com/in.txt"})
        return JobApiRunJobOperator(**common)
    common.setdefault("reference_id", "ref-1")
    common.setdefault("data", {"image_url": "https://example.com/a.png"})
    common.setdefault("work_flow_id", "flow-1")
    return PlaymentCreateJobOperator(**common)


def run(task: RunJobOperator, ti: FakeTI | None = None, store: FakeStore | None = None) -> Any:
    """One try as Airflow runs it: execute, and if it defers, the trigger then execute_complete."""
    context: dict[str, Any] = {"ti": ti or FakeTI(), "task_state_store": store}
    try:
        return task.execute(context)
    except TaskDeferred as deferred:
        assert isinstance(deferred.trigger, JobStatusTrigger)
        event = asyncio.run(_first_event(deferred.trigger))
        return getattr(task, deferred.method_name)(context, event=event)


async def _first_event(trigger: JobStatusTrigger) -> Any:
    async for event in trigger.run():
        return event.payload
    return None


OUTCOMES = [
    (vendor, outcome)
    for vendor, outcomes in {
        "nitro": ("succeeded", "failed"),
        "pdfco": ("succeeded", "failed"),
        "alteryx": ("succeeded", "failed"),
        "apidatatools": ("succeeded", "failed"),
        "playment": ("succeeded",),
        "jobapi": ("succeeded", "failed"),
    }.items()
    for outcome in outcomes
]


@pytest.mark.parametrize(("vendor", "outcome"), OUTCOMES)
def test_start_wait_and_end_as_the_sensor_does(sim: Simulator, vendor: str, outcome: str) -> None:
    sim.plan_starts(vendor, {"outcome": outcome, "polls": 2})
    ti, store = FakeTI(), FakeStore()
    reference = f"ref-{vendor}-{outcome}"
    task = make(vendor, reference_id=reference) if vendor == "playment" else make(vendor)
    if outcome == "succeeded":
        result = run(task, ti, store)
        assert result["state"] == "succeeded" and result["vendor"] == vendor
        assert store.values[STATE_KEY]["max_tries"] == ti.max_tries  # kept: a lost end is retried
    else:
        with pytest.raises(AirflowFailException) as err:
            run(task, ti, store)
        assert "failed" in str(err.value)
    ((key, job_id),) = ti.pushed
    assert key == "job_id" and sim.job(job_id)["vendor"] == vendor
    if vendor == "alteryx":  # a started job is in its workflow's listing, as at the real server
        assert job_id in [j.id for j in sim.state.workflow_jobs("wf1")]
    assert sim.starts()["created"][vendor] == 1
    if vendor == "playment":
        assert sim.starts()["created_by_reference"] == {reference: 1}


def test_job_id_is_in_xcom_and_the_store_before_the_wait(sim: Simulator) -> None:
    ti, store = FakeTI(), FakeStore()
    with pytest.raises(TaskDeferred) as deferred:
        make("alteryx").execute({"ti": ti, "task_state_store": store})
    ((key, job_id),) = ti.pushed
    assert key == "job_id"
    assert store.values[STATE_KEY]["job_id"] == job_id
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["job_id"] == job_id and kwargs["cancel_on_kill"] is True
    # the job was just started: its first poll comes at a random point of the first interval, so
    # a triggerer that takes over many such waits at once does not poll them all in one instant
    assert kwargs["spread_start"] is True
    # Airflow's defer timeout comes after the wait's own deadline, so the trigger ends it first
    assert deferred.value.timeout.total_seconds() > 24 * 3600


def test_wait_false_returns_the_id_at_once(sim: Simulator) -> None:
    sim.plan_starts("pdfco", {"outcome": "succeeded", "seconds": 600})
    ti = FakeTI()
    result = run(make("pdfco", wait=False), ti)
    assert result == {"vendor": "pdfco", "job_id": ti.pushed[0][1]}
    assert sim.job(result["job_id"])["terminal"] is False


def test_the_wait_also_runs_on_the_worker(sim: Simulator) -> None:
    sim.plan_starts("apidatatools", {"outcome": "succeeded", "polls": 2, "opts": {"retry_after": 0}})
    result = run(make("apidatatools", deferrable=False))
    assert result["state"] == "succeeded"


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ({"fault": "refuse_402"}, "not enough credits"),
        ({"fault": "refuse_403"}, "may not read the input URL"),
    ],
)
def test_pdfco_refusals_say_what_was_refused(sim: Simulator, plan: dict[str, Any], expected: str) -> None:
    sim.plan_starts("pdfco", plan)
    with pytest.raises(AirflowFailException) as err:
        run(make("pdfco"))
    text = str(err.value)
    assert expected in text and "PDF.co" in text and "no job was started" in text and "pdfco_default" in text
    assert sim.starts()["created"]["pdfco"] == 0


def test_a_bad_payload_is_refused(sim: Simulator) -> None:
    with pytest.raises(AirflowFailException) as err:
        run(make("pdfco", payload={"pages": "1-2"}))
    assert "refused to start the job (HTTP 400)" in str(err.value) and "url is required" in str(err.value)


def test_wrong_credentials_fail_at_once(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "apidatatools", "host": sim.base_url("apidatatools"), "password": "wrong-key"}
    monkeypatch.setenv(connection_uri_env_name("adt_bad"), json.dumps(conn))
    with pytest.raises(AirflowFailException) as err:
        run(make("apidatatools", conn_id="adt_bad"))
    assert "credentials refused (HTTP 401)" in str(err.value) and "wrong-key" not in str(err.value)


def test_a_connection_of_another_vendor_is_refused(sim: Simulator) -> None:
    with pytest.raises(AirflowFailException, match="needs a 'nitro' connection"):
        run(make("nitro", conn_id="pdfco_default"))


def test_nitro_uploads_local_files_streamed(sim: Simulator, tmp_path: Path) -> None:
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    first.write_bytes(b"%PDF-1.7 one")
    second.write_bytes(b"%PDF-1.7 two")
    result = run(make("nitro", method="merge", file=None, files=[str(first), str(second)]))
    assert result["state"] == "succeeded"
    with pytest.raises(AirflowFailException, match="either file= or files="):
        run(make("nitro", file=None))
    with pytest.raises(AirflowFailException, match="cannot read the input"):
        run(make("nitro", file=str(tmp_path / "missing.pdf")))
    assert sim.starts()["created"]["nitro"] == 1


def test_a_429_on_submit_is_retried(sim: Simulator) -> None:
    sim.plan_starts("alteryx", {"fault": "rate_429"}, {"outcome": "succeeded", "polls": 1})
    task = make("alteryx")
    task.start_backoff = type(task.start_backoff)(base=0.01, cap=0.05)
    assert run(task)["state"] == "succeeded"
    counts = sim.starts()
    assert counts["starts"]["alteryx"] == 2 and counts["created"]["alteryx"] == 1


class RefuseFirstConnect(httpx.BaseTransport):
    """A connect error on the first request (it never reached the vendor), then the real thing."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.refused == 0:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


def test_a_start_that_never_left_is_sent_again(sim: Simulator) -> None:
    transport = RefuseFirstConnect()
    task = make("pdfco", deferrable=False, hook_params={"transport": transport})
    task.start_backoff = type(task.start_backoff)(base=0.01, cap=0.05)
    assert run(task)["state"] == "succeeded"
    assert transport.refused == 1 and sim.starts()["created"]["pdfco"] == 1


def test_a_5xx_after_sending_is_not_sent_again(sim: Simulator) -> None:
    sim.plan_starts("nitro", {"fault": "error_5xx"})
    with pytest.raises(AirflowException) as err:
        run(make("nitro"))
    assert not isinstance(err.value, AirflowFailException)  # a task retry may try again
    assert "a job may have been created" in str(err.value)
    assert sim.starts()["starts"]["nitro"] == 1


def test_playment_adopts_its_job_after_a_lost_answer(sim: Simulator) -> None:
    batch = sim.create_batch(jobs=0)["batch_id"]
    sim.plan_starts("playment", {"fault": "lost_answer", "polls": 1})
    task = make("playment", reference_id="ref-lost", batch_id=batch)
    task.start_backoff = type(task.start_backoff)(base=0.01, cap=0.05)
    ti = FakeTI()
    assert run(task, ti)["state"] == "succeeded"
    counts = sim.starts()
    assert counts["starts"]["playment"] == 1  # the second create answered FS_0001
    assert counts["created_by_reference"] == {"ref-lost": 1}
    assert sim.job(ti.pushed[0][1])["reference_id"] == "ref-lost"


def test_playment_without_batch_names_the_reference(sim: Simulator) -> None:
    sim.plan_starts("playment", {"fault": "lost_answer"})
    task = make("playment", reference_id="ref-nobatch")
    task.start_backoff = type(task.start_backoff)(base=0.01, cap=0.05)
    with pytest.raises(AirflowFailException) as err:
        run(task)
    assert "ref-nobatch" in str(err.value) and "batch_id" in str(err.value)
    assert sim.starts()["created_by_reference"] == {"ref-nobatch": 1}


def test_a_retry_reattaches_to_the_running_job(sim: Simulator) -> None:
    sim.plan_starts("alteryx", {"outcome": "succeeded", "polls": 3})
    store = FakeStore()
    first = FakeTI()
    with pytest.raises(TaskDeferred):  # the first try "dies" while deferred
        make("alteryx").execute({"ti": first, "task_state_store": store})
    started = store.values[STATE_KEY]["submitted_at"]
    second = FakeTI()
    assert run(make("alteryx"), second, store)["state"] == "succeeded"
    assert second.pushed == first.pushed  # the same job, pushed again for the new try
    assert sim.starts()["created"]["alteryx"] == 1
    assert store.values[STATE_KEY]["submitted_at"] == started


def test_a_retry_after_a_lost_failure_fails_again_without_a_new_job(sim: Simulator) -> None:
    """A try that failed on the job's failure but whose worker died before Airflow heard of it is
    retried: the retry ends the same way, and only a Clear (a new run) starts a new job."""
    sim.plan_starts("nitro", {"outcome": "failed", "polls": 0}, {"outcome": "succeeded", "polls": 1})
    store = FakeStore()
    with pytest.raises(AirflowFailException):
        run(make("nitro"), FakeTI(max_tries=1), store)
    with pytest.raises(AirflowFailException, match="failed"):
        run(make("nitro"), FakeTI(max_tries=1), store)
    assert sim.starts()["created"]["nitro"] == 1
    assert run(make("nitro"), FakeTI(max_tries=3), store)["state"] == "succeeded"  # cleared
    assert sim.starts()["created"]["nitro"] == 2


def test_a_retry_after_a_lost_success_succeeds_with_the_same_job(sim: Simulator) -> None:
    sim.plan_starts("pdfco", {"outcome": "succeeded", "polls": 0}, {"outcome": "succeeded", "polls": 0})
    store = FakeStore()
    first = run(make("pdfco"), FakeTI(max_tries=2), store)
    again = run(make("pdfco"), FakeTI(max_tries=2), store)
    assert again["job_id"] == first["job_id"] and sim.starts()["created"]["pdfco"] == 1
    cleared = run(make("pdfco"), FakeTI(max_tries=4), store)
    assert cleared["job_id"] != first["job_id"] and sim.starts()["created"]["pdfco"] == 2


def test_a_cleared_task_reattaches_to_a_job_still_running(sim: Simulator) -> None:
    sim.plan_starts("alteryx", {"outcome": "succeeded", "polls": 3})
    store = FakeStore()
    with pytest.raises(TaskDeferred):
        make("alteryx").execute({"ti": FakeTI(max_tries=1), "task_state_store": store})
    assert run(make("alteryx"), FakeTI(max_tries=5), store)["state"] == "succeeded"
    assert sim.starts()["created"]["alteryx"] == 1


def test_a_retry_after_a_lost_timeout_times_out_again(sim: Simulator) -> None:
    sim.plan_starts("alteryx", {"outcome": "succeeded", "seconds": 600})
    store = FakeStore()
    with pytest.raises(AirflowSensorTimeout):
        run(make("alteryx", timeout=0.5), FakeTI(), store)  # cancels the job
    with pytest.raises(AirflowSensorTimeout, match="timeout of 0 s"):
        run(make("alteryx", timeout=0.5), FakeTI(), store)
    assert sim.starts()["created"]["alteryx"] == 1


def test_a_retry_of_a_start_only_task_returns_the_same_job(sim: Simulator) -> None:
    sim.plan_starts("pdfco", {"outcome": "failed", "polls": 0})
    store = FakeStore()
    first = run(make("pdfco", wait=False), FakeTI(), store)
    assert run(make("pdfco", wait=False), FakeTI(), store) == first
    assert sim.starts()["created"]["pdfco"] == 1


def test_the_timeout_cancels_the_job(sim: Simulator) -> None:
    sim.plan_starts("alteryx", {"outcome": "succeeded", "seconds": 600})
    ti = FakeTI()
    with pytest.raises(AirflowSensorTimeout):
        run(make("alteryx", timeout=0.5), ti)
    job = sim.job(ti.pushed[0][1])
    assert job["canceled"] is True and sim.starts()["canceled"]["alteryx"] == 1


def test_no_cancel_call_is_one_warning(sim: Simulator) -> None:
    sim.plan_starts("pdfco", {"outcome": "succeeded", "seconds": 600})
    ti = FakeTI()
    with structlog.testing.capture_logs() as logs, pytest.raises(AirflowSensorTimeout):
        run(make("pdfco", timeout=0.5), ti)
    job_id = ti.pushed[0][1]
    warnings = [str(e["event"]) for e in logs if "no cancel call" in str(e["event"])]
    assert len(warnings) == 1 and job_id in warnings[0] and "PDF.co" in warnings[0]
    assert sim.job(job_id)["terminal"] is False


class TaskInstanceKey:
    dag_id, run_id, task_id, map_index = "d", "r", "run_alteryx", -1


@pytest.mark.parametrize(("state", "canceled"), [("deferred", False), ("failed", True), ("success", True)])
def test_trigger_on_kill_cancels_only_a_task_no_longer_deferred(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, state: str, canceled: bool
) -> None:
    """Airflow 3.3 calls on_kill for a user's action and when it moves a trigger elsewhere; only
    Airflow's own answer about the task instance tells the two apart."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    asked: list[dict[str, Any]] = []

    def get_task_states(**query: Any) -> dict[str, Any]:
        asked.append(query)
        return {"r": {"run_alteryx": state}}

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(get_task_states))
    job = sim.create_job("alteryx", seconds=600)
    trigger = JobStatusTrigger(conn_id="alteryx_default", job_id=job["job_id"], cancel_on_kill=True)
    trigger.task_instance = TaskInstanceKey()  # type: ignore[assignment]
    asyncio.run(trigger.on_kill())
    assert asked == [{"dag_id": "d", "map_index": -1, "task_ids": ["run_alteryx"], "run_ids": ["r"]}]
    assert sim.job(job["job_id"])["canceled"] is canceled


def test_trigger_on_kill_after_a_freeze_is_a_reassignment(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A triggerer that stood still past half its health check (SIGSTOP, starved) has had its
    triggers handed to another triggerer, whose copy may already have ended the wait: the task is
    then queued although nobody killed it, and the job must not be cancelled (the drill's
    SIGSTOP drill cancelled three jobs so)."""
    import time as _time

    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    from airflow_provider_jobstatus import airflow_workarounds

    monkeypatch.setenv("AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD", "4")
    monkeypatch.setattr(
        RuntimeTaskInstance, "get_task_states", staticmethod(lambda **q: {"r": {"run_alteryx": "queued"}})
    )
    job = sim.create_job("alteryx", seconds=600)
    trigger = JobStatusTrigger(conn_id="alteryx_default", job_id=job["job_id"], cancel_on_kill=True)
    trigger.task_instance = TaskInstanceKey()  # type: ignore[assignment]

    async def main(freeze: float) -> None:
        airflow_workarounds.watch_stalls()
        await asyncio.sleep(0.1)
        _time.sleep(freeze)  # the loop stands still, as in a frozen triggerer
        await asyncio.sleep(1.5)  # the watch wakes and notes it
        await trigger.on_kill()

    asyncio.run(main(3.5))
    assert sim.job(job["job_id"])["canceled"] is False
    asyncio.run(main(0.0))  # a new loop, no stall: the task is no longer deferred, a user's kill
    assert sim.job(job["job_id"])["canceled"] is True


def test_trigger_on_kill_of_an_ended_job_sends_no_cancel(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies of one trigger (a frozen triggerer's and its adopter's): the one that saw the job
    end resumed the task, so the other finds the task no longer deferred when Airflow stops it;
    the job has ended, so no cancel is sent (the drill's SIGSTOP drill sent one so)."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    monkeypatch.setattr(
        RuntimeTaskInstance, "get_task_states", staticmethod(lambda **q: {"r": {"run_alteryx": "failed"}})
    )
    job = sim.create_job("alteryx", outcome="canceled", seconds=0)
    trigger = JobStatusTrigger(conn_id="alteryx_default", job_id=job["job_id"], cancel_on_kill=True)
    trigger.task_instance = TaskInstanceKey()  # type: ignore[assignment]
    sim.clear_requests()
    asyncio.run(trigger.on_kill())
    counts = sim.requests(include_log=False)["counts"]
    assert not {route for route in counts if "cancel" in route}, counts


def test_trigger_on_kill_retries_a_fault_before_it_decides_the_job_still_runs(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ended-job check above meets the vendor's faults like any poll: one 5xx on it must not
    make the trigger cancel a job that has ended (the drill's SIGSTOP row sent a cancel so)."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    monkeypatch.setattr(
        RuntimeTaskInstance, "get_task_states", staticmethod(lambda **q: {"r": {"run_alteryx": "queued"}})
    )
    job = sim.create_job("alteryx", outcome="succeeded", seconds=0)
    # seed 3: the first status request draws a 5xx, the second does not
    sim.set_faults("alteryx", error_5xx=0.5, seed=3, paths=["status"])
    trigger = JobStatusTrigger(conn_id="alteryx_default", job_id=job["job_id"], cancel_on_kill=True)
    trigger.task_instance = TaskInstanceKey()  # type: ignore[assignment]
    sim.clear_requests()
    asyncio.run(trigger.on_kill())
    counts = sim.requests(include_log=False)["counts"]
    assert sum(n for route, n in counts.items() if "status" in route) == 2, counts
    assert not {route for route in counts if "cancel" in route}, counts


def test_trigger_on_kill_outlasts_the_triggerers_repeated_cancels(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow 3.3's triggerer cancels a cancelled trigger's task again on every state sync until
    it has finished, and swallows a CancelledError out of on_kill without a log line: on_kill must
    still reach the vendor (this is how the e2e's mark-failed cancel was lost)."""
    import time as _time

    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    def get_task_states(**query: Any) -> dict[str, Any]:
        _time.sleep(0.5)  # the supervisor's answer takes a while on a loaded triggerer
        return {"r": {"run_alteryx": "failed"}}

    from airflow_provider_jobstatus import airflow_workarounds

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(get_task_states))
    job = sim.create_job("alteryx", seconds=600)
    trigger = JobStatusTrigger(conn_id="alteryx_default", job_id=job["job_id"], cancel_on_kill=True)
    trigger.task_instance = TaskInstanceKey()  # type: ignore[assignment]

    async def run_trigger() -> None:  # the shape of TriggerRunner.run_trigger's except branch
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(trigger.on_kill(), timeout=30)
            raise

    async def main() -> None:
        task = asyncio.create_task(run_trigger())
        await asyncio.sleep(0.05)
        while not task.done():  # the user's action, then one per sync
            task.cancel("__airflow_user_action__")
            await asyncio.sleep(0.1)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # the triggerer's loop goes on after the trigger's task has ended; so does the cancel
        for _ in range(200):
            if not airflow_workarounds._outlasting:
                break
            await asyncio.sleep(0.05)

    asyncio.run(main())
    assert sim.job(job["job_id"])["canceled"] is True


def test_a_sensor_trigger_never_cancels(sim: Simulator) -> None:
    job = sim.create_job("alteryx", seconds=600)
    trigger = JobStatusTrigger(conn_id="alteryx_default", job_id=job["job_id"])
    trigger.task_instance = TaskInstanceKey()  # type: ignore[assignment]
    asyncio.run(trigger.on_kill())
    assert sim.job(job["job_id"])["canceled"] is False
