"""Playment (GT Studio): ``x-api-key``, job result, batch pages, attachment access (302 to a signed URL)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.routing import BaseRoute

from ..catalog import SimVendor
from ..checks import check_int, check_str
from ..faults import Fault
from ..http import Ctx, Reply, html_502, json_reply, vendor_routes
from ..state import Job, Observation, SimState
from ._util import retry_after_header, same, start_fault

VENDOR = "playment"
PREFIX = "/playment"
UNDOCUMENTED_STATUS = "on_hold"


def error(status: int, code: str, text: str) -> Reply:
    return json_reply(status, {"error": {"code": code, "message": text}, "success": False})


def fault_reply(fault: Fault) -> Reply:
    if fault.kind == "html_error":
        return html_502()
    if fault.kind == "rate_429":
        reply = error(429, "rate_limit_exceeded", "Too many requests. Please retry later.")
        reply.headers.append(retry_after_header(fault.retry_after))
        return reply
    return error(fault.status, "api_error", "Something went wrong. Please try again.")


def _check(ctx: Ctx, project_id: str | None) -> Reply | None:
    creds = ctx.state.credentials[VENDOR]
    key = ctx.header(b"x-api-key")
    if not key:
        return error(401, "unauthorized", "x-api-key header is missing")
    if not same(key, creds["api_key"]):
        return error(401, "unauthorized", "Invalid x-api-key")
    if project_id is not None and project_id != creds["project_id"]:
        return error(400, "GE_0001", f"Invalid parameter: project_id {project_id} not found")
    return None


def _status(job: Job, obs: Observation) -> str:
    return "completed" if obs.terminal else "in_progress"


def job_data(state: SimState, job: Job, obs: Observation, status: str | None = None) -> dict[str, Any]:
    done = obs.terminal and status is None
    return {
        "project_id": state.credentials[VENDOR]["project_id"],
        "reference_id": job.opts["reference_id"],
        "job_id": job.id,
        "batch_id": job.batch_id,
        "status": status or _status(job, obs),
        "work_flow_id": job.opts["work_flow_id"],
        "priority_weight": job.opts["priority_weight"],
        "tag": job.opts["work_flow_id"],
        "result": state.private_url(job.results[0]) if done else "",
    }


async def job_result(ctx: Ctx) -> Reply:
    denied = _check(ctx, ctx.params["project_id"])
    if denied is not None:
        return denied
    job = ctx.state.get_job(ctx.params["job_id"])
    if job is None or job.vendor != VENDOR:
        return error(400, "GE_0001", f"Invalid parameter: job_id {ctx.params['job_id']} not found")
    obs = ctx.state.observe(job, ctx.advance)
    status = UNDOCUMENTED_STATUS if ctx.want_unknown_status() else None
    return json_reply(200, {"data": job_data(ctx.state, job, obs, status), "success": True})


async def batch_page(ctx: Ctx) -> Reply:
    denied = _check(ctx, ctx.params["project_id"])
    if denied is not None:
        return denied
    state = ctx.state
    batch = state.batches.get(ctx.params["batch_id"])
    if batch is None:
        return error(400, "GE_0001", f"Invalid parameter: batch_id {ctx.params['batch_id']} not found")
    token = ctx.query("page_token")
    page: int | None = 0
    if token:
        page = batch.page_of(token)
    if page is None:
        return error(400, "invalid_request_error", "Invalid pageToken provided")
    start = page * batch.page_size
    ids = batch.job_ids[start : start + batch.page_size]
    jobs = []
    for job_id in ids:
        job = state.get_job(job_id)
        if job is None:
            continue
        obs = state.observe(job, advance=False)
        jobs.append(
            {
                "id": job.id,
                "reference_id": job.opts["reference_id"],
                "status": _status(job, obs),
                "frames": [],
                "annotations": [],
            }
        )
    data: dict[str, Any] = {"id": batch.id, "project_id": batch.project_id, "name": batch.name, "jobs": jobs}
    if start + batch.page_size < len(batch.job_ids):
        data["next_page_token"] = batch.page_token(page + 1)
    return json_reply(200, {"data": data, "success": True})


async def attachments(ctx: Ctx) -> Reply:
    denied = _check(ctx, None)
    if denied is not None:
        return denied
    url = ctx.query("url")
    if not url:
        return error(400, "GE_0001", "Invalid parameter: url is required")
    state = ctx.state
    prefix = f"{state.files_url}/files/"
    rf = state.files.get(url[len(prefix) :].split("?", 1)[0]) if url.startswith(prefix) else None
    job = state.get_job(rf.job_id) if rf is not None else None
    if rf is None or job is None or job.vendor != VENDOR:
        return error(400, "FS_0007", "Attachment is not accessible")
    location = state.signed_url(rf, int(time.time() + job.link_ttl))
    return Reply(302, b"", "text/plain", [(b"location", location.encode())], is_json=False)


async def create_job(ctx: Ctx) -> Reply:
    """``POST /v1/projects/{p}/jobs``: ``reference_id`` is unique (``FS_0001`` on a duplicate)."""
    denied = _check(ctx, ctx.params["project_id"])
    if denied is not None:
        return denied
    try:
        body = await ctx.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return error(400, "GE_0001", "Invalid parameter: the body must be a JSON object")
    reference_id, work_flow_id = body.get("reference_id"), body.get("work_flow_id")
    if not isinstance(reference_id, str) or not reference_id:
        return error(400, "GE_0001", "Invalid parameter: reference_id is required")
    if not isinstance(work_flow_id, str) or not work_flow_id:
        return error(400, "FS_0005", "work_flow_id is missing")
    if not isinstance(body.get("data"), dict):
        return error(400, "GE_0001", "Invalid parameter: data must be an object")
    batch_id = body.get("batch_id")
    if batch_id is not None and (not isinstance(batch_id, str) or batch_id not in ctx.state.batches):
        return error(400, "GE_0001", f"Invalid parameter: batch_id {batch_id} not found")
    if ctx.state.find_reference(VENDOR, reference_id) is not None:
        return error(400, "FS_0001", f"Job with reference_id {reference_id} already exists")
    plan, job = ctx.state.start_job(VENDOR, batch_id, reference_id=reference_id, work_flow_id=work_flow_id)
    refused = start_fault(plan, fault_reply)
    if refused is not None or job is None:
        return refused or error(500, "api_error", "Something went wrong. Please try again.")
    data = {"job_id": job.id, "reference_id": reference_id, "work_flow_id": work_flow_id}
    return json_reply(200, {"data": data, "success": True})


def routes(state: SimState) -> list[BaseRoute]:
    return vendor_routes(
        state,
        VENDOR,
        fault_reply,
        [
            ("POST", f"{PREFIX}/v1/projects/{{project_id}}/jobs", "start", create_job),
            ("GET", f"{PREFIX}/v1/projects/{{project_id}}/jobs/{{job_id}}", "status", job_result),
            ("GET", f"{PREFIX}/v1/projects/{{project_id}}/batch/{{batch_id}}", "batch", batch_page),
            ("GET", f"{PREFIX}/v1/attachments", "attachments", attachments),
        ],
    )


def clean_options(outcome: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if "reference_id" in opts:
        clean["reference_id"] = check_str("reference_id", opts["reference_id"])
    if "work_flow_id" in opts:
        clean["work_flow_id"] = check_str("work_flow_id", opts["work_flow_id"])
    clean["priority_weight"] = check_int("priority_weight", opts.get("priority_weight", 5), 1, 10)
    return clean


def add_ids(state: SimState, opts: dict[str, Any]) -> None:
    work_flow_id = state.random_uuid()  # drawn even when given: the same seed gives the same ids
    opts.setdefault("work_flow_id", work_flow_id)
    opts["request_id"] = state.random_uuid()


def json_result(job_id: str, index: int) -> tuple[str, str]:
    return "result.json", "application/json"


SIM = SimVendor(
    name=VENDOR,
    prefix=PREFIX,
    outcomes={"succeeded": "completed"},
    phases=("in_progress",),
    undocumented_status=UNDOCUMENTED_STATUS,
    credentials={"api_key": "sim-playment-key", "project_id": "sim-project"},
    routes=routes,
    options=frozenset({"reference_id", "work_flow_id", "priority_weight"}),
    clean_options=clean_options,
    add_ids=add_ids,
    result_file=json_result,
    batches=True,
)
