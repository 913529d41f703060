"""The wait on a worker: the sensor's ``poke`` and ``reschedule`` modes, the check a sensor or run
operator makes before it defers, and the run operators' ``deferrable=False``. It drives the same
:class:`~airflow_provider_jobstatus.triggers.policy.WaitPolicy` as the trigger, with the sync hook."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from airflow_provider_jobstatus.errors import JobStatusError
from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.status import JobStatus
from airflow_provider_jobstatus.triggers.policy import (
    End,
    Sleep,
    WaitPolicy,
    WaitRules,
    configured_min_interval,
    nearest_deadline,
)


def worker_policy(
    hook: JobStatusHook,
    job_id: str,
    *,
    poll_interval: float,
    transient_fault_tolerance: float,
    not_found_grace: float,
    timeout_at: float | None,
    execution_deadline: float | None,
    vendor_options: Mapping[str, Any],
    now: float,
    clocks: Mapping[str, Any] | None = None,
) -> WaitPolicy:
    """The policy of a wait made by a task on its worker (the trigger builds its own from its kwargs)."""
    rules = WaitRules(
        poll_interval=poll_interval,
        transient_fault_tolerance=transient_fault_tolerance,
        not_found_grace=not_found_grace,
        min_interval=configured_min_interval(),
        probe_options=hook.vendor.final_check_options,
    )
    deadline, reason = nearest_deadline(timeout_at, execution_deadline)
    return WaitPolicy(
        rules,
        vendor=hook.vendor.display_name,
        job_id=job_id,
        deadline=deadline,
        reason=reason,
        now=now,
        vendor_options=vendor_options,
        clocks=clocks,
    )


def drive(policy: WaitPolicy, hook: JobStatusHook, log: Any, *, sleep: bool) -> End | Sleep:
    """Run ``policy`` with the sync hook until the wait ends; with ``sleep=False`` stop instead at
    the first pause (the caller defers or reschedules with the policy's clocks)."""
    step = policy.next(time.time())
    while True:
        if isinstance(step, End):
            return step
        if isinstance(step, Sleep):
            if not sleep:
                return step
            time.sleep(max(0.0, step.until - time.time()))
            step = policy.next(time.time())
            continue
        try:
            answer: JobStatus | JobStatusError = hook.get_job_status(policy.job_id, retries=1, **step.options)
        except JobStatusError as exc:
            answer = exc
        step = policy.answer(answer, time.time())
        if policy.notes:
            for level, line in policy.take_notes():
                log.log(level, line)
