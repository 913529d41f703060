"""A user's own DAG: list a Playment batch's completed jobs and count them."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_jobstatus.operators.batch import BatchJobsToXComOperator


@task
def count(rows: list[dict[str, Any]]) -> int:
    return len(rows)


with DAG(
    dag_id="my_batch",
    schedule=None,
    catchup=False,
    params={"batch_id": Param("", type="string")},
) as dag:
    jobs = BatchJobsToXComOperator(
        task_id="jobs", conn_id="playment_default", batch_id="{{ params.batch_id }}", status="completed"
    )
    count(jobs.output)
