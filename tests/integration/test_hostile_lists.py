"""Hostile listings, vendor text and starts against a local origin on real sockets, through the
public operators, hooks and watchers: listings without end, blank ids, huge vendor text in events,
a job flipping back and forth under a watcher, and starts whose answer never came.

Each hostile origin ends its own misbehaviour after a while (a listing ends after a few hundred
pages) so that code without the bound under test finishes too, and the test fails on it instead
of hanging.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_jobstatus.operators import run as run_module
from airflow_provider_jobstatus.operators.batch import BatchJobsToXComOperator
from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.triggers import _watch
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger
from airflow_provider_jobstatus.triggers.watchers import (
    AlteryxWorkflowJobsTrigger,
    PlaymentBatchJobsTrigger,
    _JobsWatcher,
)
from tests.integration.test_run import make, run
from tests.integration.test_trigger import first_event
from tests.integration.test_watchers import FakeStore
from tests.servers import Background, Origin, Reply, Seen, http_answer
from tests.task_doubles import FakeStore as TaskStore
from tests.task_doubles import FakeTI

MiB = 1024 * 1024
#: the documented most bytes of one piece of vendor text in an event or XCom value (docs/limits.md)
MAX_TEXT_BYTES = 4096
FAST = {"hook_params": {"backoff": 0.01, "max_backoff": 0.05}}


@pytest.fixture(scope="module")
def bg() -> Iterator[Background]:
    loop = Background()
    yield loop
    loop.close()


def json_reply(body: Any, status: str = "200 OK") -> Reply:
    return Reply(http_answer(json.dumps(body).encode(), status, [("Content-Type", "application/json")]))


class Served:
    """A hostile origin: ``answer(seen)`` replies; requests are counted by path, not kept (a
    long listing would otherwise grow the test's own memory)."""

    def __init__(self, bg: Background, answer: Callable[[Seen], Reply]) -> None:
        self.answer = answer
        self.counts: dict[str, int] = {}
        self.origin = Origin(bg, self._script)

    def _script(self, seen: Seen) -> Reply:
        self.origin.requests.clear()
        path = seen.target.split("?", 1)[0]
        self.counts[path] = self.counts.get(path, 0) + 1
        return self.answer(seen)

    def count(self, fragment: str) -> int:
        return sum(n for path, n in self.counts.items() if fragment in path)


@pytest.fixture
def served(bg: Background) -> Iterator[Callable[[Callable[[Seen], Reply]], Served]]:
    made: list[Served] = []

    def make(answer: Callable[[Seen], Reply]) -> Served:
        made.append(Served(bg, answer))
        return made[-1]

    yield make
    for server in made:
        server.origin.close()


def connect(monkeypatch: pytest.MonkeyPatch, conn_id: str, vendor: str, url: str, **extra: Any) -> None:
    conn: dict[str, Any] = {"conn_type": vendor, "host": url, "password": "k-hostile"}
    if vendor in ("nitro", "alteryx"):
        conn["login"] = "client"
    if vendor == "playment":
        extra = {"project_id": "p1", **extra}
    if extra:
        conn["extra"] = extra
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def token_reply(seen: Seen) -> Reply | None:
    if "/oauth" in seen.target:
        return json_reply({"access_token": "t", "expires_in": 3600})
    return None


class EndlessBatch:
    """A Playment batch whose every page names a fresh next page (a long random token), until
    ``ends_after`` pages. Jobs are ``in_progress`` so a status filter keeps none of them."""

    def __init__(self, ends_after: int, jobs: int = 100, token_bytes: int = 16 * 1024) -> None:
        self.ends_after = ends_after
        self.jobs = jobs
        self.token_bytes = token_bytes
        self.pages = 0

    def __call__(self, seen: Seen) -> Reply:
        self.pages += 1
        n = self.pages
        token = f"{n:08d}".ljust(self.token_bytes, "x") if n < self.ends_after else None
        jobs = [{"id": f"p{n}-j{i}", "status": "in_progress"} for i in range(self.jobs)]
        return json_reply({"data": {"jobs": jobs, "next_page_token": token}, "success": True})


class Running:
    """A watcher's ``run()`` consumed into a list, as the triggerer would."""

    def __init__(self, trigger: _JobsWatcher) -> None:
        self.trigger = trigger
        self.events: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for event in self.trigger.run():
            json.dumps(event.payload)
            self.events.append(event.payload)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def until(check: Callable[[], bool], limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def watcher(trigger: _JobsWatcher, store: FakeStore | None = None) -> _JobsWatcher:
    trigger.asset_state_store = store or FakeStore()
    return trigger


@pytest.fixture(autouse=True)
def quick_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_watch, "COMMIT_DELAY", 0.05)


# == 1. listings without end ======================================================================
def test_an_endless_batch_listing_stops_at_the_default_cap_with_memory_flat(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served]
) -> None:
    batch = EndlessBatch(ends_after=1500)
    server = served(batch)
    connect(monkeypatch, "hostile_playment", "playment", server.origin.url)
    op = BatchJobsToXComOperator(
        task_id="rows", conn_id="hostile_playment", batch_id="b1", status="completed", **FAST
    )
    tracemalloc.start()
    try:
        with pytest.raises(AirflowFailException) as failed:
            op.execute(context={})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"endless batch, XCom rows: {batch.pages} pages fetched, peak {peak / MiB:.1f} MiB traced")
    message = str(failed.value)
    for part in ("Playment batch 'b1'", "past 1000 pages", "connection 'hostile_playment'", '"max_pages"'):
        assert part in message, message
    assert "max_pages=" in message, "names the operator's own argument too"
    assert batch.pages == 1000
    assert peak < 48 * MiB, "1,000 tokens of 16 KiB are not all kept"


def test_an_endless_batch_written_to_output_path_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served], tmp_path: Path
) -> None:
    batch = EndlessBatch(ends_after=300, token_bytes=64)
    server = served(batch)
    connect(monkeypatch, "hostile_playment", "playment", server.origin.url, max_pages=20)
    op = BatchJobsToXComOperator(
        task_id="rows", conn_id="hostile_playment", batch_id="b1", output_path=f"{tmp_path}/", **FAST
    )
    with pytest.raises(AirflowFailException, match=r"past 20 pages.*connection 'hostile_playment'"):
        op.execute(context={})
    left = sorted(p.name for p in tmp_path.iterdir())
    print(f"endless batch, output_path: {batch.pages} pages fetched, files left {left}")
    assert batch.pages == 20
    assert left == [], "no half-written .part file and no jobs.jsonl"


def test_the_operators_max_pages_still_reads_a_partial_listing_quietly(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served]
) -> None:
    batch = EndlessBatch(ends_after=300, jobs=2, token_bytes=8)
    server = served(batch)
    connect(monkeypatch, "hostile_playment", "playment", server.origin.url, max_pages=20)
    op = BatchJobsToXComOperator(
        task_id="rows", conn_id="hostile_playment", batch_id="b1", max_pages=30, **FAST
    )
    assert len(op.execute(context={})) == 60 and batch.pages == 30


@pytest.mark.parametrize("value", [0, -3, "many", 2.5, True])
def test_a_wrong_page_cap_fails_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served], value: Any
) -> None:
    server = served(EndlessBatch(ends_after=2))
    connect(monkeypatch, "hostile_playment", "playment", server.origin.url, max_pages=value)
    op = BatchJobsToXComOperator(task_id="rows", conn_id="hostile_playment", batch_id="b1", **FAST)
    with pytest.raises(AirflowFailException, match=r"connection 'hostile_playment'.*extra 'max_pages'"):
        op.execute(context={})
    assert server.counts == {}


async def test_the_playment_watcher_logs_an_endless_listing_and_keeps_watching(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served]
) -> None:
    batch = EndlessBatch(ends_after=400, token_bytes=4096)
    server = served(batch)
    connect(monkeypatch, "hostile_playment_w", "playment", server.origin.url, max_pages=25)
    tracemalloc.start()
    with structlog.testing.capture_logs() as logs:
        run = Running(watcher(PlaymentBatchJobsTrigger("hostile_playment_w", "b1", poll_interval=1)))
        try:
            await until(lambda: any(e.get("log_level") == "error" for e in logs) or batch.pages >= 400)
            await asyncio.sleep(0.5)
            assert not run.task.done()
        finally:
            await run.stop()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    errors = [str(e.get("event")) for e in logs if e.get("log_level") == "error"]
    print(f"endless batch, watcher: {batch.pages} pages fetched, peak {peak / MiB:.1f} MiB, errors {errors}")
    assert batch.pages == 25
    assert errors and "Playment batch 'b1'" in errors[0] and "past 25 pages" in errors[0]
    assert "connection 'hostile_playment_w'" in errors[0] and "keeps trying" in errors[0]
    assert run.events == []


async def test_the_alteryx_watcher_honours_the_connections_page_cap(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served]
) -> None:
    def answer(seen: Seen) -> Reply:
        token = token_reply(seen)
        if token is not None:
            return token
        offset = int(seen.target.split("offset=", 1)[1].split("&", 1)[0])
        return json_reply([{"id": f"j{offset + i}", "status": "Running"} for i in range(100)])

    server = served(answer)
    connect(monkeypatch, "hostile_alteryx_w", "alteryx", server.origin.url, max_pages=5)
    with structlog.testing.capture_logs() as logs:
        run = Running(watcher(AlteryxWorkflowJobsTrigger("hostile_alteryx_w", "wf1", poll_interval=1)))
        try:
            await until(lambda: any(e.get("log_level") == "error" for e in logs))
            await asyncio.sleep(0.3)
            assert not run.task.done()
        finally:
            await run.stop()
    pages = server.count("/workflows/")
    errors = [str(e.get("event")) for e in logs if e.get("log_level") == "error"]
    print(f"endless Alteryx listing, watcher: {pages} pages fetched, errors {errors}")
    assert pages == 5
    assert "workflow 'wf1'" in errors[0] and "past 5 pages" in errors[0] and '"max_pages"' in errors[0]


# == 2. blank ids =================================================================================
@pytest.mark.parametrize(
    ("listed", "said"),
    [
        ("", "a listed job has a blank 'id'"),
        ("   ", "a listed job has a blank 'id'"),
        ("\t\n", "a listed job has a blank 'id'"),
        ("j" * (MAX_TEXT_BYTES + 1), "a listed job has an 'id' of 4097 characters"),
    ],
    ids=["empty", "spaces", "whitespace", "longer-than-events-carry"],
)
def test_a_blank_or_huge_id_in_a_batch_listing_is_malformed_never_a_row(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served], listed: str, said: str
) -> None:
    jobs = [{"id": "j1", "status": "completed"}, {"id": listed, "status": "completed"}]
    server = served(
        lambda seen: json_reply({"data": {"jobs": jobs, "next_page_token": None}, "success": True})
    )
    connect(monkeypatch, "hostile_playment", "playment", server.origin.url)
    op = BatchJobsToXComOperator(task_id="rows", conn_id="hostile_playment", batch_id="b1", **FAST)
    with pytest.raises(AirflowException, match=rf"Playment batch 'b1': {said}"):
        op.execute(context={})


@pytest.mark.parametrize("blank", ["", "  "])
async def test_a_blank_id_in_a_workflow_listing_is_malformed(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served], blank: str
) -> None:
    def answer(seen: Seen) -> Reply:
        return token_reply(seen) or json_reply(
            [{"id": "j1", "status": "Completed"}, {"id": blank, "status": "Completed"}]
        )

    server = served(answer)
    connect(monkeypatch, "hostile_alteryx_w", "alteryx", server.origin.url)
    with structlog.testing.capture_logs() as logs:
        run = Running(watcher(AlteryxWorkflowJobsTrigger("hostile_alteryx_w", "wf1", poll_interval=1)))
        try:
            await until(lambda: any("blank 'id'" in str(e.get("event")) for e in logs), limit=20)
        finally:
            await run.stop()
    assert run.events == []


# == 3. vendor text in events and XCom is cut =====================================================
HUGE = 1024 * 1024


def event_size(value: Any) -> int:
    return len(json.dumps(value).encode())


def full_text_logged(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


async def test_a_1_mib_status_string_makes_a_small_timeout_event(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    raw = "w" * (HUGE - 1) + "!"
    server = served(lambda seen: json_reply({"status": raw}))
    connect(monkeypatch, "hostile_pdfco", "pdfco", server.origin.url)
    trigger = JobStatusTrigger(
        conn_id="hostile_pdfco", job_id="j1", poll_interval=0.5, timeout_at=time.time() + 2
    )
    caplog.set_level(logging.INFO)
    event = await first_event(trigger)
    size = event_size(event)
    print(f"1 MiB status string: timeout event of {size} bytes")
    assert event["status"] == "timeout"
    assert size < 4 * MAX_TEXT_BYTES
    assert (
        event["job"]["raw_status"].startswith("www")
        and "[cut from 1048576 bytes" in event["job"]["raw_status"]
    )
    assert "[cut from" in event["message"]
    assert full_text_logged(caplog, raw) >= 1, "the full text is in the log"


async def test_a_long_error_message_makes_a_small_error_event(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served]
) -> None:
    said = "no " * 20_000
    server = served(lambda seen: json_reply({"error": True, "message": said}, "400 Bad Request"))
    connect(monkeypatch, "hostile_pdfco", "pdfco", server.origin.url)
    trigger = JobStatusTrigger(
        conn_id="hostile_pdfco", job_id="j1", poll_interval=0.5, timeout_at=time.time() + 30
    )
    event = await first_event(trigger)
    size = event_size(event)
    print(f"60 KB error message: error event of {size} bytes")
    assert event["status"] == "error" and "[cut from" in event["message"]
    assert size < 2 * MAX_TEXT_BYTES


async def test_an_alteryx_watcher_event_carries_cut_vendor_text(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    finished: set[str] = set()
    disposition = "Success " + "m" * HUGE

    def answer(seen: Seen) -> Reply:
        token = token_reply(seen)
        if token is not None:
            return token
        if "/workflows/" in seen.target:
            return json_reply(
                [
                    {"id": f"j{i}", "status": "Completed" if f"j{i}" in finished else "Running"}
                    for i in range(5)
                ]
            )
        job = seen.target.split("/v3/jobs/", 1)[1].split("?", 1)[0]
        return json_reply({"id": job, "status": "Completed", "disposition": disposition, "messages": []})

    server = served(answer)
    connect(monkeypatch, "hostile_alteryx_w", "alteryx", server.origin.url)
    store = FakeStore()
    caplog.set_level(logging.INFO)
    run = Running(watcher(AlteryxWorkflowJobsTrigger("hostile_alteryx_w", "wf1", poll_interval=1), store))
    try:
        await until(lambda: bool(store.values))
        finished.update(f"j{i}" for i in range(5))
        await until(lambda: bool(run.events))
    finally:
        await run.stop()
    (event,) = run.events
    size = event_size(event)
    print(f"5 jobs with 1 MiB dispositions: asset event of {size} bytes")
    assert sorted(j["id"] for j in event["jobs"]) == [f"j{i}" for i in range(5)]
    assert all(
        j["disposition"].startswith("Success mmm") and "[cut from" in j["disposition"] for j in event["jobs"]
    )
    assert size < 6 * MAX_TEXT_BYTES
    assert full_text_logged(caplog, disposition) == 5, "each job's full text logged once"


def test_batch_rows_carry_cut_vendor_text(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    status = "completed" + "?" * HUGE
    jobs = [{"id": "j1", "status": status, "reference_id": "r" * HUGE}]
    server = served(
        lambda seen: json_reply({"data": {"jobs": jobs, "next_page_token": None}, "success": True})
    )
    connect(monkeypatch, "hostile_playment", "playment", server.origin.url)
    caplog.set_level(logging.INFO)
    op = BatchJobsToXComOperator(task_id="rows", conn_id="hostile_playment", batch_id="b1", **FAST)
    rows = op.execute(context={})
    print(f"a row with 1 MiB status and reference_id: XCom value of {event_size(rows)} bytes")
    (row,) = rows
    assert row["id"] == "j1" and "[cut from" in row["status"] and "[cut from" in row["reference_id"]
    assert event_size(rows) < 3 * MAX_TEXT_BYTES
    assert full_text_logged(caplog, status) == 1


# == 4. the watcher's record of announced jobs ====================================================
async def test_a_job_flipping_back_and_forth_is_announced_once(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served]
) -> None:
    states = {"j1": "in_progress", "j2": "in_progress"}

    def answer(seen: Seen) -> Reply:
        jobs = [{"id": job, "status": status} for job, status in states.items()]
        return json_reply({"data": {"jobs": jobs, "next_page_token": None}, "success": True})

    server = served(answer)
    connect(monkeypatch, "hostile_playment_w", "playment", server.origin.url)
    store = FakeStore()
    run = Running(watcher(PlaymentBatchJobsTrigger("hostile_playment_w", "b1", poll_interval=1), store))

    async def listings(more: int) -> None:
        start = server.count("/batch/")
        await until(lambda: server.count("/batch/") >= start + more)

    try:
        await until(lambda: bool(store.values))  # the baseline: nothing finished yet
        for change in ({"j1": "completed"}, {"j1": "in_progress", "j2": "completed"}, {"j1": "completed"}):
            states.update(change)
            await listings(3)
    finally:
        await run.stop()
    announced = [[job["id"] for job in event["jobs"]] for event in run.events]
    print(f"completed -> running -> completed with another job finishing between: events {announced}")
    assert announced == [["j1"], ["j2"]]


# == 5. no second job without the user's word =====================================================
@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    jobstatus_simulator.clear_requests()
    jobstatus_simulator.state.starts.reset()
    return jobstatus_simulator


def test_a_start_that_timed_out_is_not_sent_again_by_the_retry(
    monkeypatch: pytest.MonkeyPatch, served: Callable[..., Served]
) -> None:
    posts: list[str] = []

    def answer(seen: Seen) -> Reply:
        if seen.method == "POST":  # the job is made; the first answer comes after the client gave up
            posts.append(seen.target)
            return Reply(
                http_answer(b'{"job_id": "j1", "status": "queued"}'), stall=1.5 if len(posts) == 1 else 0
            )
        return json_reply({"job_id": "j1", "status": "success", "output_url": "https://x.test/a.csv"})

    server = served(answer)
    connect(monkeypatch, "hostile_adt", "apidatatools", server.origin.url)
    store, ti = TaskStore(), FakeTI(max_tries=2)
    kw = {"conn_id": "hostile_adt", "deferrable": False, "hook_params": {"timeout": 0.5}}
    with pytest.raises(AirflowException) as first:
        run(make("apidatatools", **kw), ti, store)
    assert not isinstance(first.value, AirflowFailException), "Airflow retries the task"
    with pytest.raises(AirflowFailException) as second:
        run(make("apidatatools", **kw), ti, store)
    starts = server.count("/json-to-csv-api")
    print(f"APIDataTools start timed out, then a retry: {starts} starts sent; the retry said: {second.value}")
    assert starts == 1
    said = str(second.value)
    for part in (
        "APIDataTools",
        "possible orphan",
        'on_unknown_start="start_again"',
        "connection 'hostile_adt'",
    ):
        assert part in said, said
    result = run(make("apidatatools", on_unknown_start="start_again", **kw), ti, store)
    assert server.count("/json-to-csv-api") == 2, "the user's word starts a new one"
    assert result is None or result["state"] == "succeeded"


@pytest.mark.parametrize("vendor", ["nitro", "pdfco", "apidatatools"])
def test_a_lost_start_answer_fails_the_retry_where_the_vendor_cannot_be_asked(
    sim: Simulator, vendor: str
) -> None:
    sim.plan_starts(vendor, {"fault": "lost_answer"})
    store, ti = TaskStore(), FakeTI(max_tries=2)
    with pytest.raises(AirflowException, match="a job may have been created"):
        run(make(vendor), ti, store)
    with pytest.raises(AirflowFailException, match=r"possible orphan.*on_unknown_start=\"start_again\""):
        run(make(vendor), ti, store)
    print(f"{vendor}: lost start answer, then a retry: {sim.starts()['created'][vendor]} jobs made")
    assert sim.starts()["created"][vendor] == 1
    cleared = FakeTI(max_tries=4)  # a Clear is the user's word: a new run starts a new job
    assert run(make(vendor), cleared, store)["state"] == "succeeded"
    assert sim.starts()["created"][vendor] == 2


def test_alteryx_adopts_the_job_a_lost_start_made(sim: Simulator) -> None:
    workflow = f"wf-lost-{time.time_ns()}"
    sim.plan_starts("alteryx", {"fault": "lost_answer", "polls": 1})
    store, ti = TaskStore(), FakeTI(max_tries=2)
    with pytest.raises(AirflowException, match="a job may have been created"):
        run(make("alteryx", workflow_id=workflow), ti, store)
    made = sim.state.workflow_jobs(workflow)
    assert run(make("alteryx", workflow_id=workflow), ti, store)["state"] == "succeeded"
    print(f"alteryx: lost start answer, then a retry: {sim.starts()['created']['alteryx']} jobs made")
    assert sim.starts()["created"]["alteryx"] == 1
    assert [v for k, v in ti.pushed if k == "job_id"] == [made[0].id]


def test_alteryx_does_not_guess_between_jobs_made_since_the_lost_start(sim: Simulator) -> None:
    workflow = f"wf-two-{time.time_ns()}"
    sim.plan_starts("alteryx", {"fault": "lost_answer"})
    store, ti = TaskStore(), FakeTI(max_tries=2)
    with pytest.raises(AirflowException):
        run(make("alteryx", workflow_id=workflow), ti, store)
    sim.create_job("alteryx", workflow_id=workflow, hold=True)  # someone else's, meanwhile
    with pytest.raises(AirflowFailException, match=r"has 2 jobs made since then.*on_unknown_start"):
        run(make("alteryx", workflow_id=workflow), ti, store)
    assert sim.starts()["created"]["alteryx"] == 1


def test_playment_finds_the_job_of_a_lost_start_in_its_batch(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_module, "START_ATTEMPTS", 1)  # the first try ends after one lost answer
    batch = sim.create_batch(jobs=0)["batch_id"]
    sim.plan_starts("playment", {"fault": "lost_answer", "polls": 1})
    store, ti = TaskStore(), FakeTI(max_tries=2)
    with pytest.raises(AirflowException):
        run(make("playment", reference_id="ref-retry", batch_id=batch), ti, store)
    sim.clear_requests()
    assert run(make("playment", reference_id="ref-retry", batch_id=batch), ti, store)["state"] == "succeeded"
    counts = sim.requests(include_log=False)["counts"]
    print(f"playment: lost start answer, then a retry: requests of the retry {counts}")
    assert sim.starts()["created_by_reference"] == {"ref-retry": 1}
    assert not any("create" in route or "start" in route for route in counts), "found, not sent again"


@pytest.mark.parametrize(
    ("kind", "timeout"),
    [("error_5xx", 29.5), ("reset", 29.6), ("malformed_json", 29.7), ("html_error", 29.8)],
)
def test_a_fault_on_the_token_request_before_a_start_makes_no_orphan(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, kind: str, timeout: float
) -> None:
    """The token request comes before the start: when it fails in any way (a reset and an answer
    not understood too: the CI drill met a reset), the start was never sent."""
    monkeypatch.setattr(run_module, "START_ATTEMPTS", 2)
    sim.set_faults("nitro", **{kind: 1.0}, paths=["token"])
    store, ti = TaskStore(), FakeTI(max_tries=2)
    fresh = {"hook_params": {"timeout": timeout}}  # a client of its own: no token cached elsewhere
    with pytest.raises(AirflowException, match="no job was started after 2 attempts") as first:
        run(make("nitro", **fresh), ti, store)
    assert not isinstance(first.value, AirflowFailException), "Airflow retries the task"
    sim.clear_faults()
    assert run(make("nitro", **fresh), ti, store)["state"] == "succeeded", "the retry starts the job"
    print(f"nitro: token request failed twice, then a retry: {sim.starts()['created']['nitro']} jobs made")
    assert sim.starts()["created"]["nitro"] == 1


def test_without_a_task_state_store_the_log_says_what_cannot_be_guaranteed(sim: Simulator) -> None:
    with structlog.testing.capture_logs() as logs:
        run(make("pdfco", deferrable=False), FakeTI(), None)
    said = " ".join(str(e.get("event")) for e in logs)
    assert "No task state store" in said and "may leave a job running" in said
