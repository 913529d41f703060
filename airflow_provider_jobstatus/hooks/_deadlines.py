"""Request deadlines that leave nothing behind in the event loop.

aiohttp's total timeout schedules one timer per request and cancels it once the answer is read. A
cancelled timer stays in the loop's heap until it would have fired (the connection's ``timeout``,
30 s by default), so a triggerer polling a thousand waits keeps thousands of dead timers, and the
objects they hold, alive long enough for the garbage collector to promote them; the full
collections that follow stop the loop for a quarter to half a second (the triggerer's "async
thread was blocked" warnings). Here one timer per loop and second, running only while requests are in
flight, cancels the overdue ones, as :func:`asyncio.timeout` does, and a finished request leaves
no trace.
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType


class Deadlines:
    """The deadlines of one event loop's requests, checked once a second (aiohttp too rounds a
    timeout of 5 s or more up to a whole second)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: set[Deadline] = set()
        self._tick: asyncio.TimerHandle | None = None

    def within(self, seconds: float) -> Deadline:
        """A context manager that turns the current task's cancellation into ``TimeoutError``
        once ``seconds`` have passed."""
        task = asyncio.current_task(self._loop)
        if task is None:
            raise RuntimeError("a request deadline needs a task")
        return Deadline(self, task, self._loop.time() + seconds)

    def _watch(self, deadline: Deadline) -> None:
        self._due.add(deadline)
        if self._tick is None:
            self._tick = self._loop.call_at(math.ceil(self._loop.time()) + 1.0, self._check)

    def _forget(self, deadline: Deadline) -> None:
        self._due.discard(deadline)

    def _check(self) -> None:
        now = self._loop.time()
        for deadline in [d for d in self._due if d.when <= now]:
            self._due.remove(deadline)
            deadline.expire()
        self._tick = self._loop.call_at(math.ceil(now) + 1.0, self._check) if self._due else None

    def close(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self._due.clear()


class Deadline:
    """One request's deadline; like :class:`asyncio.Timeout`, a cancellation from anyone else
    stays a cancellation."""

    __slots__ = ("_cancelling", "_deadlines", "_task", "expired", "when")

    def __init__(self, deadlines: Deadlines, task: asyncio.Task[object], when: float) -> None:
        self._deadlines = deadlines
        self._task = task
        self.when = when
        self._cancelling = 0
        self.expired = False

    def __enter__(self) -> Deadline:
        self._cancelling = self._task.cancelling()
        self._deadlines._watch(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._deadlines._forget(self)
        if self.expired and self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError("the request took longer than its timeout") from exc

    def expire(self) -> None:
        self.expired = True
        self._task.cancel()
