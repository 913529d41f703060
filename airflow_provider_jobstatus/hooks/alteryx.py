"""Hook for Alteryx Server: the protocol lives in :mod:`airflow_provider_jobstatus.vendors.alteryx`."""

from __future__ import annotations

from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.status import BatchJob
from airflow_provider_jobstatus.vendors.alteryx import API

#: jobs per page of a workflow's job listing (``offset``/``limit``)
WORKFLOW_JOBS_PAGE = 100


class AlteryxHook(JobStatusHook):
    """Alteryx Server job status, results and auth through an Airflow connection of type ``alteryx``."""

    vendor_name = "alteryx"
    conn_name_attr = "conn_id"
    default_conn_name = "alteryx_default"
    conn_type = "alteryx"
    hook_name = "Alteryx Server"

    def workflow_jobs(self, workflow_id: str) -> list[BatchJob]:
        """Every job of a workflow the server lists, page by page, within the connection's page
        cap (a workflow listing more is an error until the server purges old jobs); asked once."""
        pager = self.pager(self.settings(), "workflow", workflow_id)
        jobs: list[BatchJob] = []
        while True:
            req = API.workflow_jobs_request(workflow_id, pager.pages * WORKFLOW_JOBS_PAGE, WORKFLOW_JOBS_PAGE)
            got = API.parse_workflow_jobs(workflow_id, self.request(req, workflow_id))
            jobs.extend(got)
            if not pager.another(full=len(got) >= WORKFLOW_JOBS_PAGE):
                return jobs

    async def aworkflow_jobs(self, workflow_id: str) -> list[BatchJob]:
        """:meth:`workflow_jobs` without blocking the event loop (the asset watcher)."""
        pager = self.pager(await self.asettings(), "workflow", workflow_id)
        jobs: list[BatchJob] = []
        while True:
            req = API.workflow_jobs_request(workflow_id, pager.pages * WORKFLOW_JOBS_PAGE, WORKFLOW_JOBS_PAGE)
            got = API.parse_workflow_jobs(workflow_id, await self.arequest(req, workflow_id))
            jobs.extend(got)
            if not pager.another(full=len(got) >= WORKFLOW_JOBS_PAGE):
                return jobs
