"""The provider's metrics from a real Airflow: a job started and waited on in the triggerer while
the vendor answers some polls 429, a wait that times out and cancels its job, and a first try
killed while it waits on its worker whose retry reattaches."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_jobstatus.operators.run import (
    AlteryxRunWorkflowOperator,
    ApiDataToolsRunJobOperator,
    NitroRunJobOperator,
)

with DAG(dag_id="e2e_metrics", schedule=None, catchup=False, tags=["jobstatus", "e2e"]):
    ApiDataToolsRunJobOperator(
        task_id="start_and_wait",
        conn_id="apidatatools_default",
        tool="/json-to-csv-api",
        source_url="https://example.com/in.json",
        poll_interval=1,
    )
    AlteryxRunWorkflowOperator(
        task_id="cancel_at_timeout",
        conn_id="alteryx_default",
        workflow_id="wf-metrics-timeout",
        poll_interval=2,
        timeout=15,
    )
    NitroRunJobOperator(
        task_id="reattach",
        conn_id="nitro_default",
        operation="transformations",
        method="compress",
        file="https://example.com/in.pdf",
        deferrable=False,
        poll_interval=1,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
