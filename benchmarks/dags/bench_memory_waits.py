"""Waits started from the trigger, one task per wait, for benchmarks/triggerer_memory.py.

The benchmark writes what to wait on to a JSON file named by ``JOBSTATUS_BENCH_MEMORY_SPEC``
(``{"kind": ..., "job_ids": [...], "interval": ..., "per_dag": ..., "headers": {...}}``); without it
(other benchmarks parsing this folder) the file defines no DAG.

The waits are spread over DAGs of ``per_dag`` tasks: a trigger started from the trigger gets its whole
DAG in its workload, and the trigger runner deserializes and keeps that DAG for each trigger, so
Airflow's own cost per trigger grows with the DAG's size (and the task's serialized form).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from airflow.sdk import DAG, BaseOperator, BaseSensorOperator
from airflow.triggers.base import StartTriggerArgs

from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

DAG_PREFIX = "bench_memory_waits"
SPEC = os.environ.get("JOBSTATUS_BENCH_MEMORY_SPEC")


class StartedFromTrigger(BaseSensorOperator):
    """Any trigger, started by the scheduler in the triggerer (no worker), the task ends with its event.

    A sensor, as ``JobStatusSensor`` (and providers-http's ``HttpSensor``) is: Airflow keeps a copy of
    the task's DAG per trigger started from the trigger, and a sensor task costs more there than a
    plain one (its own set of dependencies, its sensor fields), so that the kinds differ only in
    their triggers."""

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

    def poke(self, context: Any) -> bool:  # only reached if start_from_trigger is refused
        raise RuntimeError("this benchmark task must start from the trigger (Airflow 3.3+)")

    def execute_complete(self, context: Any, event: Any = None) -> None:
        return None


class QuietJobStatusSensor(JobStatusSensor):
    """Ours, told that the job's status ("running") was logged already: its trigger logs none of its own."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        kwargs = {**(self.start_trigger_args.trigger_kwargs or {}), "seen_status": "running"}
        self.start_trigger_args = dataclasses.replace(self.start_trigger_args, trigger_kwargs=kwargs)


def _task(kind: str, index: int, job_id: str, interval: float, headers: dict[str, str]) -> BaseOperator:
    task_id = f"wait_{index:04d}"
    sensor_args: dict[str, Any] = {"poke_interval": interval, "timeout": 24 * 3600}
    if kind == "floor":
        return StartedFromTrigger(
            task_id=task_id,
            trigger_cls="airflow.providers.standard.triggers.temporal.DateTimeTrigger",
            trigger_kwargs={"target_time": job_id, "end_from_trigger": False},
            **sensor_args,
        )
    if kind == "floor-conn":
        return StartedFromTrigger(
            task_id=task_id,
            trigger_cls="benchmarks.floor_triggers.ConnectionReadingDateTimeTrigger",
            trigger_kwargs={"target_time": job_id, "end_from_trigger": False, "conn_id": "nitro_default"},
            **sensor_args,
        )
    if kind == "sleeper":
        return StartedFromTrigger(
            task_id=task_id,
            trigger_cls="benchmarks.floor_triggers.SleepingTrigger",
            trigger_kwargs={"interval": interval},
            **sensor_args,
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
            **sensor_args,
        )
    sensor = QuietJobStatusSensor if kind == "quiet" else JobStatusSensor
    return sensor(
        task_id=task_id,
        conn_id="nitro_default",
        job_id=job_id,
        start_from_trigger=True,
        **sensor_args,
    )


if SPEC:
    with open(SPEC) as f:
        spec = json.load(f)
    ids: list[str] = spec["job_ids"]
    size = int(spec["per_dag"])
    for start in range(0, len(ids), size):
        with DAG(
            dag_id=f"{DAG_PREFIX}_{start // size:03d}", schedule=None, catchup=False, max_active_tasks=size
        ):
            for i, job in enumerate(ids[start : start + size], start):
                _task(spec["kind"], i, job, float(spec["interval"]), dict(spec.get("headers") or {}))
