"""The documentation's examples, as DAGs that the tests run against the vendor simulator
(tests/e2e/test_docs_examples.py), so that no example in the docs can drift from the code.

The pages include the parts between ``# [START name]`` and ``# [END name]``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param

# [START imports]
from airflow_provider_jobstatus.operators.batch import BatchJobsToXComOperator
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.operators.run import PdfCoRunJobOperator
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

# [END imports]

#: quick polls for the tests (the operators' defaults are 30 s)
FAST: dict[str, Any] = {"poll_interval": 2}

with DAG(
    dag_id="docs_run_and_download",
    schedule=None,
    catchup=False,
    params={"output_root": Param("/tmp/airflow-jobstatus-docs", type="string")},
    default_args=FAST,
):
    # [START run_operator]
    run = PdfCoRunJobOperator(
        task_id="run",
        conn_id="pdfco_default",
        endpoint="/v1/pdf/convert/to/text",
        payload={"url": "https://example.com/a.pdf", "pages": "0-"},
    )
    # [END run_operator]

    # [START download]
    get = DownloadJobResultOperator(
        task_id="get",
        conn_id="pdfco_default",
        job_id="{{ ti.xcom_pull(task_ids='run', key='job_id') }}",
        # a folder (ends with /): each result under its own name; or s3://bucket/pdfco/ with
        # destination_conn_id="aws_default", or a file such as .../report.txt
        destination="{{ params.output_root }}/pdfco/{{ run_id | replace(':', '_') }}/",
        overwrite="replace",  # or "skip", "fail"
    )
    # [END download]
    run >> get

with DAG(
    dag_id="docs_start_then_wait",
    schedule=None,
    catchup=False,
    default_args={"poke_interval": 2},
):
    # [START start_only]
    start = PdfCoRunJobOperator(
        task_id="start",
        conn_id="pdfco_default",
        endpoint="/v1/pdf/convert/to/text",
        payload={"url": "https://example.com/a.pdf"},
        wait=False,  # returns {"vendor", "job_id"} at once
    )
    # [END start_only]

    # [START sensor]
    wait = JobStatusSensor(
        task_id="wait",
        conn_id="pdfco_default",
        job_id="{{ ti.xcom_pull(task_ids='start', key='job_id') }}",
        poke_interval=30,  # seconds between polls (APIDataTools' retry_after wins when given)
        timeout=6 * 3600,  # the sensor's own limit: ends as AirflowSensorTimeout (no retries)
    )
    # [END sensor]
    start >> wait

with DAG(
    dag_id="docs_batch",
    schedule=None,
    catchup=False,
    params={"batch_id": Param("00000000-0000-0000-0000-000000000000", type="string")},
):
    # [START batch]
    jobs = BatchJobsToXComOperator(
        task_id="jobs",
        conn_id="playment_default",
        batch_id="{{ params.batch_id }}",
        status="completed",
        chunk_size=500,
    )
    # [END batch]
