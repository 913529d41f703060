"""The production drill's DAGs (dev/drill.py triggers them; settings come from its environment).

- ``drill_waits``: one mapped JobStatusSensor per job in ``dag_run.conf["waits"]`` (conn_id, job_id),
  one mapped run operator per vendor (``run_<vendor>``) per entry of ``conf["runs"][vendor]`` (the
  operator starts the job: start -> wait), then one mapped DownloadJobResultOperator per succeeded
  wait or run into ``conf["results"]/<job id>/``.
- ``drill_download``: one large download (a Celery worker is killed while it streams).
- ``drill_deadline``: one wait whose job never ends: it must end as a timeout at its deadline.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.operators.run import (
    AlteryxRunWorkflowOperator,
    ApiDataToolsRunJobOperator,
    NitroRunJobOperator,
    PdfCoRunJobOperator,
    PlaymentCreateJobOperator,
)
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

POLL = float(os.environ.get("JOBSTATUS_DRILL_POLL", "5"))
DEADLINE = float(os.environ.get("JOBSTATUS_DRILL_DEADLINE", "90"))
RETRIES: dict[str, Any] = {"retries": 3, "retry_delay": timedelta(seconds=5)}


@task
def waits(**context: Any) -> list[dict[str, str]]:
    return [{"conn_id": w["conn_id"], "job_id": w["job_id"]} for w in context["dag_run"].conf["waits"]]


@task
def runs(vendor: str, **context: Any) -> list[dict[str, Any]]:
    """The per-task arguments of ``run_<vendor>`` (Playment's reference_id; empty for the others)."""
    return list(context["dag_run"].conf.get("runs", {}).get(vendor, []))


@task(trigger_rule="all_done")
def downloads(**context: Any) -> list[dict[str, str]]:
    """A download for every wait or run that ended in success (the others have nothing to fetch)."""
    conf = context["dag_run"].conf
    ti = context["ti"]
    done: list[tuple[str, str]] = []  # (conn_id, job_id)
    for index, spec in enumerate(conf["waits"]):
        status = ti.xcom_pull(task_ids="wait", map_indexes=index)
        if isinstance(status, dict) and status.get("state") == "succeeded":
            done.append((spec["conn_id"], spec["job_id"]))
    for vendor, specs in conf.get("runs", {}).items():
        for index in range(len(specs)):
            status = ti.xcom_pull(task_ids=f"run_{vendor}", map_indexes=index)
            job_id = ti.xcom_pull(task_ids=f"run_{vendor}", map_indexes=index, key="job_id")
            if isinstance(status, dict) and status.get("state") == "succeeded" and job_id:
                done.append((f"{vendor}_default", str(job_id)))
    return [
        {"conn_id": conn_id, "job_id": job_id, "destination": f"{conf['results']}/{job_id}/"}
        for conn_id, job_id in done
    ]


#: what each vendor's run operator starts (the simulator accepts any input; its plans set the outcome)
RUN_OPERATORS: dict[str, tuple[type[Any], dict[str, Any]]] = {
    "nitro": (
        NitroRunJobOperator,
        {"operation": "transformations", "method": "compress", "file": "https://example.com/in.pdf"},
    ),
    "pdfco": (
        PdfCoRunJobOperator,
        {"endpoint": "/v1/pdf/convert/to/text", "payload": {"url": "https://example.com/in.pdf"}},
    ),
    "alteryx": (AlteryxRunWorkflowOperator, {"workflow_id": "wf-drill"}),
    "apidatatools": (
        ApiDataToolsRunJobOperator,
        {"tool": "/json-to-csv-api", "source_url": "https://example.com/in.json"},
    ),
    "playment": (
        PlaymentCreateJobOperator,
        {"data": {"image_url": "https://example.com/a.png"}, "work_flow_id": "wf-drill"},
    ),
}


with DAG(dag_id="drill_waits", schedule=None, catchup=False, max_active_tasks=2048, tags=["drill"]):
    specs = waits()
    sensor = JobStatusSensor.partial(task_id="wait", poke_interval=POLL, timeout=3 * 3600, **RETRIES)
    wait = sensor.expand_kwargs(specs)
    plan = downloads()
    wait >> plan
    for vendor, (operator, arguments) in RUN_OPERATORS.items():
        started = operator.partial(
            task_id=f"run_{vendor}",
            conn_id=f"{vendor}_default",
            poll_interval=POLL,
            timeout=3 * 3600,
            **arguments,
            **RETRIES,
        ).expand_kwargs(runs.override(task_id=f"runs_{vendor}")(vendor))
        started >> plan
    DownloadJobResultOperator.partial(task_id="get", download_attempts=3, **RETRIES).expand_kwargs(plan)

with DAG(dag_id="drill_download", schedule=None, catchup=False, tags=["drill"]):
    DownloadJobResultOperator(
        task_id="get",
        conn_id="{{ dag_run.conf['conn_id'] }}",
        job_id="{{ dag_run.conf['job_id'] }}",
        destination="{{ dag_run.conf['destination'] }}",
        **RETRIES,
    )

with DAG(dag_id="drill_deadline", schedule=None, catchup=False, tags=["drill"]):
    JobStatusSensor(
        task_id="wait",
        conn_id="{{ dag_run.conf['conn_id'] }}",
        job_id="{{ dag_run.conf['job_id'] }}",
        poke_interval=POLL,
        timeout=DEADLINE,
        retries=0,
    )
