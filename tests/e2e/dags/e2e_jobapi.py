"""A declared job API in a real Airflow: a run that defers, succeeds and downloads; one that times
out (its job is canceled: the simulator's default profile declares ``cancel``)."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.operators.run import JobApiRunJobOperator

with DAG(dag_id="e2e_jobapi_run", schedule=None, catchup=False, tags=["jobstatus", "e2e"]):
    run = JobApiRunJobOperator(
        task_id="run_jobapi", conn_id="jobapi_default", payload={"input": "{{ run_id }}"}, poll_interval=1
    )
    get = DownloadJobResultOperator(
        task_id="download_jobapi",
        conn_id="jobapi_default",
        job_id="{{ ti.xcom_pull(task_ids='run_jobapi', key='job_id') }}",
        destination="{{ var.value.get('e2e_jobapi_out', '/tmp/e2e-jobapi') }}/"
        "{{ run_id | replace(':', '_') }}/",
    )
    run >> get

with DAG(dag_id="e2e_jobapi_timeout", schedule=None, catchup=False, tags=["jobstatus", "e2e"]):
    JobApiRunJobOperator(
        task_id="run_jobapi", conn_id="jobapi_default", payload={"input": "slow"}, poll_interval=2, timeout=15
    )
