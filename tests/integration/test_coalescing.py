"""Waits that ask the same question share one answer: same job, or jobs of one Playment batch."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest

from airflow_provider_jobstatus.hooks._coalesce import SharedAnswers
from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Simulator:
    jobstatus_simulator.clear_faults()
    jobstatus_simulator.clear_requests()
    return jobstatus_simulator


async def run_all(triggers: list[JobStatusTrigger]) -> list[dict[str, Any]]:
    async def one(t: JobStatusTrigger) -> dict[str, Any]:
        gen = t.run()
        try:
            return (await asyncio.wait_for(gen.__anext__(), 60)).payload  # type: ignore[no-any-return]
        finally:
            await gen.aclose()

    return await asyncio.gather(*(one(t) for t in triggers))


async def test_waits_on_one_job_share_one_poll_per_interval(sim: Simulator) -> None:
    interval, seconds, waits = 0.3, 2.0, 100
    job = sim.create_job("pdfco", outcome="succeeded", seconds=seconds)
    started = time.monotonic()
    events = await run_all(
        [JobStatusTrigger("pdfco_default", job["job_id"], poll_interval=interval) for _ in range(waits)]
    )
    elapsed = time.monotonic() - started
    assert {e["job"]["state"] for e in events} == {"succeeded"}
    polls = sim.requests(include_log=False)["counts"].get("pdfco.status", 0)
    intervals = math.ceil(elapsed / interval) + 1
    # one wait alone makes `intervals` polls; a hundred sharing answers make about as many, not 100x
    assert polls <= 2 * intervals, (polls, intervals)


async def test_waits_on_one_batch_cost_its_pages_per_interval(sim: Simulator) -> None:
    interval, jobs = 0.5, 250
    batch = sim.create_batch(jobs, seconds=2.0)
    pages = math.ceil(jobs / 100)
    started = time.monotonic()
    triggers = [
        JobStatusTrigger("playment_default", job_id, poll_interval=interval, batch_id=batch["batch_id"])
        for job_id in batch["job_ids"]
    ]
    events = await run_all(triggers)
    elapsed = time.monotonic() - started
    assert [e["job"]["state"] for e in events] == ["succeeded"] * jobs
    counts = sim.requests(include_log=False)["counts"]
    intervals = math.ceil(elapsed / interval) + 1
    assert counts.get("playment.batch", 0) <= pages * intervals * 1.5, (counts, intervals)
    # one job request each to confirm the result once the listing says completed (not one per interval)
    assert counts.get("playment.status", 0) <= jobs * 2, counts


async def test_a_cancelled_asker_leaves_the_others_an_answer() -> None:
    answers = SharedAnswers()
    release = asyncio.Event()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "answer"

    first = asyncio.ensure_future(answers.get("k", fetch, max_age=10))
    second = asyncio.ensure_future(answers.get("k", fetch, max_age=10))
    await asyncio.sleep(0)
    first.cancel()  # the asker's task is cleared: the one who joined asks again, and is answered
    release.set()
    assert await second == "answer"
    assert first.cancelled() and calls == 2
    assert await answers.get("k", fetch, max_age=10) == "answer"  # fresh enough: not asked again
    assert calls == 2
    assert await answers.get("k", fetch, max_age=0) == "answer"  # too old: asked again
    assert calls == 3


async def test_joiners_share_one_request() -> None:
    answers = SharedAnswers()
    release = asyncio.Event()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "answer"

    waiting = [asyncio.ensure_future(answers.get("k", fetch, max_age=10)) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["answer"] * 50
    assert calls == 1


async def test_failures_are_not_shared_as_answers() -> None:
    answers = SharedAnswers()
    outcomes = iter([RuntimeError("boom"), "ok"])

    async def fetch() -> str:
        item = next(outcomes)
        if isinstance(item, Exception):
            raise item
        return item

    with pytest.raises(RuntimeError):
        await answers.get("k", fetch, max_age=60)
    assert await answers.get("k", fetch, max_age=60) == "ok"


async def test_an_unchanged_answer_keeps_the_object_callers_hold() -> None:
    """A running job answers the same poll after poll: the new copy is dropped for the one the
    waits already hold, so what lives from one poll to the next stays one object (the garbage
    collector never moves a copy per poll into its oldest generation); a changed answer is new."""
    answers = SharedAnswers()
    replies = iter([["running"], ["running"], ["done"]])

    async def fetch() -> list[str]:
        return next(replies)

    first = await answers.get("k", fetch, max_age=0)
    again = await answers.get("k", fetch, max_age=0)
    assert again == ["running"] and again is first
    changed = await answers.get("k", fetch, max_age=0)
    assert changed == ["done"] and changed is not first
