"""Waits started from the trigger, one task per wait, for benchmarks/triggerer_memory.py.

The benchmark writes what to wait on to a JSON file named by ``JOBSTATUS_BENCH_MEMORY_SPEC``
(``{"kind": ..., "job_ids": [...], "interval": ..., "headers": {...}}``); without it (other
benchmarks parsing this folder) the file defines no DAG.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow.sdk import DAG, BaseOperator
from airflow.triggers.base import StartTriggerArgs

from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

DAG_ID = "bench_memory_waits"
SPEC = os.environ.get("JOBSTATUS_BENCH_MEMORY_SPEC")


class StartedFromTrigger(BaseOperator):
    """Any trigger, started by the scheduler in the triggerer (no worker), the task ends with its event."""

    start_from_trigger = True

    def __init__(self, *, trigger_cls: str, trigger_kwargs: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_trigger_args = StartTriggerArgs(
            trigger_cls=trigger_cls,
            trigger_kwargs=trigger_kwargs,
            next_method="execute_complete",
            next_kwargs=None,
            timeout=None,
        )

    def execute(self, context: Any) -> None:  # only reached if start_from_trigger is refused
        raise RuntimeError("this benchmark task must start from the trigger (Airflow 3.3+)")

    def execute_complete(self, context: Any, event: Any = None) -> None:
        return None


def _task(kind: str, index: int, job_id: str, interval: float, headers: dict[str, str]) -> BaseOperator:
    task_id = f"wait_{index:04d}"
    if kind == "floor":
        return StartedFromTrigger(
            task_id=task_id,
            trigger_cls="airflow.providers.standard.triggers.temporal.DateTimeTrigger",
            trigger_kwargs={"target_time": job_id, "end_from_trigger": False},
        )
    if kind == "theirs":
        return StartedFromTrigger(
            task_id=task_id,
            trigger_cls="airflow.providers.http.triggers.http.HttpSensorTrigger",
            trigger_kwargs={
                "endpoint": f"jobs/{job_id}",
                "http_conn_id": "nitro_http",
                "method": "GET",
                "headers": headers,
                "poke_interval": interval,
            },
        )
    if kind == "quiet":  # ours, told the job's status was already logged: it never logs
        return StartedFromTrigger(
            task_id=task_id,
            trigger_cls="airflow_provider_jobstatus.triggers.job_status.JobStatusTrigger",
            trigger_kwargs={
                "conn_id": "nitro_default",
                "job_id": job_id,
                "poll_interval": interval,
                "seen_status": "running",
            },
        )
    return JobStatusSensor(
        task_id=task_id,
        conn_id="nitro_default",
        job_id=job_id,
        poke_interval=interval,
        timeout=24 * 3600,
        start_from_trigger=True,
    )


if SPEC:
    with open(SPEC) as f:
        spec = json.load(f)
    with DAG(dag_id=DAG_ID, schedule=None, catchup=False, max_active_tasks=len(spec["job_ids"]) + 16):
        for i, job in enumerate(spec["job_ids"]):
            _task(spec["kind"], i, job, float(spec["interval"]), dict(spec.get("headers") or {}))
