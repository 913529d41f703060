"""Several sensors that must really wait in the triggerer (run under `airflow standalone`)."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

with DAG(dag_id="e2e_deferred", schedule=None, catchup=False, tags=["jobstatus", "e2e"]):
    for vendor in ["nitro", "pdfco", "alteryx", "apidatatools", "playment"]:
        JobStatusSensor(
            task_id=f"wait_{vendor}",
            conn_id=f"{vendor}_default",
            job_id=f"{{{{ dag_run.conf['{vendor}'] }}}}",
            poke_interval=1,
            timeout=300,
        )
