"""The task's extra link "Job at vendor": the job's page at the vendor, where there is one.

Airflow 3 asks ``get_link`` on the worker each time a try stops running there (deferral included)
and keeps the answer in XCom for the UI. The link is built from what is already known before the
task defers, so it survives deferral and a task the triggerer ends (apache/airflow#64745): the run
operators' ``job_id`` XCom, pushed as soon as the vendor returns the id, or the sensor's rendered
``job_id``; and the connection, which gives the vendor and its base URL. A wait started in the
triggerer (``start_from_trigger``) never runs on a worker, so it has no link.

Which vendors have a page for one job, from their API references (developers.gonitro.com
jobs/result, PDF.co's job/check, help.alteryx.com Server API v3 jobs endpoints,
docs.apidatatools.com status-api, docs.playment.io get-job-result): none of the five built in. Nitro, PDF.co,
APIDataTools and Playment document API endpoints only (``GET /jobs/{jobID}``, ``POST /v1/job/check``,
``GET /jobs/{job_id}``, ``GET /v1/projects/{project_id}/jobs/{job_id}``), no page in their web apps
for a job; Playment's ``viewer_url`` appears only in its legacy v0 batch listing. Alteryx Server's
``/webapi/v3/jobs/{id}`` is its API, and its Gallery's pages are not documented there. So their
tasks show no link. A vendor object with a ``job_url(base_url, job_id)`` method (a declared API's
profile ``job_url``) gives one.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

from airflow_provider_jobstatus.hooks.base import JobStatusHook

LINK_NAME = "Job at vendor"


def job_page(conn_id: str, job_id: Any) -> str | None:
    """The job's page at the vendor of ``conn_id``, or None where the vendor has no such page."""
    if not isinstance(job_id, str) or not job_id:
        return None
    hook = JobStatusHook.for_connection(conn_id)
    page = getattr(hook.vendor, "job_url", None)
    if page is None:
        return None
    url = page(hook.settings().base_url, job_id)
    return url if isinstance(url, str) and url else None


class JobAtVendorLink(BaseOperatorLink):
    """The "Job at vendor" button of a run operator or the sensor (empty where there is no page)."""

    name = LINK_NAME

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        try:
            # the run operators push the id before any wait; the sensor has it as its argument
            job_id = XCom.get_value(ti_key=ti_key, key="job_id") or getattr(operator, "job_id", None)
            return job_page(operator.conn_id, job_id) or ""
        except Exception:  # a wrong connection is the task's own error to report, not the link's
            return ""
