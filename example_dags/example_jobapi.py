"""Your own job API, declared in a connection: start a job, wait for it, download its results.

The ``jobapi_default`` connection (type ``jobapi``, "Job API (declared)") holds the API's base URL,
its secret and, in its extra ``profile``, the declaration: how to start a job, where the status
and the result files are in the answers, how to cancel. The operators are the ones every vendor
uses. ``make demo`` points the connection at the vendor simulator, which serves a declared API;
see docs/declared-api.md for declaring yours (e.g. AssemblyAI or Replicate).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.operators.run import JobApiRunJobOperator

#: one folder per DAG run, so runs never overwrite each other's results
OUTPUT_TEMPLATE = "{{ params.output_root }}/{{ dag.dag_id }}/{{ run_id | replace(':', '_') }}/"

with DAG(
    dag_id="example_jobapi",
    schedule=None,
    catchup=False,
    tags=["jobstatus", "example", "jobapi"],
    params={
        "output_root": Param("/tmp/airflow-jobstatus", type="string", description="Where results go"),
        "input_url": Param(
            "https://example.com/samples/interview.mp3", type="string", description="What the job reads"
        ),
    },
    doc_md=__doc__,
):
    # the payload is the start call's body, templated; a retry reattaches to the job this started,
    # and a timeout cancels it (the profile declares ``cancel``)
    run = JobApiRunJobOperator(
        task_id="run_jobapi",
        conn_id="jobapi_default",
        payload={"input": "{{ params.input_url }}", "label": "{{ dag.dag_id }}-{{ run_id }}"},
        poll_interval=10,
        timeout=3600,
        retries=2,
    )
    get = DownloadJobResultOperator(
        task_id="download_jobapi",
        conn_id="jobapi_default",
        job_id="{{ ti.xcom_pull(task_ids='run_jobapi', key='job_id') }}",
        destination=OUTPUT_TEMPLATE,
    )

    @task
    def report(written: list[dict[str, Any]]) -> list[str]:
        """Stands for whatever comes next: here, say what was written."""
        for w in written:
            print(f"{w['destination']}: {w['bytes']} bytes, sha256 {w['sha256']}")
        return [w["destination"] for w in written]

    run >> get
    report(get.output)
