"""The request budget of a vendor account: connection extra ``requests_per_second``.

Every call a hook makes to the vendor's API with such a connection (status, start, cancel, token,
listing; not the bytes of a download) first takes a slot from a moving one-second window kept by
the ``limits`` library: in this process by default, or in the storage that the provider option
``[jobstatus] rate_limit_storage`` names (``redis://host:6379/0``), shared by every worker and
triggerer that uses it. Callers queue in the order they came, except that one whose deadline (see
:func:`budget_deadline`) is less than :data:`URGENT` seconds away goes ahead of those whose
deadlines are further (:func:`rank`). Only the head of the queue asks the library, at most one
every ``1 / rate`` seconds, so nobody starves and nothing bursts (a vendor counts arrivals, which a
burst's network jitter spreads); a caller still queued at its deadline gives up with a transient
fault that sent nothing. An answer that says the account is over its rate (HTTP 429, a vendor's own
code) pauses the whole account in this process for its ``Retry-After``, or a doubling backoff when
it gives none.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from airflow_provider_jobstatus.errors import ConfigurationError, TransientVendorError

#: the provider option that names a shared storage (empty: in this process)
STORAGE_OPTION = ("jobstatus", "rate_limit_storage")
#: longest pause a 429 without Retry-After causes (it doubles from 1 s while 429s follow each other)
MAX_BACKOFF = 60.0
#: longest pause any rate-limit answer causes: a broken Retry-After cannot park an account for hours
MAX_PAUSE = 300.0

#: seconds before its deadline from which a caller goes ahead of those whose deadlines are
#: further. Deadline order alone starves the waits with the latest deadlines for as long as the
#: waits ask for more than the budget (they are never at the head); arrival order alone lets a
#: wait miss its deadline behind waits that had time to spare.
URGENT = 60.0

_deadline: ContextVar[float | None] = ContextVar("jobstatus_budget_deadline", default=None)
_order = itertools.count()


def rank(deadline: float | None, now: float) -> tuple[float, int]:
    """A caller's place in a queue (lowest first): when it came plus :data:`URGENT`, or its
    deadline if that is sooner; ties in the order of arrival."""
    return min(deadline if deadline is not None else math.inf, now + URGENT), next(_order)


@contextmanager
def budget_deadline(at: float | None) -> Iterator[None]:
    """Calls made inside have the deadline ``at`` (a ``time.time()`` value: the wait's own): once
    it is less than :data:`URGENT` away they go ahead of callers whose deadlines are further
    (:func:`rank`), and one still queued at ``at`` ends with a transient fault that sent nothing.
    Outside, calls have no deadline and keep their place in arrival order."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def rate_item(rate: float) -> RateLimitItem:
    """The window for ``rate``: whole requests per second, rounded down (never over the rate), or
    one request per whole number of seconds below one a second."""
    if rate >= 1:
        return RateLimitItemPerSecond(int(rate))
    return RateLimitItemPerSecond(1, math.ceil(1 / rate))


def storage_uri() -> str:
    """``[jobstatus] rate_limit_storage``, or ``memory://`` (this process) when unset."""
    from airflow.providers.common.compat.sdk import conf

    value = conf.get(*STORAGE_OPTION, fallback="") or ""
    return value.strip() or "memory://"


@dataclass(eq=False)
class _Waiter:
    deadline: float
    place: tuple[float, int] = field(init=False)

    def __post_init__(self) -> None:
        self.place = rank(self.deadline, time.time())

    def __lt__(self, other: _Waiter) -> bool:
        return self.place < other.place


class RateBudget:
    """One account's budget in this process: its window in the storage, the pause after a
    rate-limit answer, and the queues of callers (one for threads, one per event loop)."""

    def __init__(self, vendor: str, account: str, rate: float, uri: str) -> None:
        self.vendor = vendor
        self.rate = rate
        self.item = rate_item(rate)
        #: the limiter's key: no credential in it, only a digest that tells accounts apart
        self.key = f"jobstatus/{account}"
        self.uri = uri
        self.paused_until = 0.0
        #: grants are spaced evenly in this process: a full window sent at once reaches the vendor
        #: spread by the network, and its stragglers fall into the next window
        self.spacing = 1.0 / rate
        self.next_grant = 0.0
        self._streak = 0
        self._limiter = MovingWindowRateLimiter(_sync_storage(uri))
        self._cond = threading.Condition()
        self._queue: list[_Waiter] = []
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = (
            weakref.WeakKeyDictionary()
        )

    # -- what answers say -------------------------------------------------------------------------
    def rate_limited(self, retry_after: float | None) -> float:
        """Pause the account for ``retry_after`` seconds, or a backoff doubling while rate-limit
        answers follow each other; returns the pause."""
        self._streak += 1
        if retry_after is not None and retry_after > 0:
            pause = min(retry_after, MAX_PAUSE)
        else:
            pause = min(MAX_BACKOFF, 2.0 ** (self._streak - 1))
        self.paused_until = max(self.paused_until, time.time() + pause)
        return pause

    def answered(self) -> None:
        """An answer that was not a rate-limit one: the next 429 backs off from 1 s again."""
        self._streak = 0

    # -- sync callers (threads) -------------------------------------------------------------------
    def acquire(self, job_id: str | None) -> None:
        """Block until this thread's turn and a free slot; raise at the caller's deadline."""
        me = _Waiter(_deadline.get() or math.inf)
        with self._cond:
            heapq.heappush(self._queue, me)
            try:
                while True:
                    now = time.time()
                    if now >= me.deadline:
                        raise self._late(job_id)
                    wait: float | None = None
                    if self._queue[0] is me:
                        wait = self.hold(now)
                        if wait <= 0:
                            wait = self._take(self._sync_try, job_id)
                            if wait <= 0:
                                return
                    limit = me.deadline - now
                    self._cond.wait(None if wait is None and math.isinf(limit) else min(wait or limit, limit))
            finally:
                self._queue.remove(me)
                heapq.heapify(self._queue)
                self._cond.notify_all()

    def hold(self, now: float) -> float:
        """Seconds the head of a queue must still wait before asking the limiter."""
        return max(self.paused_until, self.next_grant) - now

    def granted(self) -> None:
        self.next_grant = time.time() + self.spacing

    def _sync_try(self) -> float:
        if self._limiter.hit(self.item, self.key):
            self.granted()
            return 0.0
        reset = self._limiter.get_window_stats(self.item, self.key).reset_time
        return max(reset - time.time(), 0.001)

    # -- async callers (one event loop) -----------------------------------------------------------
    async def aacquire(self, job_id: str | None) -> None:
        """Wait for this task's turn and a free slot without blocking the loop."""
        loop = asyncio.get_running_loop()
        queue = self._loops.get(loop)
        if queue is None:
            queue = self._loops[loop] = _LoopQueue(self, loop)
        await queue.acquire(_deadline.get(), job_id)

    def _take(self, attempt: Callable[[], float], job_id: str | None) -> float:
        try:
            return attempt()
        except StorageError as exc:
            raise self._unreachable(job_id, exc) from None

    def _late(self, job_id: str | None) -> TransientVendorError:
        return TransientVendorError(
            self.vendor,
            job_id,
            f"the deadline came while queued for the account's request budget "
            f"({self.rate:g} requests a second); nothing was sent",
            sent=False,
        )

    def _unreachable(self, job_id: str | None, exc: BaseException) -> TransientVendorError:
        # the storage URI may hold a password: name the option, not the value
        cause = exc.storage_error if isinstance(exc, StorageError) else exc
        return TransientVendorError(
            self.vendor,
            job_id,
            f"the shared request budget ([jobstatus] rate_limit_storage) did not answer "
            f"({type(cause).__name__}); nothing was sent",
            sent=False,
        )


class _LoopQueue:
    """The callers of one event loop, served by one task that runs while anyone is queued: it
    takes a slot, then hands it to the first caller still waiting (:func:`rank`)."""

    def __init__(self, budget: RateBudget, loop: asyncio.AbstractEventLoop) -> None:
        self.budget = budget
        self.loop = loop
        self.queue: list[tuple[tuple[float, int], asyncio.Future[None], str | None]] = []
        self.server: asyncio.Task[None] | None = None
        self.limiter: AsyncMovingWindow | None = None
        if not budget.uri.startswith("memory:"):
            # a network storage: its async client belongs to this loop
            self.limiter = AsyncMovingWindow(_async_storage(budget.uri))

    async def acquire(self, deadline: float | None, job_id: str | None) -> None:
        turn: asyncio.Future[None] = self.loop.create_future()
        heapq.heappush(self.queue, (rank(deadline, time.time()), turn, job_id))
        if self.server is None or self.server.done():
            self.server = self.loop.create_task(self._serve())
            self.server.add_done_callback(self._served)
        if deadline is None:
            await turn
            return
        try:
            await asyncio.wait_for(turn, deadline - time.time())
        except asyncio.TimeoutError:
            raise self.budget._late(job_id) from None

    def _served(self, server: asyncio.Task[None]) -> None:
        """A server that ended with callers still queued (it failed, or the loop is closing)
        leaves none of them waiting for a turn that would never come."""
        if server is not self.server:
            return  # a newer server took over the queue
        failed = None if server.cancelled() else server.exception()
        while self.queue:
            _, turn, job_id = heapq.heappop(self.queue)
            if not turn.done():
                turn.set_exception(self.budget._unreachable(job_id, failed or asyncio.CancelledError()))

    async def _try(self) -> float:
        budget = self.budget
        if self.limiter is None:  # in memory: no I/O, the process's one window for both paths
            return budget._sync_try()
        if await self.limiter.hit(budget.item, budget.key):
            budget.granted()
            return 0.0
        reset = (await self.limiter.get_window_stats(budget.item, budget.key)).reset_time
        return max(reset - time.time(), 0.001)

    def _head(self) -> tuple[tuple[float, int], asyncio.Future[None], str | None] | None:
        while self.queue and self.queue[0][1].done():  # gave up (deadline) or was cancelled
            heapq.heappop(self.queue)
        return self.queue[0] if self.queue else None

    async def _serve(self) -> None:
        budget = self.budget
        while (head := self._head()) is not None:
            wait = budget.hold(time.time())
            if wait <= 0:
                try:
                    wait = await self._try()
                except Exception as exc:  # the storage failed: the head hears of it, the rest wait on
                    heapq.heappop(self.queue)
                    if not head[1].done():
                        head[1].set_exception(budget._unreachable(head[2], exc))
                    continue
                if wait <= 0:
                    head = self._head()  # the first caller now, who may have come meanwhile
                    if head is not None:
                        heapq.heappop(self.queue)
                        head[1].set_result(None)
                    continue
            await asyncio.sleep(wait)


# -- budgets and storages of this process -----------------------------------------------------------
_budgets: dict[tuple[str, str, float, str], RateBudget] = {}
_budgets_lock = threading.Lock()


def budget_for(
    vendor_name: str, display_name: str, share_key: tuple[str, str, str], rate: float | None
) -> RateBudget | None:
    """The budget of the account ``share_key`` (base URL, login, secret digest) at ``rate``; None
    without a rate. Connections to one account with the same rate share it."""
    if rate is None:
        return None
    uri = storage_uri()
    account = hashlib.sha256("\0".join((vendor_name, *share_key)).encode()).hexdigest()[:32]
    key = (vendor_name, account, rate, uri)
    with _budgets_lock:
        budget = _budgets.get(key)
        if budget is None:
            budget = _budgets[key] = RateBudget(display_name, f"{vendor_name}/{account}", rate, uri)
        return budget


_sync_storages: dict[str, Any] = {}


def _sync_storage(uri: str) -> Any:
    storage = _sync_storages.get(uri)
    if storage is None:
        storage = _sync_storages[uri] = _storage(uri, uri)
    return storage


def _async_storage(uri: str) -> Any:
    return _storage(uri, f"async+{uri}", implementation="redispy")


def _storage(uri: str, scheme_uri: str, **options: Any) -> Any:
    try:
        return storage_from_string(scheme_uri, wrap_exceptions=True, **options)
    except (LimitsConfigurationError, ValueError) as exc:
        scheme = uri.split(":", 1)[0]
        raise ConfigurationError(
            "Job Status",
            None,
            f"[jobstatus] rate_limit_storage: a {scheme!r} storage cannot be used ({exc}); give a "
            "URI such as redis://host:6379/0 (install the provider's 'redis' extra) or leave it "
            "empty for a budget in each process",
        ) from None
