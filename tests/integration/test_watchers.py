"""The asset watchers against the simulator over real HTTP, iterated the way the triggerer does
(``run()`` in one event loop), with a stand-in for Airflow's asset state store (the real one is
exercised by tests/e2e/test_asset_watchers.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import structlog

from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.triggers import _watch
from airflow_provider_jobstatus.triggers.watchers import (
    AlteryxWorkflowJobsTrigger,
    PlaymentBatchJobsTrigger,
    _JobsWatcher,
)

STORE_KEY_PREFIX = "airflow_provider_jobstatus:"


class FakeStore:
    """What the triggerer hands an event trigger watching one asset: ``aget``/``aset``."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        json.dumps(value)  # the store keeps JSON
        self.values[key] = value


class Running:
    """A watcher's ``run()`` consumed into a queue, as the triggerer would."""

    def __init__(self, trigger: _JobsWatcher) -> None:
        self.trigger = trigger
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for event in self.trigger.run():
            payload = event.payload
            json.dumps(payload)
            self.events.put_nowait(payload)

    async def next(self, limit: float = 30.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), limit)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    return jobstatus_simulator


@pytest.fixture(autouse=True)
def quick_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_watch, "COMMIT_DELAY", 0.2)


def watcher(cls: type[_JobsWatcher], conn_id: str, watched: str, store: FakeStore | None) -> _JobsWatcher:
    trigger = cls(conn_id, watched, poll_interval=1)
    if store is not None:
        trigger.asset_state_store = store
    return trigger


async def until(check: Callable[[], bool], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def held_alteryx(sim: Simulator, workflow: str, outcome: str = "succeeded", **kw: Any) -> str:
    return str(sim.create_job("alteryx", outcome, workflow_id=workflow, hold=True, **kw)["job_id"])


def ids(event: dict[str, Any]) -> set[str]:
    return {job["id"] for job in event["jobs"]}


async def test_alteryx_announces_each_finished_job_once_with_its_disposition(sim: Simulator) -> None:
    workflow = "wf-announce"
    before = sim.create_job("alteryx", workflow_id=workflow)["job_id"]  # finished before the watcher
    ok, bad, warned, stopped = (
        held_alteryx(sim, workflow),
        held_alteryx(sim, workflow, "failed"),
        held_alteryx(sim, workflow, disposition="Warning"),
        held_alteryx(sim, workflow, "canceled"),
    )
    store = FakeStore()
    run = Running(watcher(AlteryxWorkflowJobsTrigger, "alteryx_default", workflow, store))
    try:
        await until(lambda: bool(store.values))  # the baseline is recorded
        sim.finish(job_ids=[ok, bad, warned])
        event = await run.next()
        assert event["vendor"] == "alteryx" and event["workflow_id"] == workflow and event["more"] == 0
        by_id = {job["id"]: job for job in event["jobs"]}
        assert set(by_id) == {ok, bad, warned}  # not `before`, not the held one
        assert by_id[ok] == {"id": ok, "state": "succeeded", "status": "Completed", "disposition": "Success"}
        assert by_id[bad]["state"] == "failed" and by_id[bad]["disposition"] == "Error"
        assert by_id[warned]["state"] == "succeeded" and by_id[warned]["disposition"] == "Warning"
        sim.finish(workflow_id=workflow)
        event = await run.next()
        assert event["jobs"] == [{"id": stopped, "state": "canceled", "status": "Cancelled"}]
        await asyncio.sleep(3)  # three more listings: nothing is news any more
        assert run.events.empty()
    finally:
        await run.stop()
    assert before not in json.dumps(store.values)  # digests, not ids


async def test_a_restarted_watcher_goes_on_where_it_was(sim: Simulator) -> None:
    workflow = "wf-restart"
    first, second = held_alteryx(sim, workflow), held_alteryx(sim, workflow)
    store = FakeStore()
    run = Running(watcher(AlteryxWorkflowJobsTrigger, "alteryx_default", workflow, store))
    try:
        await until(lambda: bool(store.values))
        sim.finish(job_ids=[first])
        assert ids(await run.next()) == {first}
        await asyncio.sleep(0.5)  # past the commit delay
    finally:
        await run.stop()
    sim.finish(job_ids=[second])  # finishes while no watcher runs
    run = Running(watcher(AlteryxWorkflowJobsTrigger, "alteryx_default", workflow, store))
    try:
        assert ids(await run.next()) == {second}  # not missed; `first` not repeated
        await asyncio.sleep(2.5)
        assert run.events.empty()
    finally:
        await run.stop()


async def test_stopped_before_recording_announces_the_round_again(sim: Simulator) -> None:
    """At least once: a watcher stopped right after an event (before the cursor is written)."""
    workflow = "wf-again"
    job = held_alteryx(sim, workflow)
    store = FakeStore()
    run = Running(watcher(AlteryxWorkflowJobsTrigger, "alteryx_default", workflow, store))
    _watch.COMMIT_DELAY = 30.0  # reset by the fixture's monkeypatch
    try:
        await until(lambda: bool(store.values))
        sim.finish(job_ids=[job])
        assert ids(await run.next()) == {job}
    finally:
        await run.stop()
    _watch.COMMIT_DELAY = 0.2
    run = Running(watcher(AlteryxWorkflowJobsTrigger, "alteryx_default", workflow, store))
    try:
        assert ids(await run.next()) == {job}
    finally:
        await run.stop()


async def test_playment_batch_events_hold_at_most_1000_jobs(sim: Simulator) -> None:
    batch = sim.create_batch(1205, page_size=500, hold=True, result_bytes=16)
    store = FakeStore()
    run = Running(watcher(PlaymentBatchJobsTrigger, "playment_default", batch["batch_id"], store))
    try:
        await until(lambda: bool(store.values))
        sim.finish(batch_id=batch["batch_id"])
        first = await run.next()
        second = await run.next()
        assert (len(first["jobs"]), first["more"], len(second["jobs"]), second["more"]) == (1000, 205, 205, 0)
        assert ids(first) | ids(second) == set(batch["job_ids"])
        assert first["jobs"][0] == {"id": batch["job_ids"][0], "state": "succeeded", "status": "completed"}
        assert all("result" not in job and "http" not in json.dumps(job) for job in first["jobs"])
    finally:
        await run.stop()


async def test_watchers_of_one_workflow_share_one_listing_per_interval(sim: Simulator) -> None:
    workflow = "wf-shared"
    held_alteryx(sim, workflow)
    sim.clear_requests()
    runs = [
        Running(watcher(AlteryxWorkflowJobsTrigger, "alteryx_default", workflow, FakeStore()))
        for _ in range(5)
    ]
    try:
        await asyncio.sleep(4.5)
    finally:
        for run in runs:
            await run.stop()
    listings = sim.requests(include_log=False)["counts"].get("alteryx.workflow_jobs", 0)
    assert 3 <= listings <= 7  # about one per second, not five


async def test_faults_never_end_a_watcher(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = "wf-faults"
    job = held_alteryx(sim, workflow)
    store = FakeStore()
    sim.set_faults("alteryx", error_5xx=1.0, paths=["workflow_jobs"])
    with structlog.testing.capture_logs() as logs:
        run = Running(watcher(AlteryxWorkflowJobsTrigger, "alteryx_default", workflow, store))
        try:
            await asyncio.sleep(3)
            assert not run.task.done() and not store.values
            sim.clear_faults()
            await until(lambda: bool(store.values))
            sim.finish(job_ids=[job])
            assert ids(await run.next()) == {job}
        finally:
            await run.stop()
    assert any("retrying with backoff" in str(entry.get("event")) for entry in logs)


async def test_refused_credentials_are_logged_and_retried(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {"conn_type": "alteryx", "host": sim.base_url("alteryx"), "login": "nobody", "password": "wrong"}
    monkeypatch.setenv("AIRFLOW_CONN_ALTERYX_REFUSED", json.dumps(conn))
    with structlog.testing.capture_logs() as logs:
        run = Running(watcher(AlteryxWorkflowJobsTrigger, "alteryx_refused", "wf-refused", FakeStore()))
        try:
            await until(lambda: any(e.get("log_level") == "error" for e in logs), limit=20)
            await asyncio.sleep(1)
            assert not run.task.done()
        finally:
            await run.stop()
    errors = [str(e.get("event")) for e in logs if e.get("log_level") == "error"]
    assert "Alteryx Server" in errors[0] and "keeps trying" in errors[0]
    assert "wrong" not in " ".join(str(e) for e in logs)


async def test_without_a_state_store_the_cursor_is_kept_in_memory(sim: Simulator) -> None:
    workflow = "wf-memory"
    job = held_alteryx(sim, workflow)
    sim.clear_requests()
    run = Running(watcher(AlteryxWorkflowJobsTrigger, "alteryx_default", workflow, None))
    try:
        await until(lambda: sim.requests(include_log=False)["counts"].get("alteryx.workflow_jobs", 0) >= 1)
        await asyncio.sleep(0.3)
        sim.finish(job_ids=[job])
        assert ids(await run.next()) == {job}
    finally:
        await run.stop()
