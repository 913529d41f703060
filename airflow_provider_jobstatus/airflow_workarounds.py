"""What this provider does only because of a bug or a cost in Airflow: each piece names its upstream
issue and the Airflow version that makes it unneeded, so that it can be deleted here, in one place,
once that version is the oldest supported (``version_compat`` holds the version flags).

- :func:`resume_not_before`, :func:`hold_until`: the late-exit race (a deferring worker's exit is
  reported up to a heartbeat late, and a resumption queued before it is failed).
  apache/airflow#67287, #68741 (queued: Airflow's main only), #72716, #71579, #72767, #73546
  (running: open). Unneeded from: not released (3.3.2 has it).
- :func:`retries_trigger_failures`: a trigger's task-failed event skipped the task's retries.
  apache/airflow#69821. Unneeded from 3.3.1.
- :func:`pushed_as_the_worker_would`: a task-end event's XComs are stored with ``json.dumps``, so
  ``xcom_pull`` gets a string. No upstream issue known to us; 3.3.2 has it.
- :func:`watch_stalls`, :func:`recent_stall`, :func:`task_state`: ``on_kill`` is also called when a
  trigger only moves to another triggerer (a frozen triggerer's triggers are handed over). No
  upstream issue known to us; 3.3.2 has it.
- :func:`outlast_cancels`: ``on_kill`` is cancelled again on every state sync (about once a
  second) and the cancellation is swallowed. No upstream issue known to us; 3.3.2 has it.
- :func:`needs_rendering`: the triggerer makes a Jinja environment per trigger to render fields
  that hold no template (a cost, not a bug). No upstream issue known to us; 3.3.2 has it.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Coroutine
from typing import Any

from airflow.triggers.base import TaskSuccessEvent, TriggerEvent

# -- the late-exit race ------------------------------------------------------------------------

#: seconds added to the worker's ``[workers] min_heartbeat_interval`` before an event may resume a
#: task that deferred: the scheduler must have read the deferring run's exit first (a loop or two)
RESUME_MARGIN = 5.0


def resume_not_before(now: float | None = None) -> float | None:
    """Epoch seconds before which an event must not resume a task that is deferring now; None
    when nothing can exit late (``dag.test()`` runs the task and the trigger in its own process).

    Read on the deferring worker: its supervisor may report the process's exit up to
    ``[workers] min_heartbeat_interval`` late, and a resumption queued before the scheduler has
    read that exit is failed by Airflow (``process_executor_events``)."""
    from airflow.providers.common.compat.sdk import conf

    if _in_process_test_run():
        return None

    try:
        heartbeat = float(conf.getfloat("workers", "min_heartbeat_interval", fallback=5.0))
    except (ValueError, TypeError):
        heartbeat = 5.0
    return (time.time() if now is None else now) + max(0.0, heartbeat) + RESUME_MARGIN


def _in_process_test_run() -> bool:
    """Whether the task runs under ``dag.test()`` (the Task SDK's in-process supervisor), judged by
    the type's name so that a Task SDK without it simply reads as a real worker."""
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:
        return False
    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    return type(comms).__name__ == "InProcessSupervisorComms"


async def hold_until(not_before: float | None) -> None:
    """Sleep until ``not_before`` (epoch seconds); at once when it has passed or is None."""
    if not_before is not None:
        delay = not_before - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


# -- task-end events ---------------------------------------------------------------------------


def retries_trigger_failures() -> bool:
    """Airflow routes a trigger's task-failed event through the task's retries from 3.3.1
    (apache/airflow#69821); before, it failed the task for good."""
    from airflow_provider_jobstatus.version_compat import AIRFLOW_V_3_3_1_PLUS

    return AIRFLOW_V_3_3_1_PLUS


async def pushed_as_the_worker_would(event: TriggerEvent, task_instance: Any) -> TriggerEvent:
    """A task-success event with its XComs written through the Task SDK first (as a worker writes
    them: the configured XCom backend, values stored as JSON), the event then carrying none.

    Airflow 3.3.2 stores a task-end event's ``xcoms`` with the core model's ``json.dumps``: the UI
    and REST API read them back, but a downstream task's ``xcom_pull`` gets a JSON string, not the
    dict. Outside a triggerer (no task instance) the event is returned as it is."""
    xcoms = getattr(event, "xcoms", None)
    if not isinstance(event, TaskSuccessEvent) or not xcoms or task_instance is None:
        return event
    from airflow.sdk.execution_time.xcom import XCom

    for key, value in xcoms.items():
        await XCom.aset(
            key=key,
            value=value,
            dag_id=task_instance.dag_id,
            task_id=task_instance.task_id,
            run_id=task_instance.run_id,
            map_index=task_instance.map_index,
        )
    return TaskSuccessEvent()


# -- on_kill that is not a kill ----------------------------------------------------------------

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


#: what :func:`task_state` answers when Airflow cannot say
UNKNOWN_STATE: Any = object()


async def task_state(ti: Any) -> Any:
    """The task instance's state as Airflow has it now, or :data:`UNKNOWN_STATE`."""
    if ti is None:
        return UNKNOWN_STATE
    try:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        map_index = getattr(ti, "map_index", -1)
        # a sync SDK call: made from a thread, it waits on the triggerer's comms without blocking the loop
        states = await asyncio.to_thread(
            RuntimeTaskInstance.get_task_states,
            dag_id=ti.dag_id,
            map_index=map_index,
            task_ids=[ti.task_id],
            run_ids=[ti.run_id],
        )
    except Exception:  # no answer means no cancel, never a crash in on_kill
        return UNKNOWN_STATE
    key = ti.task_id if map_index is None or map_index < 0 else f"{ti.task_id}_{map_index}"
    run = states.get(ti.run_id) if isinstance(states, dict) else None
    return run.get(key, UNKNOWN_STATE) if isinstance(run, dict) else UNKNOWN_STATE


# -- template rendering ------------------------------------------------------------------------


def needs_rendering(trigger: Any) -> bool:
    """Whether any of a trigger's templated fields could change under Jinja: the triggerer makes a
    Jinja environment per trigger to render them (cyclic garbage that stays until the collector
    runs), for fields that were rendered on the worker or never had a template."""
    return any(
        _may_template(getattr(trigger, name, None), trigger.template_ext) for name in trigger.template_fields
    )


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
