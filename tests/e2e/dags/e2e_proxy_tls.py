"""Waits through a forward proxy and against a server whose certificate comes from a private CA."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

with DAG(dag_id="e2e_proxy_tls", schedule=None, catchup=False, tags=["jobstatus", "e2e"]):
    for name in ("private_ca", "proxy"):
        JobStatusSensor(
            task_id=f"wait_{name}",
            conn_id=f"pdfco_{name}",
            job_id=f"{{{{ dag_run.conf['{name}'] }}}}",
            poke_interval=1,
            timeout=300,
        )
