"""A mapped JobStatusSensor: one wait per job id in dag_run.conf["job_ids"] (benchmarks/triggerer_run.py)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor


@task
def job_ids(**context: Any) -> list[str]:
    return list(context["dag_run"].conf["job_ids"])


with DAG(dag_id="bench_mapped_waits", schedule=None, catchup=False, max_active_tasks=256, tags=["jobstatus"]):
    JobStatusSensor.partial(task_id="wait", conn_id="pdfco_default", poke_interval=5, timeout=1800).expand(
        job_id=job_ids()
    )
