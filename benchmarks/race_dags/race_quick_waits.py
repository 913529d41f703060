"""Quick waits for benchmarks/late_exit_race.py: one mapped sensor per job in dag_run.conf["waits"]
(each ``{"job_id", "poke_interval"}``), the jobs ending 1-4 s after the sensor's first check.

Three DAGs, one per way of waiting: ``race_baseline`` (the default sensor without its resumption
hold-off: what the sensor did before the fix), ``race_default`` and ``race_end_from_trigger``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger


class NoHoldOffSensor(JobStatusSensor):
    """The sensor as it was before the race fix: its event resumes the task as soon as it fires."""

    def defer(self, *, trigger: Any, **kwargs: Any) -> Any:
        assert isinstance(trigger, JobStatusTrigger)
        trigger.not_before = None
        return super().defer(trigger=trigger, **kwargs)


@task
def waits(**context: Any) -> list[dict[str, Any]]:
    return list(context["dag_run"].conf["waits"])


for dag_id, sensor, extra in [
    ("race_baseline", NoHoldOffSensor, {}),
    ("race_default", JobStatusSensor, {}),
    ("race_end_from_trigger", JobStatusSensor, {"end_from_trigger": True}),
]:
    with DAG(dag_id=dag_id, schedule=None, catchup=False, max_active_tasks=64, tags=["jobstatus", "bench"]):
        sensor.partial(task_id="wait", conn_id="pdfco_default", timeout=300, **extra).expand_kwargs(waits())
