"""A user's own DAG: convert a PDF at PDF.co, then download the text to a folder."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.operators.run import PdfCoRunJobOperator

with DAG(
    dag_id="my_pipeline",
    schedule=None,
    catchup=False,
    params={"output_root": Param("/data/pdf-text", type="string")},
) as dag:
    run = PdfCoRunJobOperator(
        task_id="run",
        conn_id="pdfco_default",
        endpoint="/v1/pdf/convert/to/text",
        payload={"url": "https://example.com/a.pdf"},
        poll_interval=2,
    )
    get = DownloadJobResultOperator(
        task_id="get",
        conn_id="pdfco_default",
        job_id="{{ ti.xcom_pull(task_ids='run', key='job_id') }}",
        destination="{{ params.output_root }}/",
    )
    run >> get
