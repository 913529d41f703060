"""The wait on a worker: the sensor's ``poke`` and ``reschedule`` modes, the check a sensor or run
operator makes before it defers, and the run operators' ``deferrable=False``. It drives the same
:class:`~airflow_provider_jobstatus.triggers.policy.WaitPolicy` as the trigger, with the sync hook."""

from __future__ import annotations

import time
from typing import Any

from airflow_provider_jobstatus.errors import JobStatusError
from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.status import JobStatus
from airflow_provider_jobstatus.triggers.policy import End, Sleep, WaitPolicy


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
