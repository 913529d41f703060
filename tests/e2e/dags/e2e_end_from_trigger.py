"""Every ending of a wait given by the triggerer (``end_from_trigger=True``), in one DAG run; the
job ids come in dag_run.conf (tests/e2e/test_end_from_trigger.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

#: task id -> (connection, sensor options); the job behind each is in dag_run.conf[task id]
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "ok": ("pdfco_default", {}),
    "failed": ("nitro_default", {}),
    "failed_with_retries": ("nitro_default", {"retries": 2}),  # must not retry: ends on a worker
    "timeout": ("pdfco_default", {"timeout": 4}),
    "canceled_skips": ("nitro_default", {"canceled_as_skipped": True}),
    "soft_fail": ("nitro_default", {"soft_fail": True, "retries": 1}),
    # a vendor that cannot be reached: faults past the tolerance, a failure with Airflow's retries
    "error_retries": ("pdfco_down", {"retries": 1, "transient_fault_tolerance": 2}),
    # an id the vendor never knew: "job not found" after the grace, for good (a retry cannot help)
    "not_found": ("nitro_default", {"retries": 1, "not_found_grace": 2}),
}


@task
def read_ok(**context: Any) -> str:
    """Downstream of ``ok``: the status dict the triggerer pushed reads back as plain JSON."""
    value = context["ti"].xcom_pull(task_ids="ok")
    assert isinstance(value, dict) and value["state"] == "succeeded", value
    return str(value["job_id"])


with DAG(
    dag_id="e2e_end_from_trigger",
    schedule=None,
    catchup=False,
    tags=["jobstatus", "e2e"],
    default_args={"retries": 0, "retry_delay": timedelta(seconds=1)},
):
    sensors = {
        task_id: JobStatusSensor(
            task_id=task_id,
            conn_id=conn_id,
            job_id=f"{{{{ dag_run.conf['{task_id}'] }}}}",
            poke_interval=1,
            end_from_trigger=True,
            **{"timeout": 120, **options},
        )
        for task_id, (conn_id, options) in CASES.items()
    }
    sensors["ok"] >> read_ok()
