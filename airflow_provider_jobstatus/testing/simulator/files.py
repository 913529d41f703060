"""The files origin: a second server (like S3) that serves signed URLs and nothing else.

``GET /files/<token>?X-Sim-Expires=<epoch>&X-Sim-Signature=<hmac>``. Requests carrying credentials
(``Authorization``, ``x-api-key``), unsigned (private) URLs, bad signatures and expired links get a
403 with an S3-style XML ``AccessDenied`` body.
"""

from __future__ import annotations

import itertools
import time
from xml.sax.saxutils import escape

from .faults import Fault
from .http import (
    Ctx,
    Receive,
    Recorder,
    Reply,
    Scope,
    Send,
    auth_header_names,
    drop_connection,
    file_reply,
    html_502,
    send_reply,
    slow_down,
)
from .state import SimState

FILES_FAULTS = frozenset({"error_5xx", "rate_429", "reset", "slow", "html_error", "truncate"})
_request_ids = itertools.count(1)


def s3_error(status: int, code: str, message: str, *extra: tuple[str, str]) -> Reply:
    request_id = f"SIM{next(_request_ids):013X}"
    parts = [f"<Code>{code}</Code>", f"<Message>{escape(message)}</Message>"]
    parts += [f"<{name}>{escape(value)}</{name}>" for name, value in extra]
    parts += [f"<RequestId>{request_id}</RequestId>", "<HostId>jobstatus-simulator</HostId>"]
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>"
    return Reply(
        status, body.encode(), "application/xml", [(b"x-amz-request-id", request_id.encode())], is_json=False
    )


def access_denied(message: str, *extra: tuple[str, str]) -> Reply:
    return s3_error(403, "AccessDenied", message, *extra)


def _fault_reply(fault: Fault) -> Reply:
    if fault.kind == "html_error":
        return html_502()
    if fault.kind == "rate_429" or fault.status == 503:
        reply = s3_error(503, "SlowDown", "Please reduce your request rate.")
        reply.headers.append((b"retry-after", str(fault.retry_after).encode()))
        return reply
    return s3_error(500, "InternalError", "We encountered an internal error. Please try again.")


class FilesApp:
    """ASGI app of the files origin."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        state = self.state
        method: str = scope["method"]
        path: str = scope["path"]
        creds = auth_header_names(scope)
        record = Recorder(state, "files", None, "files", scope)
        logged: str | None = None
        status = 0
        try:
            ctx = Ctx(state, scope, receive, None)
            rf = state.files.get(path[len("/files/") :]) if path.startswith("/files/") else None
            job = state.get_job(rf.job_id) if rf is not None else None
            record.vendor = job.vendor if job is not None else None
            fault = state.faults.draw(record.vendor, "files")
            if fault is not None and fault.kind not in FILES_FAULTS:
                fault = None
            if fault is not None and fault.kind == "slow":
                logged = "slow"
                fault = None if await slow_down(state, fault.slow_seconds) else Fault("reset")
            if fault is not None and fault.kind == "reset":
                record(0, logged or "reset")
                await drop_connection(send, graceful=False)
                return
            if fault is not None and fault.kind != "truncate":
                logged = fault.kind
                status, _ = await send_reply(scope, send, _fault_reply(fault), None)
                return
            reply = self._answer(ctx, path, method, creds)
            if reply.file is None:
                fault = None
            status, _ = await send_reply(scope, send, reply, fault, record)
        finally:
            record(status, logged)

    def _answer(self, ctx: Ctx, path: str, method: str, creds: tuple[str, ...]) -> Reply:
        state = self.state
        if method not in ("GET", "HEAD"):
            return s3_error(
                405, "MethodNotAllowed", "The specified method is not allowed against this resource."
            )
        if creds:
            return access_denied(
                "Only one auth mechanism allowed: a signed URL must be requested without "
                f"credentials (got {', '.join(creds)})"
            )
        if not path.startswith("/files/"):
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        token = path[len("/files/") :]
        expires_text = ctx.query("X-Sim-Expires")
        signature = ctx.query("X-Sim-Signature")
        if not expires_text or not signature:
            return access_denied("Access Denied")
        try:
            expires = int(expires_text)
        except ValueError:
            return access_denied("Invalid expiration in the query string")
        if not state.signature_ok(token, expires, signature):
            return access_denied(
                "The request signature we calculated does not match the signature you provided."
            )
        rf = state.files.get(token)
        job = state.get_job(rf.job_id) if rf is not None else None
        if rf is None or job is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        now = time.time()
        if now > expires or job.expired:
            return access_denied(
                "Request has expired",
                ("Expires", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))),
                ("ServerTime", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))),
            )
        return file_reply(rf, None, ctx.header(b"range"))
