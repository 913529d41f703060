"""The sleep between two polls, holding as little as a sleep can.

Whatever a sleeping wait holds is young garbage-collector work: when a middle-generation
collection runs (Airflow's own work in the triggerer sets them off now and then), it moves the
sleeps of every waiting trigger into the oldest generation, and once that has grown by a quarter
Python walks the triggerer's whole heap (Airflow keeps a DAG copy per trigger started from the
trigger), stopping the event loop for a good part of a second. :func:`asyncio.sleep` holds a
coroutine, a future, a timer, its arguments and a copy of the task's context (Airflow binds log
variables there) per sleep; this holds the future, the timer and its arguments.
"""

from __future__ import annotations

import asyncio
import contextvars

#: the timer only completes a future; the task it wakes runs in its own context
_BARE = contextvars.Context()


def sleep(seconds: float) -> asyncio.Future[None]:
    """A future to await, done ``seconds`` from now; cancelling the task cancels it alone."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    loop.call_later(max(0.0, seconds), _wake, future, context=_BARE)
    return future


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # the waiting task was cancelled meanwhile
        future.set_result(None)
