"""The sleep between polls: never early, cancellable alone, and the waking task keeps its own
context (Airflow binds each trigger's log variables there)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from airflow_provider_jobstatus.triggers._sleep import sleep

TRIGGER_ID: contextvars.ContextVar[int] = contextvars.ContextVar("trigger_id")


async def test_a_sleep_is_never_early_and_the_task_keeps_its_context() -> None:
    async def wait(n: int) -> tuple[int, float]:
        TRIGGER_ID.set(n)
        loop = asyncio.get_running_loop()
        asked = loop.time() + 0.2
        await sleep(0.2)
        return TRIGGER_ID.get(), loop.time() - asked

    results = await asyncio.gather(*(wait(n) for n in range(5)))
    assert [n for n, _ in results] == list(range(5))
    assert all(late >= 0 for _, late in results)


async def test_a_cancelled_sleep_ends_its_own_task_and_its_timer_does_nothing_later() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    sleeping = asyncio.ensure_future(sleep(0.1))
    other = asyncio.ensure_future(sleep(0.1))
    await asyncio.sleep(0)
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    await other
    await asyncio.sleep(0.15)  # the cancelled sleep's timer has fired by now
    assert errors == []


async def test_a_sleep_in_the_past_ends_at_once() -> None:
    await asyncio.wait_for(sleep(-5.0), timeout=1.0)
