"""Poll coalescing: waits in one event loop that ask the same question share one answer.

A thousand waits on one job, or on the jobs of one batch, should cost one request per interval,
not a thousand. Each connection's session (one per event loop) keeps, per question, the latest
answer with its age and the request in flight: a caller takes an answer younger than its
``max_age``, joins the request in flight, or starts one. Nothing here outlives the session, and
nothing assumes one process: every triggerer keeps its own.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class _Entry:
    __slots__ = ("at", "inflight", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.at = float("-inf")
        self.inflight: asyncio.Future[Any] | None = None


class SharedAnswers:
    """The latest answer per question, shared by every caller in one event loop."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: dict[Hashable, _Entry] = {}
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]], max_age: float) -> T:
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self._max_entries:
                self._evict()
            entry = self._entries[key] = _Entry()
        if entry.value is not None and time.monotonic() - entry.at < max_age:
            return entry.value  # type: ignore[no-any-return]
        if entry.inflight is None:
            inflight: asyncio.Future[Any] = asyncio.ensure_future(fetch())
            inflight.add_done_callback(functools.partial(self._settle, entry))
            entry.inflight = inflight
        # shield: one caller being cancelled (its task cleared) must not cancel the others' request
        return await asyncio.shield(entry.inflight)

    @staticmethod
    def _settle(entry: _Entry, done: asyncio.Future[Any]) -> None:
        entry.inflight = None
        if not done.cancelled() and done.exception() is None:
            entry.value = done.result()
            entry.at = time.monotonic()

    def _evict(self) -> None:
        """Drop the older half of the idle answers; a long-lived triggerer sees many jobs come and go."""
        idle = sorted(((e.at, k) for k, e in self._entries.items() if e.inflight is None), key=lambda p: p[0])
        for _, key in idle[: max(1, len(idle) // 2)]:
            del self._entries[key]
