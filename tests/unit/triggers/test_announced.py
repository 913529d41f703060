"""The watchers' cursor: each finished job is news once; the cursor stays as small as the listing
plus a bounded count of jobs that left it."""

from __future__ import annotations

import pytest

from airflow_provider_jobstatus.status import BatchJob, JobState
from airflow_provider_jobstatus.triggers import _announced
from airflow_provider_jobstatus.triggers._announced import Announced


def jobs(**states: str) -> list[BatchJob]:
    return [BatchJob(id=i, state=JobState(s)) for i, s in states.items()]


def done(job: BatchJob) -> bool:
    return job.state.is_terminal


def test_jobs_finished_before_the_watcher_are_not_news() -> None:
    cursor = Announced.baseline(jobs(a="succeeded", b="running"), done)
    assert cursor.news(jobs(a="succeeded", b="running"), done) == []
    assert [j.id for j in cursor.news(jobs(a="succeeded", b="failed", c="succeeded"), done)] == ["b", "c"]


def test_announced_jobs_are_not_news_again_and_unannounced_ones_stay_news() -> None:
    listing = jobs(a="succeeded", b="failed", c="succeeded")
    cursor = Announced().after(listing, done, ["a", "b"])  # c did not fit in the event
    assert [j.id for j in cursor.news(listing, done)] == ["c"]
    cursor = cursor.after(listing, done, ["c"])
    assert cursor.news(listing, done) == []


def test_a_job_missing_from_one_listing_is_not_announced_again() -> None:
    listing = jobs(a="succeeded", b="succeeded")
    cursor = Announced.baseline(listing, done)
    cursor = cursor.after(jobs(b="succeeded"), done, [])  # `a` skipped by offset paging once
    assert cursor.news(listing, done) == []
    cursor = cursor.after(listing, done, [])
    assert len(cursor.settled) == 2 and not cursor.absent


def test_a_job_that_flips_back_to_running_is_not_news_when_it_finishes_again() -> None:
    cursor = Announced().after(jobs(j1="succeeded", j2="running"), done, ["j1"])
    cursor = cursor.after(jobs(j1="running", j2="succeeded"), done, ["j2"])
    assert cursor.news(jobs(j1="succeeded", j2="succeeded"), done) == []


def test_purged_jobs_are_remembered_up_to_a_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_announced, "MAX_ABSENT", 2)
    cursor = Announced.baseline(jobs(a="succeeded", b="succeeded", c="succeeded", d="succeeded"), done)
    for listing in (jobs(b="succeeded", c="succeeded", d="succeeded"), jobs(c="succeeded", d="succeeded")):
        cursor = cursor.after(listing, done, [])
    assert cursor.news(jobs(a="succeeded", b="succeeded"), done) == [], "gone, still remembered"
    cursor = cursor.after(jobs(d="succeeded"), done, [])  # c leaves too: a, the oldest gone, is forgotten
    assert len(cursor.settled) == 1 and len(cursor.absent) == 2
    assert [j.id for j in cursor.news(jobs(a="succeeded", b="succeeded"), done)] == ["a"]


def test_the_stored_form_round_trips_and_is_small() -> None:
    listing = [
        BatchJob(id=f"job-{n:06d}-0000-0000-0000-000000000000", state=JobState.SUCCEEDED) for n in range(5000)
    ]
    cursor = Announced.baseline(listing, done)
    state = cursor.to_state()
    assert Announced.from_state(state) == cursor
    assert len(state["settled"]) == 11 * 5000
    assert "job-" not in state["settled"]


def test_a_value_we_did_not_write_is_no_cursor() -> None:
    for value in (None, "x", {"version": 2}, {"version": 1, "settled": "abc", "absent": ""}):
        assert Announced.from_state(value) is None
