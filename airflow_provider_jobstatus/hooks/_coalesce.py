"""Poll coalescing: waits in one event loop that ask the same question share one answer.

A thousand waits on one job, or on the jobs of one batch, should cost one request per interval,
not a thousand. Each connection's session (one per event loop) keeps, per question, the latest
answer with its age and the request in flight: a caller takes an answer younger than its
``max_age``, joins the request in flight, or starts one. Nothing here outlives the session, and
nothing assumes one process: every triggerer keeps its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class _Abandoned(Exception):
    """The caller that was asking was cancelled; a joiner asks again."""


class _Entry:
    __slots__ = ("asking", "at", "joined", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.at = float("-inf")
        self.asking = False
        #: made only when a second caller comes while the first is asking (most polls ask alone)
        self.joined: asyncio.Future[Any] | None = None

    def settle(self) -> asyncio.Future[Any] | None:
        """The asking is over: the joiners' future (if anyone joined) to hand the outcome to."""
        joined, self.joined, self.asking = self.joined, None, False
        return joined


class SharedAnswers:
    """The latest answer per question, shared by every caller in one event loop."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: dict[Hashable, _Entry] = {}
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]], max_age: float) -> T:
        while True:
            entry = self._entries.get(key)
            if entry is None:
                if len(self._entries) >= self._max_entries:
                    self._evict()
                entry = self._entries[key] = _Entry()
            if entry.value is not None and time.monotonic() - entry.at < max_age:
                return entry.value  # type: ignore[no-any-return]
            if not entry.asking:
                return await self._ask(entry, fetch)
            if entry.joined is None:
                entry.joined = asyncio.get_running_loop().create_future()
            try:
                # shield: a joiner being cancelled must not cancel the asker's request
                return await asyncio.shield(entry.joined)
            except _Abandoned:
                continue  # the asker was cancelled (its task cleared): ask again ourselves

    @staticmethod
    async def _ask(entry: _Entry, fetch: Callable[[], Awaitable[T]]) -> T:
        """Ask in the caller's own task (no extra task per poll: this is every wait's hot path)
        and hand the answer, or the failure, to whoever joined meanwhile."""
        entry.asking = True
        # an answer's age counts from when it was asked for: a wait that polls every interval
        # must never take its own previous answer for a fresh one when answers come back slowly
        asked_at = time.monotonic()
        try:
            value = await fetch()
        except BaseException as exc:
            joined = entry.settle()
            if joined is not None:
                joined.set_exception(_Abandoned() if isinstance(exc, asyncio.CancelledError) else exc)
                joined.exception()  # retrieved: every joiner may be gone too
            raise
        joined = entry.settle()
        if value == entry.value:
            # the same answer as last time (a running job, poll after poll): keep the object the
            # callers already hold, so that the new copy dies young instead of the garbage
            # collector moving one copy per poll into its oldest generation
            value = entry.value
        entry.value, entry.at = value, asked_at
        if joined is not None:
            joined.set_result(value)
        return value

    def _evict(self) -> None:
        """Drop the older half of the idle answers; a long-lived triggerer sees many jobs come and go."""
        idle = sorted(((e.at, k) for k, e in self._entries.items() if not e.asking), key=lambda p: p[0])
        for _, key in idle[: max(1, len(idle) // 2)]:
            del self._entries[key]
