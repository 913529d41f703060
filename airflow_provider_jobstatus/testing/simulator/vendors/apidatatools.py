"""APIDataTools: ``x-api-key``, ``GET /jobs/{id}`` (and ``/status-api/{id}``) with ``retry_after``."""

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
from ._util import preview, retry_after_header, same, start_fault

VENDOR = "apidatatools"
PREFIX = "/apidatatools"
PHASES = ("queued", "processing")
UNDOCUMENTED_STATUS = "deferred"


def error(status: int, code: str, text: str) -> Reply:
    return json_reply(status, {"status": "error", "error": code, "details": {"message": text}})


def fault_reply(fault: Fault) -> Reply:
    if fault.kind == "html_error":
        return html_502()
    if fault.kind == "rate_429":
        reply = error(429, "RATE_LIMITED", "Too many status requests. Please slow down.")
        reply.headers.append(retry_after_header(fault.retry_after))
        return reply
    return error(fault.status, "INTERNAL_ERROR", "Failed to process job")


def status_body(state: SimState, job: Job, obs: Observation, status: str | None = None) -> dict[str, Any]:
    created = int(job.created)
    if not obs.terminal or status is not None:
        phase = min(obs.phase, len(PHASES) - 1)
        return {
            "job_id": job.id,
            "status": status or PHASES[phase],
            "created_at": created,
            "updated_at": created if phase == 0 else int(time.time()),
            "message": "Your job is being processed.",
            "retry_after": int(job.opts["retry_after"]),
        }
    updated = int(job.terminal_at or job.created)
    if job.outcome == "succeeded":
        rf = job.results[0]
        result = {
            "request_id": job.opts["request_id"],
            "status": "success",
            "file": state.signed_url(rf, job.link_expires()),
            "preview": preview(rf),
        }
        return {
            "job_id": job.id,
            "status": "success",
            "created_at": created,
            "updated_at": updated,
            "result": result,
        }
    err = {
        "code": job.opts["error_code"],
        "message": job.opts["error_message"],
        "details": {"line": 2, "column": 5},
    }
    return {"job_id": job.id, "status": "failed", "created_at": created, "updated_at": updated, "error": err}


def check_key(ctx: Ctx) -> Reply | None:
    key = ctx.header(b"x-api-key")
    if not key:
        return error(401, "UNAUTHORIZED", "Missing authorizer context")
    if not same(key, ctx.state.credentials[VENDOR]["api_key"]):
        return error(401, "UNAUTHORIZED", "Invalid API key")
    return None


async def start(ctx: Ctx) -> Reply:
    """``POST /{tool}`` with ``x-source-type: url`` and ``{"url"}``: an asynchronous job."""
    denied = check_key(ctx)
    if denied is not None:
        return denied
    if not ctx.params["tool"].endswith("-api"):
        return error(404, "NOT_FOUND", f"No tool {ctx.params['tool']!r}")
    if ctx.header(b"x-source-type") != "url":
        return error(400, "INVALID_REQUEST", "The simulator runs url jobs only: send x-source-type: url")
    try:
        body = await ctx.json()
    except ValueError:
        body = None
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return error(400, "INVALID_URL", "url is required: the source file's http(s) URL")
    plan, job = ctx.state.start_job(VENDOR)
    refused = start_fault(plan, fault_reply)
    if refused is not None or job is None:
        return refused or error(500, "INTERNAL_ERROR", "Failed to queue job")
    answer = {"job_id": job.id, "status": "queued", "message": "Your job has been queued.", "retry_after": 1}
    return json_reply(202, answer)


async def job_status(ctx: Ctx) -> Reply:
    denied = check_key(ctx)
    if denied is not None:
        return denied
    job = ctx.state.get_job(ctx.params["job_id"])
    if job is None or job.vendor != VENDOR:
        return error(404, "JOB_NOT_FOUND", "Job not found")
    obs = ctx.state.observe(job, ctx.advance)
    status = UNDOCUMENTED_STATUS if ctx.want_unknown_status() else None
    return json_reply(200, status_body(ctx.state, job, obs, status))


def routes(state: SimState) -> list[BaseRoute]:
    return vendor_routes(
        state,
        VENDOR,
        fault_reply,
        [
            ("POST", f"{PREFIX}/{{tool}}", "start", start),
            ("GET", f"{PREFIX}/jobs/{{job_id}}", "status", job_status),
            ("GET", f"{PREFIX}/status-api/{{job_id}}", "status_api", job_status),
        ],
    )


def clean_options(outcome: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "retry_after": check_int("retry_after", opts.get("retry_after", 1), 0),
        "error_code": check_str("error_code", opts.get("error_code", "INVALID_JSON")),
        "error_message": check_str("error_message", opts.get("error_message", "JSON validation failed.")),
    }


def add_ids(state: SimState, opts: dict[str, Any]) -> None:
    opts["request_id"] = state.random_uuid()


def json_result(job_id: str, index: int) -> tuple[str, str]:
    return f"apidatatools_convert_{job_id.replace('-', '')[:12]}.json", "application/json"


SIM = SimVendor(
    name=VENDOR,
    prefix=PREFIX,
    outcomes={"succeeded": "success", "failed": "failed"},
    phases=PHASES,
    undocumented_status=UNDOCUMENTED_STATUS,
    credentials={"api_key": "sim-apidatatools-key"},
    routes=routes,
    options=frozenset({"retry_after", "error_code", "error_message"}),
    clean_options=clean_options,
    add_ids=add_ids,
    result_file=json_result,
)
