"""A floor for benchmarks/triggerer_memory.py that reads a connection, as every vendor trigger does.

A trigger's first connection read makes the triggerer's supervisor build its in-process Execution
API (``TriggerRunnerSupervisor.client``): Airflow's cost, paid once per triggerer by the first
trigger that reads a connection or a variable (``HttpSensorTrigger`` pays it as well as ours), and
never by ``DateTimeTrigger``. This trigger is ``DateTimeTrigger`` plus that one read, so that what
ours adds beyond it is what the provider costs. The benchmark puts this folder's parent on the
triggerer's ``PYTHONPATH``; nothing here is part of the provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.common.compat.connection import get_async_connection
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.triggers.base import TriggerEvent


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
