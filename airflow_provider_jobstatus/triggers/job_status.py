"""The wait itself, run by the triggerer: poll until the job ends or a deadline passes.

Everything in the kwargs is plain data (no credential: the connection is fetched again in the
triggerer), and the deadlines are absolute epoch seconds, so a triggerer restart that re-creates
the trigger from its kwargs goes on where it was. One event ends the wait; transient faults never
do until they have lasted ``transient_fault_tolerance`` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import time
import weakref
from collections.abc import AsyncIterator, Coroutine
from datetime import datetime
from types import ModuleType
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

DEFAULT_POLL_INTERVAL = 30.0
DEFAULT_FAULT_TOLERANCE = 30 * 60.0
DEFAULT_NOT_FOUND_GRACE = 60.0


class JobStatusTrigger(BaseTrigger):
    """Poll one vendor job through the hook's async path until a terminal state or a deadline.

    :param conn_id: Airflow connection; its type picks the vendor.
    :param job_id: the vendor's job id.
    :param poll_interval: seconds between polls (a vendor's ``retry_after`` wins when given).
    :param timeout_at: epoch seconds when the sensor's ``timeout`` ends the wait (None: no limit).
    :param execution_deadline: epoch seconds when the task's ``execution_timeout`` ends it.
    :param vendor_options: vendor switches such as ``fail_on_warning`` (Alteryx), plain JSON.
    :param transient_fault_tolerance: seconds of uninterrupted faults before the wait fails.
    :param not_found_grace: seconds a 404 is read as "not visible yet" before "job not found".
    :param batch_id: the job's batch (Playment): waits on jobs of one batch are answered from one
        batch listing per interval, shared by every wait in the triggerer process.
    :param spread_start: make the first poll at a random point of the first interval (the sensor
        has just checked on its worker), so waits that start together do not poll in lock-step.
    :param seen_status: the vendor status the sensor saw (and logged) just before deferring: the
        trigger logs state changes, and that one is not news.
    :param cancel_on_kill: on Airflow 3.3+, when the deferred task is marked failed or success or
        cleared, cancel the job at the vendor (or warn where it has no cancel call). Off by default:
        a sensor never cancels a job it did not start; the run operators turn it on.
    :param end_from_trigger: the task's :class:`~.outcome.Ending` options (plain dict) when the
        trigger ends the task itself (Airflow's task-success/failed/skipped events); None: the
        event resumes the task on a worker.
    :param not_before: epoch seconds before which no event resumes the task on a worker (the
        deferring worker's exit must have been reported first: Airflow's late-exit race).
    """

    def __init__(
        self,
        conn_id: str,
        job_id: str,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout_at: float | None = None,
        execution_deadline: float | None = None,
        vendor_options: dict[str, Any] | None = None,
        transient_fault_tolerance: float = DEFAULT_FAULT_TOLERANCE,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        batch_id: str | None = None,
        spread_start: bool = False,
        seen_status: str | None = None,
        cancel_on_kill: bool = False,
        end_from_trigger: dict[str, Any] | None = None,
        not_before: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.conn_id = conn_id
        self.job_id = job_id
        self.poll_interval = float(poll_interval)
        self.timeout_at = timeout_at
        self.execution_deadline = execution_deadline
        self.vendor_options = dict(vendor_options or {})
        self.transient_fault_tolerance = float(transient_fault_tolerance)
        self.not_found_grace = float(not_found_grace)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.batch_id = batch_id or None
        self.spread_start = bool(spread_start)
        self.seen_status = seen_status
        self.cancel_on_kill = bool(cancel_on_kill)
        self.end_from_trigger = dict(end_from_trigger) if end_from_trigger is not None else None
        self.not_before = not_before

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "job_id": self.job_id,
                "poll_interval": self.poll_interval,
                "timeout_at": self.timeout_at,
                "execution_deadline": self.execution_deadline,
                "vendor_options": self.vendor_options,
                "transient_fault_tolerance": self.transient_fault_tolerance,
                "not_found_grace": self.not_found_grace,
                "backoff": self.backoff,
                "max_backoff": self.max_backoff,
                "batch_id": self.batch_id,
                "spread_start": self.spread_start,
                "seen_status": self.seen_status,
                "cancel_on_kill": self.cancel_on_kill,
                "end_from_trigger": self.end_from_trigger,
                "not_before": self.not_before,
            },
        )

    @classmethod
    def compact_kwargs(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` without the entries the trigger would take by default (nulls, empty vendor
        options, default tolerances): a ``start_from_trigger`` task carries them in its serialized
        DAG, and the triggerer keeps a copy of that DAG for every such trigger it runs. The trigger
        built from the result is the same; stored kwargs that name every entry still load."""
        defaults = _init_defaults(cls)

        def default(name: str, value: Any) -> bool:
            if name == "vendor_options":
                return not value
            return name in defaults and value == defaults[name]

        return {name: value for name, value in kwargs.items() if not default(name, value)}

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Render the task's templated fields (``job_id``, ``conn_id``) only when one holds a
        template: Airflow makes a Jinja environment per trigger to render them (cyclic garbage
        that stays until the collector runs), for fields that were rendered on the worker or never
        had a template."""
        if jinja_env is None and not any(
            _may_template(getattr(self, name, None), self.template_ext) for name in self.template_fields
        ):
            return
        super().render_template_fields(context, jinja_env)

    def deadline(self) -> tuple[float, str]:
        """The nearer of the two deadlines and which one it is.

        Started by the scheduler (``start_from_trigger``) there is no ``timeout_at``: the
        triggerer's own ``timeout_after`` (the sensor's timeout, capped by ``execution_timeout``,
        from when the scheduler created the trigger) stands in, so the trigger still ends the wait
        itself and says what it saw last."""
        candidates = [(float("inf"), "none")]
        if self.timeout_at is not None:
            candidates.append((float(self.timeout_at), "timeout"))
        else:
            scheduled = getattr(self, "timeout_after", None)  # set by the triggerer
            if isinstance(scheduled, datetime):
                candidates.append((scheduled.timestamp(), "timeout"))
        if self.execution_deadline is not None:
            candidates.append((float(self.execution_deadline), "execution_timeout"))
        return min(candidates)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        if self.cancel_on_kill:
            watch_stalls()
        wait = await _wait_module()
        payload = await wait.wait_for(self)
        if self.end_from_trigger is not None:
            ending = await wait.task_end_event(self, payload)
            if ending is not None:
                yield ending
                return
        await wait.hold_until(self.not_before)
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call]

    async def on_kill(self) -> None:
        """Airflow 3.3 calls this when it stops the trigger for a user's action on the task, but
        also when it merely moves the trigger to another triggerer: the job is cancelled only if
        Airflow says the task is no longer deferred. A triggerer restart calls only ``cleanup``.

        Not either when this triggerer's loop stood still past half the health-check threshold a
        short while ago (it was frozen or starved): Airflow has then handed its triggers to
        another triggerer, whose copy may already have ended the wait, so the task is no longer
        deferred although nobody killed it."""
        if not self.cancel_on_kill:
            return
        stall = recent_stall()
        if stall is not None:
            self.log.warning(
                "Job %r: trigger stopped %.0f s after this triggerer stood still for %.0f s (past half "
                "its health check threshold): its triggers were handed to another triggerer, so this "
                "is taken for a reassignment and the job is not cancelled; if the task was killed "
                "meanwhile, cancel the job at the vendor by hand",
                self.job_id,
                stall[0],
                stall[1],
            )
            return
        await outlast_cancels(self._cancel_job_on_kill(), ON_KILL_SECONDS)

    async def _cancel_job_on_kill(self) -> None:
        wait = await _wait_module()
        if not await self._job_has_ended():
            await wait.cancel_on_kill(self)

    async def _job_has_ended(self) -> bool:
        """Whether the vendor says the job has ended: there is nothing to cancel, and another copy
        of this trigger (Airflow may run one briefly in two triggerers) has ended the wait, which
        is why the task is no longer deferred although nobody killed it. Unknown: False."""
        from airflow_provider_jobstatus.errors import JobStatusError
        from airflow_provider_jobstatus.hooks import JobStatusHook

        try:
            hook = await JobStatusHook.afor_connection(self.conn_id, retries=1)
            async with hook:
                status = await hook.aget_job_status(self.job_id, retries=1, **self.vendor_options)
        except JobStatusError:
            return False
        if not status.state.is_terminal:
            return False
        self.log.info(
            "Job %r: trigger stopped, but the job has already ended (%s): nothing to cancel",
            self.job_id,
            status.raw_status,
        )
        return True


#: seconds between the stall watch's wake-ups, and the least overshoot it records
STALL_TICK = 1.0
STALL_FLOOR = 2.0
#: loop -> (monotonic end, seconds) of the last time that loop stood still
_stalls: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[float, float]] = (
    weakref.WeakKeyDictionary()
)
_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def watch_stalls() -> None:
    """Start (once per event loop) the watch that notes when this loop last stood still: one
    wake-up a second for the whole triggerer, only where a trigger may cancel its job."""
    loop = asyncio.get_running_loop()
    if loop not in _watches or _watches[loop].done():
        _watches[loop] = loop.create_task(_watch(), name="jobstatus stall watch")


async def _watch() -> None:
    loop = asyncio.get_running_loop()
    while True:
        before = time.monotonic()
        await asyncio.sleep(STALL_TICK)
        now = time.monotonic()
        if (stood := now - before - STALL_TICK) >= STALL_FLOOR:
            _stalls[loop] = (now, stood)


def recent_stall() -> tuple[float, float] | None:
    """(seconds since it ended, seconds it lasted) of a stall of this loop long enough, and
    recent enough, that Airflow will have reassigned this triggerer's triggers; else None."""
    from airflow.providers.common.compat.sdk import conf

    try:
        threshold = float(conf.getfloat("triggerer", "triggerer_health_check_threshold", fallback=30.0))
    except (TypeError, ValueError):
        threshold = 30.0
    last = _stalls.get(asyncio.get_running_loop())
    if last is None:
        return None
    ago, stood = time.monotonic() - last[0], last[1]
    return (ago, stood) if stood >= threshold / 2 and ago <= max(120.0, 4 * threshold) else None


#: the longest on_kill waits out the triggerer's repeated cancellations (below Airflow's
#: ``[triggerer] on_kill_timeout``, 30 s by default)
ON_KILL_SECONDS = 20.0
_outlasting: set[asyncio.Task[None]] = set()


async def outlast_cancels(work: Coroutine[Any, Any, None], seconds: float) -> None:
    """Run ``work`` to its end although the calling task is cancelled meanwhile, for up to
    ``seconds``; then raise the last cancellation (``work`` goes on in its own task).

    Airflow 3.3's triggerer sends a cancelled trigger's id again on every state sync (about once
    a second) until the trigger has finished, and cancels its task again each time. ``on_kill``
    runs inside that task, and Airflow swallows the CancelledError without a log line, so an
    ``on_kill`` needing more than a second (ask for the task's state, look up the connection,
    call the vendor) was cut off silently."""
    task = asyncio.create_task(work)
    _outlasting.add(task)
    task.add_done_callback(_outlasting.discard)
    deadline = time.monotonic() + seconds
    cancelled: asyncio.CancelledError | None = None
    while not task.done() and (left := deadline - time.monotonic()) > 0:
        try:
            await asyncio.wait({task}, timeout=left)
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        raise cancelled
    if task.done() and not task.cancelled():
        task.result()


@functools.cache
def _init_defaults(cls: type[JobStatusTrigger]) -> dict[str, Any]:
    return {
        name: param.default
        for name, param in inspect.signature(cls.__init__).parameters.items()
        if param.default is not inspect.Parameter.empty
    }


_WAIT_MODULE = "airflow_provider_jobstatus.triggers._wait"
_loaded: dict[str, ModuleType] = {}
_loading: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Future[ModuleType]]] = (
    weakref.WeakKeyDictionary()
)


async def import_off_loop(name: str) -> ModuleType:
    """``name`` imported in a worker thread the first time: imports are synchronous, and the
    triggerer warns when its event loop is held for more than 0.2 s. Waits starting together
    share one import, so they do not grow the loop's thread pool to its limit (each thread keeps
    its own malloc arena and stack for the life of the triggerer)."""
    module = _loaded.get(name)  # not sys.modules: a module is listed there before it has loaded
    if module is None:
        pending = _loading.setdefault(asyncio.get_running_loop(), {})
        future = pending.get(name)
        if future is None:
            future = pending[name] = asyncio.ensure_future(asyncio.to_thread(importlib.import_module, name))
            future.add_done_callback(lambda _: pending.pop(name, None))  # a failed import is tried again
        module = _loaded[name] = await asyncio.shield(future)
    return module


async def _wait_module() -> Any:
    """The poll loop and everything it needs (hooks, vendors, the HTTP client, TLS roots)."""
    return await import_off_loop(_WAIT_MODULE)


def _may_template(value: Any, extensions: Any) -> bool:
    """Whether Jinja could change ``value``: anything but a string without Jinja's delimiters, a
    line break (Jinja drops a trailing one) or a template file's extension."""
    if not isinstance(value, str):
        return value is not None
    return (
        "{" in value
        or "\n" in value
        or "\r" in value
        or bool(extensions and value.endswith(tuple(extensions)))
    )
