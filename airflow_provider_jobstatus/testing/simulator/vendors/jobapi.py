"""The declared API (``jobapi``): whatever the served profile declares (:mod:`..declared`).

One catch-all route under ``/jobapi`` matches a request to the profile's start, status, cancel
and ``url_template`` download paths at request time (the profile may change while serving); each
is its own route for faults and the request log (``jobapi.status`` ...).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from starlette.routing import BaseRoute, Route

from ..catalog import SimVendor
from ..checks import check_int, check_str
from ..declared import Declared, plant
from ..faults import Fault
from ..http import (
    ROUTE_FAULTS,
    STATUS_FAULTS,
    Ctx,
    Receive,
    Reply,
    Scope,
    Send,
    VendorEndpoint,
    file_reply,
    html_502,
    json_reply,
    send_reply,
)
from ..state import Job, SimState
from ._util import retry_after_header, same, start_fault

VENDOR = "jobapi"
PREFIX = "/jobapi"
UNDOCUMENTED_STATUS = "sim-undocumented"
_FIELD = re.compile(r"\{([^{}]+)\}")


def error(declared: Declared, status: int, text: str) -> Reply:
    """An error answer that carries ``text`` where the profile reads messages."""
    body = plant({}, declared.message, text) if declared.message else {"error": text}
    return json_reply(status, body)


def fault_reply(fault: Fault) -> Reply:
    if fault.kind == "html_error":
        return html_502()
    if fault.kind == "rate_429":
        reply = json_reply(429, {"error": "Too many requests"})
        reply.headers.append(retry_after_header(fault.retry_after))
        return reply
    return json_reply(fault.status, {"error": "Internal server error"})


def check_auth(ctx: Ctx, declared: Declared) -> Reply | None:
    auth = declared.api.profile.auth
    creds = ctx.state.credentials[VENDOR]
    secret, login = creds["client_secret"], creds["client_id"]
    if auth.scheme == "none":
        return None
    if auth.scheme == "bearer":
        given, expected = ctx.bearer(), secret
    elif auth.scheme == "basic":
        given = ctx.header(b"authorization")
        expected = "Basic " + base64.b64encode(f"{login}:{secret}".encode()).decode()
    else:
        given, expected = ctx.header((auth.header or "").lower().encode()), auth.prefix + secret
    if not same(given, expected):
        return error(declared, 401, "invalid credentials")
    return None


def _template_regex(template: str) -> re.Pattern[str]:
    parts = _FIELD.split(template)  # text, name, text, name, ...
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(pattern)


def status_body(state: SimState, declared: Declared, job: Job, advance: bool, unknown: bool) -> Reply:
    obs = state.observe(job, advance)
    if declared.api.profile.status.not_found == "running" and not obs.terminal and not unknown:
        return error(declared, 404, "not ready")
    if unknown:
        raw = UNDOCUMENTED_STATUS
    elif obs.terminal:
        raw = declared.raw_state(job.outcome)
    else:
        raw = declared.raw_state(("queued", "running")[min(obs.phase, 1)])
    body = plant({}, declared.state, raw)
    if obs.terminal and job.outcome == "failed" and declared.message:
        plant(body, declared.message, job.opts["error_message"])
    if declared.retry_after and "retry_after" in job.opts:
        plant(body, declared.retry_after, job.opts["retry_after"])
    if obs.terminal and job.outcome == "succeeded" and declared.files is not None:
        plant(body, declared.files, _outputs(state, declared, job))
    return json_reply(200, body)


def _outputs(state: SimState, declared: Declared, job: Job) -> Any:
    """The results in the shape the profile reads: objects, or a list of signed URLs."""
    results = declared.api.profile.results
    expires = job.link_expires()
    if results is None or (results.url is None and results.url_template is None):
        return [state.signed_url(rf, expires) for rf in job.results]
    outputs: list[dict[str, Any]] = []
    for rf in job.results:
        item: dict[str, Any] = {}
        if declared.url:
            plant(item, declared.url, state.signed_url(rf, expires))
        for name in _FIELD.findall(results.url_template or ""):
            item[name] = f"{job.id}.{rf.index}"
        if declared.name:
            plant(item, declared.name, rf.name)
        if declared.size:
            plant(item, declared.size, rf.size)
        outputs.append(item)
    return outputs


class DeclaredApi:
    """The ASGI app under ``/jobapi``: finds the route the profile declares for the request."""

    def __init__(self, state: SimState) -> None:
        self.state = state

        def endpoint(route: str, handler: Any) -> VendorEndpoint:
            faults = STATUS_FAULTS if route == "status" else ROUTE_FAULTS
            return VendorEndpoint(state, VENDOR, route, handler, fault_reply, faults)

        self.endpoints = {
            "start": endpoint("start", self.start),
            "status": endpoint("status", self.status),
            "cancel": endpoint("cancel", self.cancel),
            "download": endpoint("download", self.download),
        }

    def _routes(self, declared: Declared) -> list[tuple[str, str, str]]:
        p = declared.api.profile
        table: list[tuple[str, str, str]] = [(p.status.method, p.status.path, "status")]
        if p.start is not None:
            table.append((p.start.method, p.start.path, "start"))
        if p.cancel is not None:
            table.append((p.cancel.method, p.cancel.path, "cancel"))
        if p.results is not None and p.results.url_template is not None:
            table.append(("GET", p.results.url_template, "download"))
        return table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = self.state.declared
        path = scope["path"].removeprefix(PREFIX)
        for method, template, route in self._routes(declared):
            match = _template_regex(template).fullmatch(path)
            if match and scope["method"] in (method, "HEAD" if method == "GET" else method):
                scope["path_params"] = match.groupdict()
                await self.endpoints[route](scope, receive, send)
                return
        await send_reply(scope, send, error(declared, 404, f"no route {scope['method']} {path}"), None)

    async def start(self, ctx: Ctx) -> Reply:
        declared = ctx.state.declared
        denied = check_auth(ctx, declared)
        if denied is not None:
            return denied
        plan, job = ctx.state.start_job(VENDOR)
        refused = start_fault(plan, fault_reply)
        if refused is not None or job is None:
            return refused or error(declared, 500, "could not start the job")
        return json_reply(201, plant({}, declared.job_id or ["id"], job.id))

    def _job(self, ctx: Ctx, declared: Declared) -> Job | Reply:
        """The job a status or cancel call names, or the refusal to answer instead."""
        denied = check_auth(ctx, declared)
        if denied is not None:
            return denied
        job = ctx.state.get_job(ctx.params["job_id"])
        if job is None or job.vendor != VENDOR:
            return error(declared, 404, "job not found")
        return job

    async def status(self, ctx: Ctx) -> Reply:
        declared = ctx.state.declared
        job = self._job(ctx, declared)
        if not isinstance(job, Job):
            return job
        return status_body(ctx.state, declared, job, ctx.advance, ctx.want_unknown_status())

    async def cancel(self, ctx: Ctx) -> Reply:
        declared = ctx.state.declared
        job = self._job(ctx, declared)
        if not isinstance(job, Job):
            return job
        if not ctx.state.cancel(job):
            return error(declared, 409, "the job has already ended")
        return json_reply(200, plant({}, declared.state, declared.raw_state("canceled")))

    async def download(self, ctx: Ctx) -> Reply:
        """A ``url_template`` result: on the API's own origin, behind its auth."""
        declared = ctx.state.declared
        denied = check_auth(ctx, declared)
        if denied is not None:
            return denied
        job_id, _, index = next(iter(ctx.params.values()), "").rpartition(".")
        job = ctx.state.get_job(job_id)
        if job is None or job.vendor != VENDOR or not index.isdigit() or int(index) >= len(job.results):
            return error(declared, 404, "no such output")
        return file_reply(job.results[int(index)], range_header=ctx.header(b"range"))


def routes(state: SimState) -> list[BaseRoute]:
    app = DeclaredApi(state)
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return [Route(PREFIX + "/{rest:path}", app, methods=methods)]


def clean_options(outcome: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {
        "error_message": check_str("error_message", opts.get("error_message", "the simulated job failed"))
    }
    if "retry_after" in opts:
        clean["retry_after"] = check_int("retry_after", opts["retry_after"], 0)
    return clean


def text_result(job_id: str, index: int) -> tuple[str, str]:
    return ("output.txt" if index == 0 else f"output-{index + 1}.txt"), "text/plain"


SIM = SimVendor(
    name=VENDOR,
    prefix=PREFIX,
    # the profile says the raw words; these are the states (the answers use the profile's first)
    outcomes={"succeeded": "succeeded", "failed": "failed", "canceled": "canceled"},
    phases=("queued", "running"),
    undocumented_status=UNDOCUMENTED_STATUS,
    # login and secret: the profile's auth scheme says which it checks, and how
    credentials={"client_id": "sim-jobapi-user", "client_secret": "sim-jobapi-secret"},
    routes=routes,
    max_results=50,
    options=frozenset({"error_message", "retry_after"}),
    clean_options=clean_options,
    result_file=text_result,
    connection_extras=lambda state: {"profile": state.declared.profile},
)
