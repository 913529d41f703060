"""The production drill's DAGs (dev/drill.py triggers them; settings come from its environment).

- ``drill_waits``: one mapped JobStatusSensor per job in ``dag_run.conf["waits"]`` (conn_id, job_id),
  then one mapped DownloadJobResultOperator per succeeded wait into ``conf["results"]/<job id>/``.
- ``drill_download``: one large download (a Celery worker is killed while it streams).
- ``drill_deadline``: one wait whose job never ends: it must end as a timeout at its deadline.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor

POLL = float(os.environ.get("JOBSTATUS_DRILL_POLL", "5"))
DEADLINE = float(os.environ.get("JOBSTATUS_DRILL_DEADLINE", "90"))
RETRIES: dict[str, Any] = {"retries": 3, "retry_delay": timedelta(seconds=5)}


@task
def waits(**context: Any) -> list[dict[str, str]]:
    return [{"conn_id": w["conn_id"], "job_id": w["job_id"]} for w in context["dag_run"].conf["waits"]]


@task(trigger_rule="all_done")
def downloads(**context: Any) -> list[dict[str, str]]:
    """A download for every wait that ended in success (the others have nothing to fetch)."""
    conf = context["dag_run"].conf
    planned = []
    for index, spec in enumerate(conf["waits"]):
        status = context["ti"].xcom_pull(task_ids="wait", map_indexes=index)
        if isinstance(status, dict) and status.get("state") == "succeeded":
            destination = f"{conf['results']}/{spec['job_id']}/"
            planned.append({"conn_id": spec["conn_id"], "job_id": spec["job_id"], "destination": destination})
    return planned


with DAG(dag_id="drill_waits", schedule=None, catchup=False, max_active_tasks=2048, tags=["drill"]):
    specs = waits()
    sensor = JobStatusSensor.partial(task_id="wait", poke_interval=POLL, timeout=3 * 3600, **RETRIES)
    wait = sensor.expand_kwargs(specs)
    plan = downloads()
    wait >> plan
    # hook for issue 13: start -> wait -> download through operators.run for conf["runs"] goes here
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
