"""Page a Playment batch into XCom and map a task over its jobs.

``BatchJobsToXComOperator`` returns the jobs in chunks (``chunk_size``) so that the mapped task
stays far below ``[core] max_map_length`` (1,024 by default) however large the batch is; a batch
too large for XCom altogether would use ``output_path=`` instead. The batch is the ``batch_id``
param (``make demo`` passes one it made on the vendor simulator).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_jobstatus.operators.batch import BatchJobsToXComOperator


@task
def count_completed(chunk: list[dict[str, Any]]) -> int:
    """Stands for real per-job work (fetching each result, loading it somewhere)."""
    return sum(1 for job in chunk if job["state"] == "succeeded")


@task
def report(counts: list[int]) -> dict[str, int]:
    return {"chunks": len(counts), "completed": sum(counts)}


with DAG(
    dag_id="example_jobstatus_playment_batch",
    schedule=None,
    catchup=False,
    tags=["jobstatus", "example", "playment"],
    params={
        "batch_id": Param(
            "00000000-0000-0000-0000-000000000000", type="string", description="A Playment batch id"
        ),
    },
    doc_md=__doc__,
):
    jobs = BatchJobsToXComOperator(
        task_id="list_jobs", conn_id="playment_default", batch_id="{{ params.batch_id }}", chunk_size=100
    )
    report(count_completed.expand(chunk=jobs.output))
