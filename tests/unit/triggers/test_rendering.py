"""A trigger started from the trigger renders the task's templated fields in the triggerer: only a
field that holds a template costs a Jinja environment; a plain one is left as it is."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.triggers.base import BaseTrigger

from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger

#: Airflow 3.1 and 3.2 never render a trigger's fields in the triggerer
pytestmark = pytest.mark.skipif(
    not hasattr(BaseTrigger, "render_template_fields"), reason="this Airflow renders no trigger fields"
)


def _trigger(job_id: str, conn_id: str = "nitro_default") -> JobStatusTrigger:
    trigger = JobStatusTrigger(conn_id, job_id)
    trigger.template_fields = ("job_id", "conn_id")  # what Airflow keeps of the sensor's fields
    return trigger


def test_a_templated_job_id_is_rendered() -> None:
    trigger = _trigger("job-{{ ds }}")
    trigger.render_template_fields(context={"ds": "2026-12-02"})  # type: ignore[arg-type]
    assert trigger.job_id == "job-2026-12-02"


@pytest.mark.parametrize("job_id", ["job-1", "a b/c%2F", "ünïcode"])
def test_plain_fields_make_no_jinja_environment(job_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a Jinja environment was made for fields without a template")

    monkeypatch.setattr(JobStatusTrigger, "get_template_env", refuse)
    trigger = _trigger(job_id)
    trigger.render_template_fields(context={"ds": "2026-12-02"})  # type: ignore[arg-type]
    assert (trigger.job_id, trigger.conn_id) == (job_id, "nitro_default")


@pytest.mark.parametrize("job_id", ["{% if true %}x{% endif %}", "{# note #}x", "x\n"])
def test_what_jinja_could_change_is_still_rendered(job_id: str) -> None:
    trigger = _trigger(job_id)
    trigger.render_template_fields(context={})  # type: ignore[arg-type]
    assert trigger.job_id == "x"
