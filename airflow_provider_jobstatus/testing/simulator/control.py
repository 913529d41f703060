"""The control API (``/_sim/...`` on the API origin): jobs, batches, finishing held jobs, faults,
config, request log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Route

from .checks import SimError
from .faults import FaultSpec
from .http import ControlEndpoint, Ctx, Reply, dumps, json_reply
from .state import SimState

BASE = "/_sim"


async def _object(ctx: Ctx) -> dict[str, Any]:
    raw = await ctx.body()
    if not raw.strip():
        return {}
    try:
        body = await ctx.json()
    except ValueError:
        raise SimError(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise SimError(400, "the body must be a JSON object")
    return body


def routes(state: SimState, info: Callable[[], dict[str, Any]]) -> list[BaseRoute]:
    async def index(ctx: Ctx) -> Reply:
        return json_reply(200, info())

    async def create_job(ctx: Ctx) -> Reply:
        body = await _object(ctx)
        if "vendor" not in body:
            raise SimError(400, "vendor is required")
        return json_reply(201, await asyncio.to_thread(state.create_job, **body))

    async def create_batch(ctx: Ctx) -> Reply:
        body = await _object(ctx)
        if "jobs" not in body:
            raise SimError(400, "jobs (the number of jobs) is required")
        body.pop("vendor", None)
        return json_reply(201, await asyncio.to_thread(state.create_batch, **body))

    async def job(ctx: Ctx) -> Reply:
        return json_reply(200, state.job_info(ctx.params["job_id"]))

    async def expire(ctx: Ctx) -> Reply:
        state.expire(ctx.params["job_id"])
        return json_reply(200, {"job_id": ctx.params["job_id"], "expired": True})

    async def finish(ctx: Ctx) -> Reply:
        body = await _object(ctx)
        unknown = set(body) - {"workflow_id", "batch_id", "job_ids", "count"}
        if unknown:
            raise SimError(
                400, f"unknown keys {sorted(unknown)}; known: workflow_id, batch_id, job_ids, count"
            )
        return json_reply(200, state.finish(**body))

    async def faults(ctx: Ctx) -> Reply:
        method = ctx.scope["method"]
        if method == "POST":
            body = await _object(ctx)
            vendor = body.get("vendor")
            if not isinstance(vendor, str):
                raise SimError(400, "vendor is required: a vendor name or '*'")
            try:
                touched = state.faults.set(vendor, FaultSpec.from_dict(body))
            except ValueError as exc:
                raise SimError(400, str(exc)) from None
            return json_reply(200, {"vendors": touched, "faults": state.faults.snapshot()})
        if method == "DELETE":
            try:
                state.faults.clear(ctx.query("vendor"))
            except ValueError as exc:
                raise SimError(400, str(exc)) from None
        return json_reply(200, {"faults": state.faults.snapshot()})

    async def requests(ctx: Ctx) -> Reply:
        if ctx.scope["method"] == "DELETE":
            state.clear_requests()
            return json_reply(200, {"cleared": True})
        limit_text = ctx.query("limit")
        try:
            limit = int(limit_text) if limit_text else None
        except ValueError:
            raise SimError(400, "limit must be an integer") from None
        include_log = (ctx.query("log") or "1").lower() not in ("0", "false", "no")
        if not include_log:
            return json_reply(200, state.requests_snapshot(limit, include_log))
        # up to 10,000 entries: render off the event loop so polling clients are not held up
        body = await asyncio.to_thread(lambda: dumps(state.requests_snapshot(limit, include_log)))
        return Reply(200, body)

    async def starts(ctx: Ctx) -> Reply:
        if ctx.scope["method"] == "POST":
            body = await _object(ctx)
            try:
                queued = state.starts.plan(body.get("vendor"), body.get("plans"))  # type: ignore[arg-type]
            except ValueError as exc:
                raise SimError(400, str(exc)) from None
            return json_reply(200, {"queued": queued, **state.starts.snapshot()})
        return json_reply(200, state.starts.snapshot())

    async def config(ctx: Ctx) -> Reply:
        if ctx.scope["method"] == "POST":
            return json_reply(200, state.configure(**await _object(ctx)))
        return json_reply(200, dict(state.config))

    async def expire_tokens(ctx: Ctx) -> Reply:
        return json_reply(200, {"expired": state.expire_tokens()})

    async def reset(ctx: Ctx) -> Reply:
        state.reset()
        return json_reply(200, {"reset": True})

    def ep(handler: Any) -> ControlEndpoint:
        return ControlEndpoint(state, handler)

    return [
        Route(BASE, ep(index), methods=["GET"]),
        Route(f"{BASE}/jobs", ep(create_job), methods=["POST"]),
        Route(f"{BASE}/jobs/{{job_id}}", ep(job), methods=["GET"]),
        Route(f"{BASE}/jobs/{{job_id}}/expire", ep(expire), methods=["POST"]),
        Route(f"{BASE}/batches", ep(create_batch), methods=["POST"]),
        Route(f"{BASE}/finish", ep(finish), methods=["POST"]),
        Route(f"{BASE}/faults", ep(faults), methods=["GET", "POST", "DELETE"]),
        Route(f"{BASE}/requests", ep(requests), methods=["GET", "DELETE"]),
        Route(f"{BASE}/starts", ep(starts), methods=["GET", "POST"]),
        Route(f"{BASE}/config", ep(config), methods=["GET", "POST"]),
        Route(f"{BASE}/tokens/expire", ep(expire_tokens), methods=["POST"]),
        Route(f"{BASE}/reset", ep(reset), methods=["POST"]),
    ]
