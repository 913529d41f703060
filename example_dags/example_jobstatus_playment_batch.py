"""Page a Playment batch into XCom and map a task over its jobs.

``BatchJobsToXComOperator`` returns the jobs in chunks (``chunk_size``) so that the mapped task
stays far below ``[core] max_map_length`` (1,024 by default) however large the batch is; a batch
too large for XCom altogether would use ``output_path=`` instead. Left without a ``batch_id``
param, the DAG creates a batch on the vendor simulator.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_jobstatus.operators.batch import BatchJobsToXComOperator


@task
def start_batch(**context: Any) -> str:
    params = context["params"]
    if params.get("batch_id"):
        return str(params["batch_id"])
    from airflow_provider_jobstatus.testing.jobs import start_simulated_batch

    return str(start_simulated_batch("playment_default", jobs=int(params["jobs"]))["batch_id"])


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
            None, type=["null", "string"], description="A Playment batch id; empty = simulate one"
        ),
        "jobs": Param(250, type="integer", minimum=1, description="Jobs in the simulated batch"),
    },
    doc_md=__doc__,
):
    batch = start_batch()
    jobs = BatchJobsToXComOperator(
        task_id="list_jobs",
        conn_id="playment_default",
        batch_id="{{ ti.xcom_pull(task_ids='start_batch') }}",
        chunk_size=100,
    )
    batch >> jobs
    report(count_completed.expand(chunk=jobs.output))
