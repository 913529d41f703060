"""Nitro PDF Services: JSON-body token endpoint, ``/jobs/{id}/status``, ``/jobs/{id}`` result."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from ..catalog import SimVendor
from ..checks import SimError, check_int
from ..faults import Fault
from ..http import Ctx, Reply, file_reply, html_502, json_reply, vendor_routes
from ..state import Job, Observation, SimState
from ._util import attachment, pdf_result, retry_after_header, same, start_fault, whole_seconds

VENDOR = "nitro"
PREFIX = "/nitro"
ERRORS_DOC = "https://developers.gonitro.com/docs/build-nitro/errors"
UNDOCUMENTED_STATUS = "suspended"
ERROR_TYPES: Mapping[str, str] = {
    "ConversionFailed": "Conversion failed",
    "BrokenDownloadURL": "Broken download URL",
    "PDFIsPasswordProtected": "PDF is password protected",
}


def problem(ctx: Ctx | None, status: int, title: str, detail: str, type_: str | None = None) -> Reply:
    """An RFC 7807 problem-details body, as Nitro's API answers errors."""
    instance = ctx.path[len(PREFIX) :] if ctx is not None else "/"
    slug = title.lower().replace(" ", "-")
    body = {
        "type": type_ or f"{ERRORS_DOC}#{status}-{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    return json_reply(status, body)


def fault_reply(fault: Fault) -> Reply:
    if fault.kind == "html_error":
        return html_502()
    if fault.kind == "rate_429":
        reply = problem(
            None, 429, "Too Many Requests", f"Rate limit exceeded. Retry after {fault.retry_after} s."
        )
        reply.headers.append(retry_after_header(fault.retry_after))
        return reply
    title = "Service Unavailable" if fault.status == 503 else "Internal Server Error"
    return problem(None, fault.status, title, "An unexpected error occurred. Try again later.")


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return json_reply(
        status, {"error": error, "error_description": description}, [(b"cache-control", b"no-store")]
    )


async def token(ctx: Ctx) -> Reply:
    try:
        body = await ctx.json()
    except ValueError:
        return _oauth_error(
            400, "invalid_request", "The request body must be JSON: {clientID, clientSecret}."
        )
    if not isinstance(body, dict) or not isinstance(body.get("clientID"), str) or "clientSecret" not in body:
        return _oauth_error(400, "invalid_request", "clientID and clientSecret are required.")
    creds = ctx.state.credentials[VENDOR]
    secret = body.get("clientSecret")
    if not (
        same(body["clientID"], creds["client_id"])
        and isinstance(secret, str)
        and same(secret, creds["client_secret"])
    ):
        return _oauth_error(
            401, "invalid_client", "Client authentication failed: unknown clientID or wrong clientSecret."
        )
    access, ttl = ctx.state.issue_token(VENDOR)
    expires = whole_seconds(ttl)
    if ctx.state.config["nitro_token_style"] == "snake":
        answer: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": expires}
    else:
        answer = {"accessToken": access, "tokenType": "Bearer", "expiresIn": expires}
    return json_reply(200, answer, [(b"cache-control", b"no-store")])


def _unauthorized(ctx: Ctx) -> Reply:
    detail = (
        "Missing bearer token." if ctx.bearer() is None else "The access token is invalid or has expired."
    )
    reply = problem(ctx, 401, "Unauthorized", detail)
    reply.headers.append((b"www-authenticate", b'Bearer error="invalid_token"'))
    return reply


def _not_found(ctx: Ctx) -> Reply:
    return problem(ctx, 404, "Not Found", "Resource not found")


def _gone(ctx: Ctx) -> Reply:
    return problem(
        ctx,
        410,
        "File no longer available",
        "The file is no longer available. Resubmit the original request.",
        "FileNoLongerAvailable",
    )


def _file_info(state: SimState, job: Job, expires: int, index: int) -> dict[str, Any]:
    rf = job.results[index]
    pages = job.opts.get("page_count", 1 + rf.size // 65536)
    return {
        "URL": state.signed_url(rf, expires),
        "contentType": rf.content_type,
        "metadata": {"fileSizeBytes": rf.size, "pageCount": pages},
    }


def status_body(state: SimState, job: Job, obs: Observation) -> dict[str, Any]:
    if not obs.terminal:
        return {"jobID": job.id, "status": "running", "progress": round(obs.fraction, 3)}
    if job.outcome == "succeeded":
        expires = job.link_expires()
        if len(job.results) == 1:
            result: dict[str, Any] = {"file": _file_info(state, job, expires, 0)}
        else:
            result = {"files": [_file_info(state, job, expires, i) for i in range(len(job.results))]}
        return {"jobID": job.id, "status": "completed", "result": result}
    if job.outcome == "failed":
        kind = job.opts["error_type"]
        return {
            "jobID": job.id,
            "status": "failed",
            "error": {"type": kind, "title": ERROR_TYPES[kind]},
        }
    return {"jobID": job.id, "status": "canceled"}


def _lookup(ctx: Ctx) -> Job | Reply:
    if not ctx.state.token_ok(VENDOR, ctx.bearer()):
        return _unauthorized(ctx)
    job = ctx.state.get_job(ctx.params["job_id"])
    if job is None or job.vendor != VENDOR:
        return _not_found(ctx)
    if job.expired:
        return _gone(ctx)
    return job


async def job_status(ctx: Ctx) -> Reply:
    job = _lookup(ctx)
    if isinstance(job, Reply):
        return job
    obs = ctx.state.observe(job, ctx.advance)
    if ctx.want_unknown_status():
        return json_reply(200, {"jobID": job.id, "status": UNDOCUMENTED_STATUS, "progress": 0.5})
    return json_reply(200, status_body(ctx.state, job, obs))


async def job_result(ctx: Ctx) -> Reply:
    job = _lookup(ctx)
    if isinstance(job, Reply):
        return job
    obs = ctx.state.observe(job, advance=False)
    if not obs.terminal:
        return _not_found(ctx)  # Nitro: "If the job is still running, the endpoint returns a 404"
    accept = ctx.header(b"accept") or "*/*"
    if "application/octet-stream" in accept:
        if job.outcome != "succeeded":
            word = "failed" if job.outcome == "failed" else "was canceled"
            return problem(ctx, 422, "Unprocessable Entity", f"The job {word}; it has no result file.")
        if len(job.results) > 1:
            return problem(
                ctx,
                406,
                "Not Acceptable",
                f"The job has {len(job.results)} result files; fetch them from result.files[].URL.",
            )
        rf = job.results[0]
        return file_reply(rf, [attachment(rf.name)], ctx.header(b"range"))
    return json_reply(200, status_body(ctx.state, job, obs))


#: the tools each start endpoint takes (REFERENCE.md, "Starting jobs")
TOOLS = {
    "conversions": {"imgtopdf", "misctopdf", "mstopdf", "pdfa", "pdftoimg", "pdftoms"},
    "transformations": {
        "compress", "delete", "flatten", "merge", "ocr", "optimize", "protect", "redact", "rotate",
        "set-properties", "split", "unprotect", "watermark",
    },
    "extractions": {
        "extract-fillable-form-data", "extract-invoices", "forms", "get-properties", "pii",
        "smart-detect-form-fields", "tables", "text", "text-box",
    },
    "generations": {"create-fillable-forms", "fill-forms"},
}  # fmt: skip


async def start(ctx: Ctx) -> Reply:
    """``POST /{operation}`` multipart: ``method``, ``params`` (JSON), ``file`` or ``files`` parts."""
    if not ctx.state.token_ok(VENDOR, ctx.bearer()):
        return _unauthorized(ctx)
    operation = ctx.path[len(PREFIX) + 1 :]
    if "respond-async" not in (ctx.header(b"prefer") or ""):
        return problem(
            ctx,
            400,
            "Bad Request",
            "The simulator runs jobs asynchronously only: send Prefer: respond-async.",
        )
    try:
        form = await Request(ctx.scope, ctx.receive).form()
    except Exception as exc:  # an unparsable body is the client's fault
        return problem(ctx, 400, "Bad Request", f"The body must be multipart/form-data: {exc}")
    method = form.get("method")
    if not isinstance(method, str) or method not in TOOLS[operation]:
        return problem(
            ctx, 400, "Bad Request", f"method must be one of {sorted(TOOLS[operation])}, got {method!r}"
        )
    try:
        params = json.loads(str(form.get("params") or "{}"))
    except ValueError:
        params = None
    if not isinstance(params, dict):
        return problem(ctx, 400, "Bad Request", "params must be a JSON object")
    inputs = form.getlist("file") + form.getlist("files")
    if not inputs:
        return problem(ctx, 400, "Bad Request", "A file or files part is required.")
    for item in inputs:
        if isinstance(item, str):
            return problem(ctx, 400, "Bad Request", "file parts must be files or URL parts")
        body = await item.read()
        if item.content_type == "application/vnd.gonitro.url+json":
            try:
                url = json.loads(body).get("URL")
            except (ValueError, AttributeError):
                url = None
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                return problem(
                    ctx, 400, "Broken download URL", 'The URL part must be {"URL": "https://..."}.'
                )
        elif not body:
            return problem(ctx, 400, "Bad Request", f"The file part {item.filename!r} is empty.")
    plan, job = ctx.state.start_job(VENDOR)
    refused = start_fault(plan, fault_reply)
    if refused is not None or job is None:
        return refused or problem(ctx, 500, "Internal Server Error", "start refused")
    return json_reply(200, {"jobID": job.id, "status": "running", "progress": 0})


def routes(state: SimState) -> list[BaseRoute]:
    return vendor_routes(
        state,
        VENDOR,
        fault_reply,
        [
            ("POST", f"{PREFIX}/oauth/token", "token", token),
            *(("POST", f"{PREFIX}/{operation}", "start", start) for operation in TOOLS),
            ("GET", f"{PREFIX}/jobs/{{job_id}}/status", "status", job_status),
            ("GET", f"{PREFIX}/jobs/{{job_id}}", "result", job_result),
        ],
    )


def jwt(state: SimState, mac: bytes, n: int) -> str:
    """Nitro's access tokens are JWTs: the simulator signs its claims with the token's MAC."""
    claims = json.dumps({"sub": state.credentials[VENDOR]["client_id"], "jti": n}).encode()
    return ".".join(
        base64.urlsafe_b64encode(part).rstrip(b"=").decode()
        for part in (b'{"alg":"HS256","typ":"JWT"}', claims, mac)
    )


def clean_options(outcome: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    error_type = opts.get("error_type", "ConversionFailed")
    if error_type not in ERROR_TYPES:
        raise SimError(400, f"error_type must be one of {sorted(ERROR_TYPES)}, got {error_type!r}")
    clean: dict[str, Any] = {"error_type": error_type}
    if "page_count" in opts:
        clean["page_count"] = check_int("page_count", opts["page_count"], 0)
    return clean


SIM = SimVendor(
    name=VENDOR,
    prefix=PREFIX,
    outcomes={"succeeded": "completed", "failed": "failed", "canceled": "canceled"},
    phases=("running",),
    undocumented_status=UNDOCUMENTED_STATUS,
    credentials={"client_id": "sim-nitro-client", "client_secret": "sim-nitro-secret"},
    routes=routes,
    max_results=50,
    options=frozenset({"error_type", "page_count"}),
    clean_options=clean_options,
    result_file=pdf_result,
    token_shape=jwt,
)
