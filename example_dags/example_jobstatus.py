"""Wait for a vendor job and collect its result: one DAG per vendor, and one that waits on all five.

Each DAG takes the job id from its ``job_id`` param; left empty, it starts a job on the vendor
simulator instead (``python -m airflow_provider_jobstatus.testing.simulator``), so the examples
run offline. The sensor defers to the triggerer; the download is checked against the sha256 the
simulator announced.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

VENDORS = ["nitro", "pdfco", "alteryx", "apidatatools", "playment"]
OUTPUT_ROOT = "/tmp/airflow-jobstatus"
#: one folder per DAG run, so runs never overwrite each other's results
OUTPUT_TEMPLATE = "{{ params.output_root }}/{{ dag.dag_id }}/{{ run_id | replace(':', '_') }}/"


@task
def start_job(vendor: str, **context: Any) -> dict[str, Any]:
    """Use the given job id, or start a job on the simulator and remember its result's sha256."""
    params = context["params"]
    if params.get("job_id"):
        return {"job_id": params["job_id"], "sha256": None}
    from airflow_provider_jobstatus.testing.jobs import start_simulated_job

    options = {"retry_after": 1} if vendor == "apidatatools" else {}
    job = start_simulated_job(f"{vendor}_default", vendor, outcome="succeeded", polls=3, **options)
    return {"job_id": job["job_id"], "sha256": job["sha256"]}


@task
def check_download(job: dict[str, Any], written: list[dict[str, Any]]) -> dict[str, Any]:
    """The file on disk must be the bytes the vendor produced."""
    (first,) = written
    digest = hashlib.sha256(Path(first["destination"]).read_bytes()).hexdigest()
    if digest != first["sha256"] or (job["sha256"] and digest != job["sha256"]):
        raise ValueError(f"{first['destination']}: sha256 {digest} does not match {job['sha256']}")
    return {"file": first["destination"], "sha256": digest, "bytes": first["bytes"]}


def wait_and_download(vendor: str) -> None:
    """start -> wait (deferred) -> download -> verify, for one vendor, inside the current DAG."""
    job = start_job.override(task_id=f"start_{vendor}")(vendor)
    wait = JobStatusSensor(
        task_id=f"wait_{vendor}",
        conn_id=f"{vendor}_default",
        job_id=f"{{{{ ti.xcom_pull(task_ids='start_{vendor}')['job_id'] }}}}",
        poke_interval=2,
        timeout=600,
    )
    get = DownloadJobResultOperator(
        task_id=f"download_{vendor}",
        conn_id=f"{vendor}_default",
        job_id=f"{{{{ ti.xcom_pull(task_ids='start_{vendor}')['job_id'] }}}}",
        destination=OUTPUT_TEMPLATE + f"{vendor}/",
    )
    verified = check_download.override(task_id=f"verify_{vendor}")(job, get.output)
    job >> wait >> get
    get >> verified


PARAMS = {
    "job_id": Param(
        None, type=["null", "string"], description="A vendor job id; empty = start one on the simulator"
    ),
    "output_root": Param(
        OUTPUT_ROOT, type="string", description="Where downloads go (a folder or object storage URL)"
    ),
}

for _vendor in VENDORS:
    with DAG(
        dag_id=f"example_jobstatus_{_vendor}",
        schedule=None,
        catchup=False,
        tags=["jobstatus", "example", _vendor],
        params=PARAMS,
        doc_md=__doc__,
    ):
        wait_and_download(_vendor)

with DAG(
    dag_id="example_jobstatus_all_vendors",
    schedule=None,
    catchup=False,
    tags=["jobstatus", "example"],
    params={"output_root": PARAMS["output_root"], "job_id": Param(None, type="null")},
    doc_md="Five waits side by side, one per vendor: all of them deferred in the triggerer at once.",
):
    for _vendor in VENDORS:
        wait_and_download(_vendor)
