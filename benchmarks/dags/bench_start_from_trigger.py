"""N unmapped ``start_from_trigger`` tasks of one kind (benchmarks/triggerer_real.py writes the plan):
no worker runs before the wait, so only the triggers differ between kinds.

- ``jobstatus``: JobStatusSensor on a simulator Nitro job.
- ``http``: providers-http's HttpSensorTrigger on the same job's result endpoint (404 while running).
- ``datetime``: DateTimeTrigger firing after the window: Airflow's own cost of a deferred trigger.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, BaseOperator
from airflow.triggers.base import StartTriggerArgs

from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

_PLAN_FILE = os.environ.get("JOBSTATUS_BENCH_PLAN")
PLAN: dict[str, Any] = json.loads(Path(_PLAN_FILE).read_text()) if _PLAN_FILE else {"kind": "", "job_ids": []}


class TriggerOnly(BaseOperator):
    """Starts in the triggerer with the given trigger; resumes on a worker only to finish."""

    start_from_trigger = True

    def __init__(self, *, trigger_cls: str, trigger_kwargs: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_trigger_args = StartTriggerArgs(
            trigger_cls=trigger_cls,
            trigger_kwargs=trigger_kwargs,
            next_method="execute_complete",
            next_kwargs=None,
            timeout=timedelta(hours=2),
        )

    def execute(self, context: Any) -> None:  # never called: the task starts in the triggerer
        raise RuntimeError("TriggerOnly starts in the triggerer")

    def execute_complete(self, context: Any, event: Any = None) -> None:
        return None


with DAG(dag_id="bench_start_from_trigger", schedule=None, catchup=False, max_active_tasks=100_000):
    for n, job_id in enumerate(PLAN["job_ids"]):
        task_id = f"w{n:05d}"
        if PLAN["kind"] == "jobstatus":
            JobStatusSensor(
                task_id=task_id,
                conn_id="nitro_default",
                job_id=job_id,
                poke_interval=PLAN["poll"],
                timeout=2 * 3600,
                start_from_trigger=True,
            )
        elif PLAN["kind"] == "http":
            TriggerOnly(
                task_id=task_id,
                trigger_cls="airflow.providers.http.triggers.http.HttpSensorTrigger",
                trigger_kwargs={
                    "endpoint": f"nitro/jobs/{job_id}",
                    "http_conn_id": "bench_http",
                    "headers": PLAN["headers"],
                    "poke_interval": PLAN["poll"],
                },
            )
        else:
            TriggerOnly(
                task_id=task_id,
                trigger_cls="airflow.providers.standard.triggers.temporal.DateTimeTrigger",
                trigger_kwargs={"target_time": PLAN["fire_at"]},
            )
