"""Alteryx Server API v3: OAuth2 client credentials, ``/v3/jobs/{id}``, ``/v1/jobs/{id}/output/{oid}``,
``/v3/workflows/{id}/jobs`` (a workflow's jobs, ``offset``/``limit`` paged, oldest first)."""

from __future__ import annotations

import base64
import binascii
import random
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.routing import BaseRoute

from ..catalog import SimVendor, random_hex
from ..checks import SimError, check_str
from ..faults import Fault
from ..http import Ctx, Reply, file_reply, html_502, json_reply, vendor_routes
from ..state import Job, Observation, SimState
from ._util import attachment, iso_utc, retry_after_header, same, start_fault, whole_seconds

VENDOR = "alteryx"
PREFIX = "/alteryx/webapi"
PHASES = ("Created", "Queued", "Running")
UNDOCUMENTED_STATUS = "Suspended"
FORMATS: frozenset[str] = frozenset(
    {"Raw", "Yxdb", "Shp", "Kml", "Tab", "Mif", "Dbf", "Csv", "Pdf", "Docx", "Xlsx", "Html", "Tde", "Zip"}
)

FORMAT_TYPES = {
    "Csv": "text/csv",
    "Raw": "application/octet-stream",
    "Pdf": "application/pdf",
    "Html": "text/html",
    "Zip": "application/zip",
    "Xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "Docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
INFO_MESSAGE = {"status": 1, "text": "Input Data (1): 10 records were read", "toolId": 1}
WARNING_MESSAGE = {
    "status": 2,
    "text": "Output Data (2): Field 'Amount' was truncated to 254 characters",
    "toolId": 2,
}


def message(status: int, text: str) -> Reply:
    return json_reply(status, {"message": text})


def fault_reply(fault: Fault) -> Reply:
    if fault.kind == "html_error":
        return html_502()
    if fault.kind == "rate_429":
        reply = message(429, "Too many requests.")
        reply.headers.append(retry_after_header(fault.retry_after))
        return reply
    return message(fault.status, "An error has occurred.")


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return json_reply(
        status, {"error": error, "error_description": description}, [(b"cache-control", b"no-store")]
    )


def _basic(ctx: Ctx) -> tuple[str, str] | None:
    value = ctx.header(b"authorization")
    if not value or value[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if sep else None


async def token(ctx: Ctx) -> Reply:
    form = {k: v[0] for k, v in parse_qs((await ctx.body()).decode("utf-8", "replace")).items()}
    grant = form.get("grant_type")
    if grant is None:
        return _oauth_error(400, "invalid_request", "grant_type is required.")
    if grant != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported.")
    presented = _basic(ctx)
    if presented is None and "client_id" in form:
        presented = (form["client_id"], form.get("client_secret", ""))
    if presented is None:
        return _oauth_error(401, "invalid_client", "Client credentials are missing.")
    creds = ctx.state.credentials[VENDOR]
    if not (same(presented[0], creds["client_id"]) and same(presented[1], creds["client_secret"])):
        return _oauth_error(401, "invalid_client", "Client authentication failed.")
    access, ttl = ctx.state.issue_token(VENDOR)
    body = {"access_token": access, "token_type": "bearer", "expires_in": whole_seconds(ttl)}
    return json_reply(200, body, [(b"cache-control", b"no-store")])


def _unauthorized() -> Reply:
    reply = message(401, "Authorization has been denied for this request.")
    reply.headers.append((b"www-authenticate", b"Bearer"))
    return reply


def _outputs(job: Job, obs: Observation) -> list[dict[str, Any]]:
    if not obs.terminal or job.outcome != "succeeded":
        return []
    formats = job.opts["formats"]
    return [
        {"id": f"O{rf.index + 1}", "availableFormats": list(formats), "fileName": rf.name}
        for rf in job.results
    ]


def job_body(job: Job, obs: Observation, include_messages: bool, status: str | None = None) -> dict[str, Any]:
    if not obs.terminal:
        raw, disposition, messages = PHASES[obs.phase], "", []
    elif job.outcome == "succeeded":
        raw, disposition = "Completed", job.opts["disposition"]
        messages = [INFO_MESSAGE] + ([WARNING_MESSAGE] if disposition == "Warning" else [])
    elif job.outcome == "failed":
        raw, disposition = "Completed", job.opts["disposition"]
        messages = [INFO_MESSAGE, {"status": 3, "text": job.opts["error_message"], "toolId": 3}]
    else:
        raw, disposition = "Cancelled", "Cancelled"
        messages = [INFO_MESSAGE, {"status": 1, "text": "The job was cancelled.", "toolId": 0}]
    body: dict[str, Any] = {
        "id": job.id,
        "appId": job.opts["app_id"],
        "createDateTime": iso_utc(job.created, millis=True),
        "status": status or raw,
        "disposition": disposition,
        "outputs": _outputs(job, obs),
    }
    if include_messages:
        body["messages"] = [dict(m) for m in messages]
    body.update({"priority": "Default", "workerTag": "", "runWithE2": True})
    return body


def _lookup(ctx: Ctx) -> Job | Reply:
    if not ctx.state.token_ok(VENDOR, ctx.bearer()):
        return _unauthorized()
    job = ctx.state.get_job(ctx.params["job_id"])
    if job is None or job.vendor != VENDOR:
        return message(404, f"Job {ctx.params['job_id']} was not found.")
    return job


async def job_status(ctx: Ctx) -> Reply:
    job = _lookup(ctx)
    if isinstance(job, Reply):
        return job
    obs = ctx.state.observe(job, ctx.advance)
    include = (ctx.query("includeMessages") or "true").lower() != "false"
    status = UNDOCUMENTED_STATUS if ctx.want_unknown_status() else None
    return json_reply(200, job_body(job, obs, include, status))


def _listed_status(job: Job, obs: Observation) -> str:
    if not obs.terminal:
        return PHASES[obs.phase]
    return "Cancelled" if job.outcome == "canceled" else "Completed"


def _page_param(ctx: Ctx, name: str, default: int) -> int | Reply:
    text = ctx.query(name)
    if text is None or text == "":
        return default
    if not text.isdigit():
        return message(400, f"The {name} parameter must be a non-negative integer.")
    return int(text)


async def workflow_jobs(ctx: Ctx) -> Reply:
    """``WorkflowJobView`` objects: no disposition, as on the real server."""
    if not ctx.state.token_ok(VENDOR, ctx.bearer()):
        return _unauthorized()
    offset = _page_param(ctx, "offset", 0)
    limit = _page_param(ctx, "limit", 20)
    if isinstance(offset, Reply):
        return offset
    if isinstance(limit, Reply):
        return limit
    jobs = ctx.state.workflow_jobs(ctx.params["workflow_id"])[offset : offset + limit]
    views = [
        {
            "id": job.id,
            "createDate": iso_utc(job.created, millis=True),
            "status": _listed_status(job, ctx.state.observe(job, advance=False)),
            "priority": "Default",
            "workerTag": "",
            "runWithE2": True,
        }
        for job in jobs
    ]
    return json_reply(200, views)


async def job_output(ctx: Ctx) -> Reply:
    job = _lookup(ctx)
    if isinstance(job, Reply):
        return job
    output_id = ctx.params["output_id"]
    obs = ctx.state.observe(job, advance=False)
    outputs = {o["id"]: o for o in _outputs(job, obs)}
    if job.expired or output_id not in outputs:
        return message(404, f"Output {output_id} of job {job.id} was not found.")
    available = outputs[output_id]["availableFormats"]
    fmt = ctx.query("format")
    if not fmt:
        return message(400, f"The format parameter is required. Available formats: {', '.join(available)}.")
    if fmt not in available:
        return message(
            400, f"Format {fmt!r} is not available for output {output_id}. Available: {', '.join(available)}."
        )
    rf = job.results[int(output_id[1:]) - 1]
    reply = file_reply(rf, [attachment(rf.name)], ctx.header(b"range"))
    reply.content_type = FORMAT_TYPES.get(fmt, "application/octet-stream")
    return reply


PRIORITIES = ("Default", "Low", "Medium", "High", "Critical")


async def start(ctx: Ctx) -> Reply:
    """``POST /v3/workflows/{id}/jobs`` with an ``EnqueueJobContract``; answers the ``JobView``."""
    if not ctx.state.token_ok(VENDOR, ctx.bearer()):
        return _unauthorized()
    try:
        body = await ctx.json()
    except ValueError:
        return message(400, "The request is invalid: the body must be JSON.")
    if not isinstance(body, dict):
        return message(400, "The request is invalid: the body must be an EnqueueJobContract object.")
    questions = body.get("questions", [])
    if not isinstance(questions, list) or any(
        not isinstance(q, dict) or not isinstance(q.get("name"), str) or not isinstance(q.get("value"), str)
        for q in questions
    ):
        return message(400, "The request is invalid: questions must be [{name, value}] with text values.")
    if body.get("priority", "Default") not in PRIORITIES:
        return message(400, f"The request is invalid: priority must be one of {', '.join(PRIORITIES)}.")
    if ctx.params["workflow_id"] == "missing":
        return message(404, f"Workflow {ctx.params['workflow_id']} was not found.")
    # the job joins its workflow's job listing (what the asset watcher reads)
    plan, job = ctx.state.start_job(VENDOR, workflow_id=ctx.params["workflow_id"])
    refused = start_fault(plan, fault_reply)
    if refused is not None or job is None:
        return refused or message(500, "An error has occurred.")
    return json_reply(200, job_body(job, ctx.state.observe(job, advance=False), False))


async def cancel(ctx: Ctx) -> Reply:
    """``DELETE /v3/jobs/{id}``: a job that has not ended is cancelled."""
    job = _lookup(ctx)
    if isinstance(job, Reply):
        return job
    if not ctx.state.cancel(job):
        return message(400, f"Job {job.id} has already finished and cannot be cancelled.")
    return json_reply(200, job_body(job, ctx.state.observe(job, advance=False), False))


def routes(state: SimState) -> list[BaseRoute]:
    return vendor_routes(
        state,
        VENDOR,
        fault_reply,
        [
            ("POST", f"{PREFIX}/v3/workflows/{{workflow_id}}/jobs", "start", start),
            ("DELETE", f"{PREFIX}/v3/jobs/{{job_id}}", "cancel", cancel),
            ("POST", f"{PREFIX}/oauth2/token", "token", token),
            ("GET", f"{PREFIX}/v3/jobs/{{job_id}}", "status", job_status),
            ("GET", f"{PREFIX}/v3/workflows/{{workflow_id}}/jobs", "workflow_jobs", workflow_jobs),
            ("GET", f"{PREFIX}/v1/jobs/{{job_id}}/output/{{output_id}}", "output", job_output),
        ],
    )


def clean_options(outcome: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    default = {"succeeded": "Success", "failed": "Error", "canceled": "Cancelled"}[outcome]
    disposition = check_str("disposition", opts.get("disposition", default))
    if outcome == "succeeded" and disposition not in ("Success", "Warning"):
        raise SimError(
            400, f"a succeeded Alteryx job has disposition Success or Warning, not {disposition!r}"
        )
    if outcome == "failed" and disposition in ("Success", "Warning", "Cancelled"):
        raise SimError(400, f"a failed Alteryx job cannot have disposition {disposition!r}")
    if outcome == "canceled" and disposition != "Cancelled":
        raise SimError(400, f"a canceled Alteryx job has disposition Cancelled, not {disposition!r}")
    clean: dict[str, Any] = {"disposition": disposition}
    if "workflow_id" in opts:
        clean["workflow_id"] = check_str("workflow_id", opts["workflow_id"])
    formats = opts.get("formats", ["Raw", "Csv"])
    if (
        not isinstance(formats, list)
        or not formats
        or any(not isinstance(f, str) or f not in FORMATS for f in formats)
    ):
        raise SimError(400, f"formats must be a non-empty list from {sorted(FORMATS)}")
    clean["formats"] = list(formats)
    clean["error_message"] = check_str(
        "error_message",
        opts.get("error_message", 'Formula (3): Parse Error at char(0): Unknown variable "Amount"'),
    )
    return clean


def add_ids(state: SimState, opts: dict[str, Any]) -> None:
    opts["app_id"] = state.random_hex(24)
    opts.setdefault("workflow_id", opts["app_id"])


def new_job_id(rng: random.Random) -> str:
    return random_hex(rng, 24)


def csv_result(job_id: str, index: int) -> tuple[str, str]:
    return ("output.csv" if index == 0 else f"output_{index + 1}.csv"), "text/csv"


SIM = SimVendor(
    name=VENDOR,
    prefix=PREFIX,
    outcomes={"succeeded": "Completed/Success", "failed": "Completed/Error", "canceled": "Cancelled"},
    phases=PHASES,
    undocumented_status=UNDOCUMENTED_STATUS,
    credentials={"client_id": "sim-alteryx-client", "client_secret": "sim-alteryx-secret"},
    routes=routes,
    max_results=50,
    options=frozenset({"disposition", "formats", "error_message", "workflow_id"}),
    clean_options=clean_options,
    add_ids=add_ids,
    new_job_id=new_job_id,
    result_file=csv_result,
)
