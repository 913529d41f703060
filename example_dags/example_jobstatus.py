"""Start a vendor job, wait for it, download its result: one DAG per vendor, and one with all five.

Each pipeline is a run operator (it starts the job, pushes its id to XCom as ``job_id`` and waits
in the triggerer), then ``DownloadJobResultOperator`` writing the result, verified, to a folder per
run (``output_root`` param: a local folder or an object storage URL such as ``s3://bucket/out``).
The inputs are DAG params; the defaults are placeholders to replace with your own documents,
workflows and ids. ``make demo`` runs these DAGs against the vendor simulator.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.operators.run import (
    AlteryxRunWorkflowOperator,
    ApiDataToolsRunJobOperator,
    NitroRunJobOperator,
    PdfCoRunJobOperator,
    PlaymentCreateJobOperator,
    RunJobOperator,
)

VENDORS = ["nitro", "pdfco", "alteryx", "apidatatools", "playment"]
#: one folder per DAG run, so runs never overwrite each other's results
OUTPUT_TEMPLATE = "{{ params.output_root }}/{{ dag.dag_id }}/{{ run_id | replace(':', '_') }}/"
COMMON: dict[str, Any] = {"poll_interval": 10, "retries": 2}

PARAMS = {
    "output_root": Param("/tmp/airflow-jobstatus", type="string", description="Where results go"),
    "document_url": Param(
        "https://example.com/samples/invoice.pdf", type="string", description="A PDF for Nitro and PDF.co"
    ),
    "json_url": Param(
        "https://example.com/samples/orders.json", type="string", description="A JSON file for APIDataTools"
    ),
    "alteryx_workflow_id": Param("5f1e2d3c4b5a697887766554", type="string", description="An app workflow"),
    "playment_work_flow_id": Param(
        "7b6a5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", type="string", description="A Playment work flow"
    ),
    "image_url": Param(
        "https://example.com/samples/street.jpg", type="string", description="An image to label"
    ),
}


def start(vendor: str) -> RunJobOperator:
    """The run operator of ``vendor``, with one realistic job each."""
    task_id, conn_id = f"run_{vendor}", f"{vendor}_default"
    if vendor == "nitro":
        # [START nitro]
        return NitroRunJobOperator(
            task_id=task_id,
            conn_id=conn_id,
            operation="transformations",
            method="compress",
            method_params={"level": "medium"},
            file="{{ params.document_url }}",
            **COMMON,
        )
        # [END nitro]
    if vendor == "pdfco":
        # [START pdfco]
        return PdfCoRunJobOperator(
            task_id=task_id,
            conn_id=conn_id,
            endpoint="/v1/pdf/convert/to/text",
            payload={"url": "{{ params.document_url }}", "pages": "0-", "inline": False},
            **COMMON,
        )
        # [END pdfco]
    if vendor == "alteryx":
        # [START alteryx]
        return AlteryxRunWorkflowOperator(
            task_id=task_id,
            conn_id=conn_id,
            workflow_id="{{ params.alteryx_workflow_id }}",
            questions={"Region": "EMEA", "Run": "{{ run_id }}"},
            **COMMON,
        )
        # [END alteryx]
    if vendor == "apidatatools":
        # [START apidatatools]
        return ApiDataToolsRunJobOperator(
            task_id=task_id,
            conn_id=conn_id,
            tool="/json-to-csv-api",
            source_url="{{ params.json_url }}",
            **COMMON,
        )
        # [END apidatatools]
    # [START playment]
    return PlaymentCreateJobOperator(
        task_id=task_id,
        conn_id=conn_id,
        # the idempotency key: the same for every try of this run, new for the next run
        reference_id="{{ dag.dag_id }}-{{ run_id }}",
        data={"image_url": "{{ params.image_url }}"},
        work_flow_id="{{ params.playment_work_flow_id }}",
        **COMMON,
    )
    # [END playment]


@task
def report(vendor: str, written: list[dict[str, Any]]) -> dict[str, Any]:
    """Stands for whatever comes next (load the file somewhere): here, say what was written."""
    files = [{"file": w["destination"], "bytes": w["bytes"], "sha256": w["sha256"]} for w in written]
    print(f"{vendor}: {len(files)} result file(s): {files}")
    return {"vendor": vendor, "files": files}


def run_and_download(vendor: str) -> None:
    """start + wait (deferred) -> download -> report, for one vendor, inside the current DAG."""
    run = start(vendor)
    # [START download]
    get = DownloadJobResultOperator(
        task_id=f"download_{vendor}",
        conn_id=f"{vendor}_default",
        job_id=f"{{{{ ti.xcom_pull(task_ids='run_{vendor}', key='job_id') }}}}",
        destination=OUTPUT_TEMPLATE + f"{vendor}/",
    )
    # [END download]
    run >> get
    report.override(task_id=f"report_{vendor}")(vendor, get.output)


for _vendor in VENDORS:
    with DAG(
        dag_id=f"example_jobstatus_{_vendor}",
        schedule=None,
        catchup=False,
        tags=["jobstatus", "example", _vendor],
        params=PARAMS,
        doc_md=__doc__,
    ):
        run_and_download(_vendor)

with DAG(
    dag_id="example_jobstatus_all_vendors",
    schedule=None,
    catchup=False,
    tags=["jobstatus", "example"],
    params=PARAMS,
    doc_md="Five pipelines side by side, one per vendor: all five waits deferred in the triggerer at once.",
):
    for _vendor in VENDORS:
        run_and_download(_vendor)
