"""Floors for the triggerer benchmarks: triggers that do as little as a kind of trigger can.

``ConnectionReadingDateTimeTrigger`` reads a connection, as every vendor trigger does.

A trigger's first connection read makes the triggerer's supervisor build its in-process Execution
API (``TriggerRunnerSupervisor.client``): Airflow's cost, paid once per triggerer by the first
trigger that reads a connection or a variable (``HttpSensorTrigger`` pays it as well as ours), and
never by ``DateTimeTrigger``. This trigger is ``DateTimeTrigger`` plus that one read, so that what
ours adds beyond it is what the provider costs. The benchmark puts this folder's parent on the
triggerer's ``PYTHONPATH``; nothing here is part of the provider.

``SleepingTrigger`` wakes every ``interval`` seconds and goes back to sleep, forever: the least any
polling trigger does (a timer and a future per sleep), with no request and no log line. What the
real-triggerer benchmark measures of it is what polling costs whatever the trigger does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.common.compat.connection import get_async_connection
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.triggers.base import BaseTrigger, TriggerEvent


class ConnectionReadingDateTimeTrigger(DateTimeTrigger):
    """Reads ``conn_id`` once, then sleeps until ``target_time`` as ``DateTimeTrigger`` does."""

    def __init__(self, *, conn_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        _, kwargs = super().serialize()
        return (f"{__name__}.{type(self).__name__}", {**kwargs, "conn_id": self.conn_id})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        await get_async_connection(self.conn_id)
        async for event in super().run():
            yield event


class SleepingTrigger(BaseTrigger):
    """Sleeps ``interval`` seconds in a loop and never fires."""

    def __init__(self, *, interval: float) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.interval = interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{__name__}.{type(self).__name__}", {"interval": self.interval})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            await asyncio.sleep(self.interval)
        yield TriggerEvent(None)  # pragma: no cover - makes this an async generator
