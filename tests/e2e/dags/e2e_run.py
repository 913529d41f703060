"""Run operators in a real Airflow: a retried task reattaches, a killed or timed-out wait cancels."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_jobstatus.operators.run import (
    AlteryxRunWorkflowOperator,
    ApiDataToolsRunJobOperator,
    NitroRunJobOperator,
    PdfCoRunJobOperator,
)

# waits on the worker, so the test can kill the first try's process while it waits
with DAG(dag_id="e2e_run_reattach", schedule=None, catchup=False, tags=["jobstatus", "e2e"]):
    NitroRunJobOperator(
        task_id="run_nitro",
        conn_id="nitro_default",
        operation="transformations",
        method="compress",
        file="https://example.com/in.pdf",
        deferrable=False,
        poll_interval=1,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )

# both wait in the triggerer until the test marks them failed
with DAG(dag_id="e2e_run_cancel", schedule=None, catchup=False, tags=["jobstatus", "e2e"]):
    AlteryxRunWorkflowOperator(
        task_id="run_alteryx", conn_id="alteryx_default", workflow_id="wf-cancel", poll_interval=2
    )
    PdfCoRunJobOperator(
        task_id="run_pdfco",
        conn_id="pdfco_default",
        endpoint="/v1/pdf/convert/to/text",
        payload={"url": "https://example.com/in.pdf"},
        poll_interval=2,
    )

with DAG(dag_id="e2e_run_timeout", schedule=None, catchup=False, tags=["jobstatus", "e2e"]):
    AlteryxRunWorkflowOperator(
        task_id="run_alteryx",
        conn_id="alteryx_default",
        workflow_id="wf-timeout",
        poll_interval=2,
        timeout=20,
    )

# ended by the triggerer itself: a success (status dict and job id in XCom) and a timeout (the
# job is canceled there); nothing runs on a worker after the deferral
with DAG(dag_id="e2e_run_end_from_trigger", schedule=None, catchup=False, tags=["jobstatus", "e2e"]):
    ApiDataToolsRunJobOperator(
        task_id="run_apidatatools",
        conn_id="apidatatools_default",
        tool="/json-to-csv-api",
        source_url="https://example.com/in.json",
        poll_interval=1,
        end_from_trigger=True,
    )
    AlteryxRunWorkflowOperator(
        task_id="run_alteryx",
        conn_id="alteryx_default",
        workflow_id="wf-eft-timeout",
        poll_interval=2,
        timeout=20,
        end_from_trigger=True,
    )
