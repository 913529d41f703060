"""Run a DAG when vendor work that Airflow did not start finishes.

Alteryx Server runs the workflow on its own schedule; the asset's watcher lists the workflow's jobs
in the triggerer and records an asset event for each round of newly finished jobs, which schedules
this DAG. The event lists those jobs (id, state, the vendor's status, and for Alteryx the
disposition), so the DAG processes exactly what finished. Replace the workflow id with your own.
One watcher per asset: Airflow merges identical watcher triggers, and a merged one cannot keep an
asset's own record of what it announced.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_jobstatus.triggers.watchers import AlteryxWorkflowJobsTrigger

#: the Alteryx Server workflow (app) whose jobs are watched
ALTERYX_WORKFLOW_ID = "5f1e3c0a9b8d7e6f5a4b3c2d"

alteryx_nightly_load = Asset(
    "alteryx-nightly-load-jobs",
    watchers=[
        AssetWatcher(
            name="alteryx_nightly_load",
            trigger=AlteryxWorkflowJobsTrigger(
                conn_id="alteryx_default",
                workflow_id=ALTERYX_WORKFLOW_ID,
                # the end-to-end test polls faster than the default minute
                poll_interval=float(os.environ.get("JOBSTATUS_EXAMPLE_POLL_INTERVAL", "60")),
            ),
        )
    ],
)


@task
def finished_jobs(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
    """The jobs the triggering event(s) announced; a run may consume several events."""
    jobs: list[dict[str, Any]] = []
    for event in (triggering_asset_events or {}).get(alteryx_nightly_load, []):
        jobs.extend(event.extra.get("payload", {}).get("jobs", []))
    return jobs


@task
def load_results(jobs: list[dict[str, Any]]) -> dict[str, int]:
    """Stands for real work: download the succeeded jobs' outputs, alert on the failed ones."""
    succeeded = [job["id"] for job in jobs if job["state"] == "succeeded"]
    print(f"{len(jobs)} jobs finished, {len(succeeded)} succeeded: {succeeded}")
    return {"finished": len(jobs), "succeeded": len(succeeded)}


with DAG(
    dag_id="example_jobstatus_asset_watchers",
    schedule=[alteryx_nightly_load],
    catchup=False,
    tags=["jobstatus", "example", "alteryx", "assets"],
    doc_md=__doc__,
):
    load_results(finished_jobs())
