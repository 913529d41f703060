"""PDF.co: ``x-api-key``, ``POST /v1/job/check {"jobid"}``; results are signed links on the files origin."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from starlette.routing import BaseRoute

from ..catalog import SimVendor
from ..checks import check_int, check_str
from ..faults import Fault
from ..http import Ctx, Reply, html_502, json_reply, vendor_routes
from ..state import Job, Observation, SimState
from ._util import iso_utc, pdf_result, retry_after_header, same, start_fault

VENDOR = "pdfco"
PREFIX = "/pdfco"
UNDOCUMENTED_STATUS = "paused"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def error(status: int, message: str) -> Reply:
    return json_reply(status, {"error": True, "status": status, "message": message})


def fault_reply(fault: Fault) -> Reply:
    if fault.kind == "html_error":
        return html_502()
    if fault.kind == "rate_429":
        reply = error(429, "Too many requests. Please slow down.")
        reply.headers.append(retry_after_header(fault.retry_after))
        return reply
    return error(fault.status, "Internal server error. Please try again later.")


def check_key(ctx: Ctx) -> Reply | None:
    key = ctx.header(b"x-api-key")
    if not key:
        return error(401, "Unauthorized: API key is missing (send it in the x-api-key header)")
    if not same(key, ctx.state.credentials[VENDOR]["api_key"]):
        return error(401, "Unauthorized: API key is invalid")
    return None


def status_body(state: SimState, job: Job, obs: Observation) -> dict[str, Any]:
    credits = int(job.opts["credits"])
    if not obs.terminal:
        return {"status": "working", "remainingCredits": state.pdfco_credits}
    if job.outcome == "succeeded":
        expires = job.link_expires()
        body: dict[str, Any] = {"status": "success", "message": "Success"}
        urls = [state.signed_url(rf, expires) for rf in job.results]
        if len(urls) == 1:
            body["url"] = urls[0]
        else:
            body["urls"] = urls
        body["outputLinkValidTill"] = iso_utc(expires)
        body["jobId"] = job.id
        body["credits"] = credits
        body["remainingCredits"] = state.pdfco_credits
        body["duration"] = int(((job.terminal_at or job.created) - job.created) * 1000)
        return body
    if job.outcome == "failed":
        return {
            "status": "failed",
            "message": job.opts["message"],
            "jobId": job.id,
            "credits": credits,
            "remainingCredits": state.pdfco_credits,
        }
    return {"status": "aborted", "jobId": job.id, "remainingCredits": state.pdfco_credits}


async def job_check(ctx: Ctx) -> Reply:
    denied = check_key(ctx)
    if denied is not None:
        return denied
    if ctx.scope["method"] == "POST":
        try:
            body = await ctx.json()
        except ValueError:
            return error(400, 'Bad request: the body must be JSON, e.g. {"jobid": "..."}')
        if not isinstance(body, dict):
            return error(400, "Bad request: the body must be a JSON object")
        job_id = body.get("jobid", body.get("jobId"))
        force = body.get("force", False) in (True, "true", "True", 1)
    else:  # the legacy form: GET /v1/job/check?jobid=...
        job_id = ctx.query("jobid") or ctx.query("jobId")
        force = (ctx.query("force") or "").lower() in ("true", "1")
    if not isinstance(job_id, str) or not job_id:
        return error(400, "Bad request: jobid is required")
    state = ctx.state
    job = state.get_job(job_id)
    if job is None or job.vendor != VENDOR:
        # "working: background job is currently in work or does not exist"
        return json_reply(
            200, {"status": "unknown" if force else "working", "remainingCredits": state.pdfco_credits}
        )
    obs = state.observe(job, ctx.advance)
    if ctx.want_unknown_status():
        return json_reply(200, {"status": UNDOCUMENTED_STATUS, "remainingCredits": state.pdfco_credits})
    return json_reply(200, status_body(state, job, obs))


async def start(ctx: Ctx) -> Reply:
    """Any ``POST /v1/...`` endpoint with ``"async": true``: a background job on its ``url``."""
    denied = check_key(ctx)
    if denied is not None:
        return denied
    try:
        body = await ctx.json()
    except ValueError:
        return error(400, "Bad request: the body must be JSON")
    if not isinstance(body, dict):
        return error(400, "Bad request: the body must be a JSON object")
    if body.get("async") is not True:
        return error(400, 'Bad request: the simulator runs background jobs only (send "async": true)')
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://", "cache:", "filetoken://")):
        return error(400, "Bad request: url is required (the input file's URL)")
    plan, job = ctx.state.start_job(VENDOR)
    if plan.get("fault") == "refuse_402":
        return error(402, "Not enough credits. Please top up your account.")
    if plan.get("fault") == "refuse_403":
        return error(403, "Access Denied: the input URL could not be accessed (forbidden)")
    refused = start_fault(plan, fault_reply)
    if refused is not None or job is None:
        return refused or error(500, "start refused")
    answer = {
        "error": False,
        "status": 200,
        "jobId": job.id,
        "url": f"{ctx.state.files_url}/pending/{job.id}",  # not usable until a check says success
        "credits": 0,
        "remainingCredits": ctx.state.pdfco_credits,
        "duration": 12,
    }
    return json_reply(200, answer)


def routes(state: SimState) -> list[BaseRoute]:
    return vendor_routes(
        state,
        VENDOR,
        fault_reply,
        [
            ("POST,GET", f"{PREFIX}/v1/job/check", "status", job_check),
            ("POST", f"{PREFIX}/v1/{{endpoint:path}}", "start", start),
        ],
    )


def new_job_id(rng: random.Random) -> str:
    head = "".join(rng.choice(ALPHABET) for _ in range(32))
    return f"{head}--{rng.randint(100, 999)}-{rng.randint(100, 999)}"


def clean_options(outcome: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "credits": check_int("credits", opts.get("credits", 2 if outcome == "succeeded" else 1), 0),
        "message": check_str("message", opts.get("message", "Input file is damaged")),
    }


def charge(state: SimState, job: Job) -> None:
    """A job that ends is charged its credits."""
    state.pdfco_credits -= int(job.opts.get("credits", 0))


SIM = SimVendor(
    name=VENDOR,
    prefix=PREFIX,
    outcomes={"succeeded": "success", "failed": "failed", "canceled": "aborted"},
    phases=("working",),
    undocumented_status=UNDOCUMENTED_STATUS,
    credentials={"api_key": "sim-pdfco-key"},
    routes=routes,
    max_results=50,
    options=frozenset({"credits", "message"}),
    clean_options=clean_options,
    new_job_id=new_job_id,
    result_file=pdf_result,
    on_finish=charge,
    start_refusals=frozenset({"refuse_402", "refuse_403"}),
)
