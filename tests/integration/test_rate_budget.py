"""The request budget (connection extra ``requests_per_second``) over real sockets: a local origin
records when each request arrived, and the budget must keep every one-second window of them
within the rate, serve callers in deadline order, give up at a caller's deadline without sending,
and pause the whole account after a 429 on both the sync and async paths."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_jobstatus.errors import ConfigurationError, TransientVendorError
from airflow_provider_jobstatus.hooks import PdfCoHook, budget_deadline
from airflow_provider_jobstatus.hooks import _budget as budget_module
from airflow_provider_jobstatus.status import JobState
from tests.servers import Background, Origin, Reply, Seen, http_answer

RUNNING = json.dumps({"status": "working", "remainingCredits": 5}).encode()


class Clocked:
    """An origin that answers PDF.co's status call and notes when each request came and for
    which job; ``limited`` answers are 429s with ``Retry-After`` (``None``: answer normally)."""

    def __init__(self, bg: Background) -> None:
        self.arrivals: list[tuple[float, str]] = []
        self.limited: list[str] = []
        self.lock = threading.Lock()
        self.origin = Origin(bg, self.answer)

    def answer(self, seen: Seen) -> Reply:
        job = json.loads(seen.body or b"{}").get("jobid", "")
        with self.lock:
            self.arrivals.append((time.monotonic(), job))
            if self.limited:
                retry_after = self.limited.pop(0)
                said = b'{"message": "Too Many Requests"}'
                return Reply(http_answer(said, "429 Too Many Requests", [("Retry-After", retry_after)]))
        return Reply(http_answer(RUNNING, headers=[("Content-Type", "application/json")]))

    def busiest_second(self, skip: int = 0) -> int:
        """The most requests that arrived within one second (after the first ``skip``: a warm-up
        that makes the client, so the first window's latency is not the client's start-up)."""
        times = sorted(t for t, _ in self.arrivals[skip:])
        return max((sum(1 for u in times[i:] if u - t < 1.0) for i, t in enumerate(times)), default=0)

    def jobs(self) -> list[str]:
        return [job for _, job in self.arrivals]


@pytest.fixture
def origin() -> Iterator[Clocked]:
    bg = Background()
    clocked = Clocked(bg)
    yield clocked
    clocked.origin.close()
    bg.close()


@pytest.fixture(autouse=True)
def fresh_budgets() -> Iterator[None]:
    """Each test gets budgets of its own (they are per process and account)."""
    budget_module._budgets.clear()
    yield
    budget_module._budgets.clear()


def connect(monkeypatch: pytest.MonkeyPatch, url: str, rate: Any, conn_id: str = "pdf") -> None:
    extra = {"requests_per_second": rate} if rate is not None else {}
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps({"conn_type": "pdfco", "host": url, "password": "key-1", "extra": extra}),
    )


async def poll_many(jobs: list[str], warm: str | None = None) -> list[JobState]:
    """Every job's status at once from one event loop; with ``warm``, one call first and then a
    pause of one window, so the client's start-up is not part of what the origin measures."""
    async with PdfCoHook("pdf") as keep:  # keeps the loop's client while the others come and go
        if warm is not None:
            await keep.aget_job_status(warm, retries=1)
            await asyncio.sleep(1.1)

        async def one(job: str) -> JobState:
            async with PdfCoHook("pdf") as hook:
                return (await hook.aget_job_status(job, retries=1)).state

        return list(await asyncio.gather(*(one(job) for job in jobs)))


def test_async_calls_keep_every_second_within_the_rate(
    monkeypatch: pytest.MonkeyPatch, origin: Clocked
) -> None:
    connect(monkeypatch, origin.origin.url, 5)
    states = asyncio.run(poll_many([f"job-{i}" for i in range(14)], warm="warm"))
    assert states == [JobState.RUNNING] * 14
    assert len(origin.arrivals) == 15
    assert origin.busiest_second(skip=1) <= 5


def test_sync_threads_share_the_budget(monkeypatch: pytest.MonkeyPatch, origin: Clocked) -> None:
    connect(monkeypatch, origin.origin.url, "4")  # text holding a number is accepted too
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda j: PdfCoHook("pdf").get_job_status(j), [f"warm-{i}" for i in range(6)]))
        time.sleep(1.0)  # the warm-up's window has passed
        jobs = [f"s-{i}" for i in range(10)]
        states = list(pool.map(lambda j: PdfCoHook("pdf").get_job_status(j).state, jobs))
    assert states == [JobState.RUNNING] * 10
    assert origin.busiest_second(skip=6) <= 5


def test_without_the_extra_nothing_waits(monkeypatch: pytest.MonkeyPatch, origin: Clocked) -> None:
    connect(monkeypatch, origin.origin.url, None)
    asyncio.run(poll_many([f"job-{i}" for i in range(12)]))
    assert origin.busiest_second() == 12


def queue_in_order(deadlines: dict[str, float]) -> None:
    """Queue a call per job, in the dict's order, behind one that takes this second's only slot."""

    async def run() -> None:
        async with PdfCoHook("pdf") as hook:
            await hook.aget_job_status("first", retries=1)

            async def one(job: str) -> None:
                with budget_deadline(deadlines[job]):
                    await hook.aget_job_status(job, retries=1)

            tasks = []
            for job in deadlines:
                tasks.append(asyncio.create_task(one(job)))
                await asyncio.sleep(0.01)
            await asyncio.gather(*tasks)

    asyncio.run(run())


def test_queued_callers_near_their_deadlines_are_served_in_deadline_order(
    monkeypatch: pytest.MonkeyPatch, origin: Clocked
) -> None:
    connect(monkeypatch, origin.origin.url, 1)
    now = time.time()
    # arrival order a, b, c, d, all within URGENT of their deadlines; deadlines say b, d, c, a
    queue_in_order({"a": now + 50, "b": now + 20, "c": now + 40, "d": now + 30})
    assert origin.jobs() == ["first", "b", "d", "c", "a"]


def test_a_caller_with_time_to_spare_is_not_starved_by_later_ones_with_earlier_deadlines(
    monkeypatch: pytest.MonkeyPatch, origin: Clocked
) -> None:
    """Deadline order alone would serve ``spare`` last for as long as callers with earlier
    deadlines keep coming; only one near its deadline goes ahead of it."""
    connect(monkeypatch, origin.origin.url, 1)
    now = time.time()
    queue_in_order({"spare": now + 3600, "later": now + 600, "soon": now + budget_module.URGENT / 2})
    assert origin.jobs() == ["first", "soon", "spare", "later"]


def test_a_deadline_that_comes_while_queued_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, origin: Clocked
) -> None:
    connect(monkeypatch, origin.origin.url, 0.2)  # one request every 5 s

    async def run() -> TransientVendorError:
        async with PdfCoHook("pdf") as hook:
            await hook.aget_job_status("first", retries=1)
            with budget_deadline(time.time() + 0.3), pytest.raises(TransientVendorError) as caught:
                await hook.aget_job_status("late", retries=1)
            return caught.value

    exc = asyncio.run(run())
    assert exc.sent is False
    assert "deadline" in str(exc) and "late" in str(exc)
    assert origin.jobs() == ["first"]


def test_sync_deadline_while_queued(monkeypatch: pytest.MonkeyPatch, origin: Clocked) -> None:
    connect(monkeypatch, origin.origin.url, 0.2)
    hook = PdfCoHook("pdf", retries=1)
    hook.get_job_status("first")
    with budget_deadline(time.time() + 0.3), pytest.raises(TransientVendorError) as caught:
        hook.get_job_status("late")
    assert caught.value.sent is False
    assert origin.jobs() == ["first"]


def test_a_429_pauses_the_whole_account(monkeypatch: pytest.MonkeyPatch, origin: Clocked) -> None:
    connect(monkeypatch, origin.origin.url, 50)
    origin.limited.append("2")

    async def run() -> None:
        async with PdfCoHook("pdf") as hook:
            with pytest.raises(TransientVendorError):
                await hook.aget_job_status("limited", retries=1)
            # other waits of the account, not only the one that met the 429, hold off
            await asyncio.gather(*(hook.aget_job_status(f"other-{i}", retries=1) for i in range(3)))

    asyncio.run(run())
    (t429, _), (t_next, _) = origin.arrivals[0], origin.arrivals[1]
    assert t_next - t429 >= 1.5
    assert len(origin.arrivals) == 4


def test_a_429_pauses_sync_callers_too(monkeypatch: pytest.MonkeyPatch, origin: Clocked) -> None:
    connect(monkeypatch, origin.origin.url, 50)
    origin.limited.append("2")
    hook = PdfCoHook("pdf", retries=1)
    with pytest.raises(TransientVendorError):
        hook.get_job_status("limited")
    hook.get_job_status("after")
    assert origin.arrivals[1][0] - origin.arrivals[0][0] >= 1.5


@pytest.mark.parametrize("bad", [0, -3, "fast", True, float("inf"), [5]])
def test_requests_per_second_must_be_a_positive_number(
    monkeypatch: pytest.MonkeyPatch, origin: Clocked, bad: Any
) -> None:
    connect(monkeypatch, origin.origin.url, bad, conn_id="pdf_bad")
    with pytest.raises(ConfigurationError) as caught:
        PdfCoHook("pdf_bad").get_job_status("j")
    assert "'pdf_bad'" in str(caught.value) and "requests_per_second" in str(caught.value)
    assert origin.arrivals == []


# -- a budget shared through Redis --------------------------------------------------------------
@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make drill installs it)")
    from dev.services import redis_server

    with redis_server(tmp_path) as server:
        yield server.url(1)


def test_two_event_loops_share_a_redis_budget(
    monkeypatch: pytest.MonkeyPatch, origin: Clocked, redis_url: str
) -> None:
    """Two loops in two threads stand for two triggerers: only Redis connects their budgets."""
    monkeypatch.setenv("AIRFLOW__JOBSTATUS__RATE_LIMIT_STORAGE", redis_url)
    connect(monkeypatch, origin.origin.url, 4)
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(asyncio.run, poll_many([f"{n}-{i}" for i in range(6)], warm=n)) for n in "xy"]
        assert [r.result(60) for r in runs] == [[JobState.RUNNING] * 6] * 2
    assert len(origin.arrivals) == 14
    # 12 calls at 4 a second take 2 s when the loops share the budget, 1.25 s when each keeps its
    # own; a loaded machine delays arrivals, which only lengthens the span, so no upper bound
    times = sorted(t for t, _ in origin.arrivals[2:])
    assert times[-1] - times[0] >= 1.6, times


def test_an_unreachable_redis_is_a_transient_fault_that_sent_nothing(
    monkeypatch: pytest.MonkeyPatch, origin: Clocked
) -> None:
    from dev.local_airflow import free_port

    monkeypatch.setenv(
        "AIRFLOW__JOBSTATUS__RATE_LIMIT_STORAGE", f"redis://:pw-secret@127.0.0.1:{free_port()}/0"
    )
    connect(monkeypatch, origin.origin.url, 4)
    with pytest.raises(TransientVendorError) as caught:
        asyncio.run(poll_many(["j"]))
    assert caught.value.sent is False
    assert "rate_limit_storage" in str(caught.value) and "pw-secret" not in str(caught.value)
    with pytest.raises(TransientVendorError):
        PdfCoHook("pdf", retries=1).get_job_status("j")
    assert origin.arrivals == []
