"""Success, failure and timeout for every vendor in one DAG run (the job ids come in dag_run.conf)."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

VENDORS = ["nitro", "pdfco", "alteryx", "apidatatools", "playment"]

with DAG(dag_id="e2e_outcomes", schedule=None, catchup=False, tags=["jobstatus", "e2e"]):
    for vendor in VENDORS:
        for case, timeout in (("ok", 120), ("fail", 120), ("timeout", 3)):
            JobStatusSensor(
                task_id=f"{vendor}_{case}",
                conn_id=f"{{{{ dag_run.conf['{vendor}_{case}_conn'] }}}}",
                job_id=f"{{{{ dag_run.conf['{vendor}_{case}'] }}}}",
                poke_interval=0.5,
                timeout=timeout,
                retries=0,
            )
