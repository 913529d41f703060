"""Hostile and broken input at the hooks, the sensor and the operators.

Huge and deeply nested answers, wrong content types, hostile redirects, job ids that try to reach
another path, result names that try to leave the destination, and connection settings that are
wrong. HTTP is mocked with ``httpx.MockTransport`` or served by a tiny server on 127.0.0.1 (to see the
bytes really sent by both the sync client and the async transport); nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import json
import threading
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobNotFoundError,
    JobStatusError,
    MalformedResponseError,
    TransientVendorError,
    UnsafeRedirectError,
    VendorRequestError,
)
from airflow_provider_jobstatus.hooks import HOOKS, JobStatusHook
from airflow_provider_jobstatus.operators.batch import BatchJobsToXComOperator
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
from airflow_provider_jobstatus.status import JobState, ResultFile
from airflow_provider_jobstatus.vendors import (
    MAX_BODY_BYTES,
    VENDORS,
    ApiRequest,
    ApiResponse,
    ResultRequest,
    download_url,
    safe_file_name,
)
from tests.airflow_versions import AIRFLOW_HANDS_OVER_UNPARSABLE_EXTRA
from tests.routed import routed, served

API = "https://api.vendor.test"
EVIL = "https://evil.test"
KEY = "k-hostile-0123456789"
MiB = 1024 * 1024
ALL = ["nitro", "pdfco", "alteryx", "apidatatools", "playment"]

#: the documented "still running" answer per vendor, and where each asks for a status
RUNNING: dict[str, Any] = {
    "nitro": {"jobID": "j", "status": "running", "progress": 0.5},
    "pdfco": {"status": "working"},
    "alteryx": {"id": "j", "status": "Running"},
    "apidatatools": {"job_id": "j", "status": "processing"},
    "playment": {"data": {"status": "in_progress"}, "success": True},
}
TOKEN_PATHS = {"nitro": "/oauth/token", "alteryx": "/oauth2/token"}


def conn_fields(vendor: str, host: str = API, **over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"host": host, "password": KEY}
    if VENDORS[vendor].needs_login:
        fields["login"] = "client-id"
    if vendor == "playment":
        fields["extra"] = {"project_id": "p1"}
    fields.update(over)
    return {k: v for k, v in fields.items() if v is not None}


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, vendor: str, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": vendor, **fields}))


def token_answer(vendor: str) -> httpx.Response:
    body = {"accessToken": "tok-1", "expiresIn": 3600} if vendor == "nitro" else {"access_token": "tok-1"}
    return httpx.Response(200, json=body)


class Recorder:
    """A MockTransport handler: token requests answered, the rest routed; every request kept."""

    def __init__(self, vendor: str, route: Callable[[httpx.Request], httpx.Response]) -> None:
        self.vendor = vendor
        self.route = route
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.is_token(request):
            return token_answer(self.vendor)
        return self.route(request)

    def is_token(self, request: httpx.Request) -> bool:
        return self.vendor in TOKEN_PATHS and request.url.path.endswith(TOKEN_PATHS[self.vendor])

    def calls(self) -> list[httpx.Request]:
        """The requests that were not token requests."""
        return [r for r in self.requests if not self.is_token(r)]


def hook_for(
    monkeypatch: pytest.MonkeyPatch, vendor: str, rec: Recorder, conn_id: str | None = None, **fields: Any
) -> JobStatusHook:
    conn_id = conn_id or f"hostile_{vendor}"
    set_conn(monkeypatch, conn_id, vendor, **conn_fields(vendor, **fields))
    return HOOKS[vendor](conn_id, transport=rec.transport, retries=1, backoff=0.001, max_backoff=0.01)


async def status_async(hook: JobStatusHook, job_id: str) -> Any:
    async with hook:
        return await hook.aget_job_status(job_id)


def get_status(hook: JobStatusHook, job_id: str, mode: str) -> Any:
    """Sync through the hook's MockTransport; async through aiohttp against the same routes, served
    for real on 127.0.0.1 (a hook made without a transport is asked as it is)."""
    if mode == "sync":
        return hook.get_job_status(job_id)
    transport = hook._transport
    if not isinstance(transport, httpx.MockTransport):
        return asyncio.run(status_async(hook, job_id))
    with routed(transport.handler) as url:
        return asyncio.run(status_async(served(hook, url + urlsplit(hook.settings().base_url).path), job_id))


MODES = ["sync", "async"]


# -- a tiny real server on 127.0.0.1 ----------------------------------------------------------------
@dataclass
class Seen:
    method: str
    target: str  # the request-target exactly as sent on the wire
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], "bytes | Iterable[bytes]"]


class Loopback:
    """An HTTP/1.1 server on a free port; ``route`` answers, ``seen`` records, ``sent`` counts the
    body bytes a streamed answer managed to write before the client hung up."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.route: Callable[[Seen], Reply] = lambda seen: (404, {}, b"{}")
        self.sent = 0
        self.streams_done = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                outer.seen.append(seen)
                status, headers, payload = outer.route(seen)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if isinstance(payload, bytes):
                    if "content-length" not in {k.lower() for k in headers}:
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if "content-length" not in {k.lower() for k in headers}:
                    self.send_header("Connection", "close")  # the body ends when the connection does
                self.close_connection = True
                self.end_headers()
                try:
                    for chunk in payload:
                        self.wfile.write(chunk)
                        outer.sent += len(chunk)
                except OSError:  # the client hung up: exactly what a refusal should do
                    pass
                finally:
                    outer.streams_done.set()

            do_GET = do_POST = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    try:
        yield server
    finally:
        server.close()


def json_reply(body: Any, status: int = 200) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


# == huge answers ===================================================================================
class Flood:
    """``total`` bytes of JSON-ish filler in 64 KiB chunks; ``taken`` counts what the reader pulled."""

    def __init__(self, total: int = 50 * MiB, chunk: int = 64 * 1024) -> None:
        self.total = total
        self.chunk = chunk
        self.taken = 0

    def _next(self) -> bytes | None:
        if self.taken >= self.total:
            return None
        n = min(self.chunk, self.total - self.taken)
        self.taken += n
        return b" " * n

    def sync(self) -> Iterator[bytes]:
        while (chunk := self._next()) is not None:
            yield chunk

    async def aio(self) -> AsyncIterator[bytes]:
        while (chunk := self._next()) is not None:
            yield chunk


@pytest.mark.parametrize("mode", ["sync"])  # the async path: on the wire, below
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_50_mib_status_answer_is_refused_without_reading_it(
    monkeypatch: pytest.MonkeyPatch, mode: str, declared: bool
) -> None:
    flood = Flood()
    headers = {"content-length": str(flood.total)} if declared else {}

    def route(req: httpx.Request) -> httpx.Response:
        body = flood.sync() if mode == "sync" else flood.aio()
        return httpx.Response(200, headers=headers, content=body)

    rec = Recorder("pdfco", route)
    hook = hook_for(monkeypatch, "pdfco", rec)
    tracemalloc.start()
    try:
        with pytest.raises(MalformedResponseError, match="larger than 10 MiB refused") as err:
            get_status(hook, "j1", mode)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "PDF.co job 'j1'" in str(err.value)
    if declared:  # the Content-Length alone is enough: not one byte read
        assert flood.taken == 0
    else:  # read up to the cap, then stopped
        assert MAX_BODY_BYTES < flood.taken <= MAX_BODY_BYTES + 2 * flood.chunk
    assert peak < 30 * MiB, f"{peak / MiB:.0f} MiB held for a refused answer"
    assert len(rec.requests) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_50_mib_answer_on_the_wire_is_refused_early(
    monkeypatch: pytest.MonkeyPatch, loopback: Loopback, mode: str, declared: bool
) -> None:
    """The real sync client and the real async transport both hang up instead of reading on."""
    total = 50 * MiB
    chunk = b" " * (64 * 1024)
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(total)
    loopback.route = lambda seen: (200, headers, (chunk for _ in range(total // len(chunk))))
    conn_id = f"flood_{mode}_{declared}"
    set_conn(monkeypatch, conn_id, "apidatatools", **conn_fields("apidatatools", host=loopback.url))
    hook = HOOKS["apidatatools"](conn_id, retries=1)
    with pytest.raises(MalformedResponseError, match="larger than 10 MiB refused"):
        get_status(hook, "j1", mode)
    assert loopback.streams_done.wait(60), "the server is still writing: the client did not hang up"
    assert loopback.sent < 40 * MiB, f"the client let the server send {loopback.sent / MiB:.0f} MiB"


@pytest.mark.parametrize("mode", MODES)
def test_the_body_cap_is_exactly_10_mib(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    head = json.dumps(RUNNING["pdfco"]).encode()
    at_cap = head + b" " * (MAX_BODY_BYTES - len(head))
    bodies = iter([at_cap, at_cap + b" "])
    rec = Recorder("pdfco", lambda req: httpx.Response(200, content=next(bodies)))
    hook = hook_for(monkeypatch, "pdfco", rec)
    assert get_status(hook, "j1", mode).state is JobState.RUNNING
    with pytest.raises(MalformedResponseError, match="larger than 10 MiB"):
        get_status(hook, "j1", mode)


@pytest.mark.parametrize("vendor", ["nitro", "alteryx"])
def test_a_huge_token_answer_is_refused_and_nothing_else_is_asked(
    monkeypatch: pytest.MonkeyPatch, vendor: str
) -> None:
    flood = Flood()
    requests: list[httpx.Request] = []

    def handle(req: httpx.Request) -> httpx.Response:
        requests.append(req)
        return httpx.Response(200, content=flood.sync())

    set_conn(monkeypatch, f"tok_{vendor}", vendor, **conn_fields(vendor))
    hook = HOOKS[vendor](f"tok_{vendor}", transport=httpx.MockTransport(handle), retries=1)
    with pytest.raises(MalformedResponseError, match="larger than 10 MiB"):
        hook.get_job_status("j1")
    assert [r.url.path for r in requests] == [TOKEN_PATHS[vendor]]
    assert flood.taken <= MAX_BODY_BYTES + 2 * flood.chunk


def test_a_huge_batch_page_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    flood = Flood()
    rec = Recorder("playment", lambda req: httpx.Response(200, content=flood.sync()))
    hook = hook_for(monkeypatch, "playment", rec)
    with pytest.raises(MalformedResponseError, match="larger than 10 MiB"):
        list(hook.iter_batch_jobs("b1"))
    assert flood.taken <= MAX_BODY_BYTES + 2 * flood.chunk


# == deeply nested JSON =============================================================================
DEPTH = 100_000
DEEP_BODIES = {
    "arrays": b"[" * DEPTH + b"]" * DEPTH,
    "objects": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "inside-a-status": b'{"status": "completed", "result": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
}


@pytest.mark.parametrize("vendor", ALL)
@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
def test_100k_levels_of_nesting_is_a_malformed_answer(
    monkeypatch: pytest.MonkeyPatch, vendor: str, shape: str
) -> None:
    rec = Recorder(vendor, lambda req: httpx.Response(200, content=DEEP_BODIES[shape]))
    with pytest.raises(MalformedResponseError, match="nested too deeply") as err:
        hook_for(monkeypatch, vendor, rec).get_job_status("j1")
    assert err.value.transient  # a wait treats it like any other broken answer


def test_100k_levels_of_nesting_on_the_async_path(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder("nitro", lambda req: httpx.Response(200, content=DEEP_BODIES["objects"]))
    with pytest.raises(MalformedResponseError, match="nested too deeply"):
        get_status(hook_for(monkeypatch, "nitro", rec), "j1", "async")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (401, AuthenticationError),
        (404, JobNotFoundError),
        (429, TransientVendorError),
        (503, TransientVendorError),
        (400, VendorRequestError),
    ],
)
@pytest.mark.parametrize("vendor", ALL)
def test_deep_error_bodies_keep_the_http_meaning(vendor: str, code: int, error: type[JobStatusError]) -> None:
    """An error answer whose body cannot be read still means what its status code says."""
    resp = ApiResponse(code, {}, DEEP_BODIES["objects"])
    with pytest.raises(error):
        VENDORS[vendor].parse_status("j1", resp, {"project_id": "p1"})


DEEP_BUT_PARSEABLE = 400  # below Python's recursion limit: json.loads reads it


@pytest.mark.parametrize(
    ("vendor", "template"),
    [
        ("apidatatools", '{"status": "failed", "error": %s}'),
        ("pdfco", '{"status": "working", "credits": %s}'),
        ("nitro", '{"status": "failed", "error": {"type": %s}}'),
    ],
)
def test_deep_but_parseable_values_still_travel_as_an_event(vendor: str, template: str) -> None:
    nested = "[" * DEEP_BUT_PARSEABLE + "]" * DEEP_BUT_PARSEABLE
    resp = ApiResponse(200, {}, (template % nested).encode())
    try:
        status = VENDORS[vendor].parse_status("j1", resp, {})
    except JobStatusError:
        return  # refusing the answer is fine too
    json.dumps(status.to_event())


# == wrong content types ============================================================================
HTML = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
XML = b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>'


@pytest.mark.parametrize("vendor", ALL)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [(HTML, "text/html"), (HTML, "application/json"), (XML, "application/xml"), (b"   \n ", "")],
    ids=["html", "html-labelled-json", "xml", "blank"],
)
def test_a_page_that_is_not_json_is_malformed_never_a_status(
    monkeypatch: pytest.MonkeyPatch, vendor: str, body: bytes, content_type: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    rec = Recorder(vendor, lambda req: httpx.Response(200, headers=headers, content=body))
    with pytest.raises(MalformedResponseError) as err:
        hook_for(monkeypatch, vendor, rec).get_job_status("j1")
    text = str(err.value)
    assert VENDORS[vendor].display_name in text and "'j1'" in text
    if body.strip():
        assert "HTML/XML" in text and repr(content_type) in text


@pytest.mark.parametrize("vendor", ALL)
@pytest.mark.parametrize("content_type", ["text/html", "text/plain", "application/octet-stream", None])
def test_json_with_a_wrong_label_is_read_by_its_body(
    monkeypatch: pytest.MonkeyPatch, vendor: str, content_type: str | None
) -> None:
    """Proxies relabel answers; the body decides (and a wrong label never makes it a success)."""
    headers = {"content-type": content_type} if content_type else {}
    rec = Recorder(
        vendor, lambda req: httpx.Response(200, headers=headers, content=json.dumps(RUNNING[vendor]))
    )
    status = hook_for(monkeypatch, vendor, rec).get_job_status("j1")
    assert status.state in (JobState.RUNNING, JobState.QUEUED)


@pytest.mark.parametrize("vendor", ALL)
def test_an_html_error_page_is_transient(monkeypatch: pytest.MonkeyPatch, vendor: str) -> None:
    rec = Recorder(
        vendor, lambda req: httpx.Response(502, headers={"content-type": "text/html"}, content=HTML)
    )
    with pytest.raises(TransientVendorError, match="HTTP 502"):
        hook_for(monkeypatch, vendor, rec).get_job_status("j1")


# == redirects ======================================================================================
#: (Location, what must happen): "refused" (UnsafeRedirectError), "elsewhere" (followed without the key),
#: "home" (followed on the connection's origin), "error" (some JobStatusError; nothing sent elsewhere)
REDIRECTS = [
    ("file:///etc/passwd", "refused", {}),
    ("FILE:///etc/passwd", "refused", {}),
    (" file:///etc/passwd", "refused", {}),
    ("ftp://evil.test/x", "refused", {}),
    ("gopher://evil.test/x", "refused", {}),
    ("data:text/plain,hi", "refused", {}),
    ("javascript:alert(1)", "refused", {}),
    ("fi\tle:///etc/passwd", "error", {}),
    ("http://[::1", "error", {}),
    ("https://evil.test/\x00x", "error", {}),
    ("https://evil.test/r?X-Sig=1", "elsewhere", {}),
    ("HTTPS://EVIL.TEST/r", "elsewhere", {}),
    ("//evil.test/r", "elsewhere", {}),
    ("https://api.vendor.test@evil.test/r", "elsewhere", {}),
    ("http://api.vendor.test/r", "elsewhere", {}),  # same host, plain http: another origin
    ("https://api.vendor.test:8443/r", "elsewhere", {}),
    ("https://api.vendor.test:99999/r", "elsewhere", {}),
    ("/v1/elsewhere", "home", {}),
    ("https://API.vendor.test:443/r", "home", {}),
]


def redirect_cases() -> list[Any]:
    cases = []
    for location, outcome, bugs in REDIRECTS:
        for mode in ["sync"]:  # downloads run on workers: there is no async download path
            marks = [bugs[mode]] if mode in bugs else []
            cases.append(pytest.param(location, outcome, mode, marks=marks, id=f"{mode}-{location!r}"))
    return cases


def open_result(hook: JobStatusHook, rr: ResultRequest, mode: str) -> bytes:
    assert mode == "sync"
    with hook.open_result(rr) as resp:
        return resp.read()


@pytest.mark.parametrize(("location", "outcome", "mode"), redirect_cases())
def test_result_redirects(monkeypatch: pytest.MonkeyPatch, location: str, outcome: str, mode: str) -> None:
    def route(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/v1/attachments":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, content=b"result")

    rec = Recorder("playment", route)
    hook = hook_for(monkeypatch, "playment", rec)
    rr = ResultRequest(ApiRequest("GET", "/v1/attachments"), "r.json", ResultFile(), follow_redirects=True)
    try:
        body = open_result(hook, rr, mode)
    except JobStatusError as exc:
        assert outcome in ("refused", "error"), f"{location!r} should have been followed: {exc}"
        if outcome == "refused":
            assert isinstance(exc, UnsafeRedirectError), exc
        assert len(rec.requests) == 1, "nothing may be requested after a refused redirect"
        return
    assert outcome in ("elsewhere", "home"), f"{location!r} was followed"
    assert body == b"result"
    first, second = rec.requests
    assert first.headers["x-api-key"] == KEY
    assert second.url.scheme in ("http", "https")
    if outcome == "elsewhere":
        assert (second.url.scheme, second.url.host, second.url.port) != ("https", "api.vendor.test", None)
        assert "x-api-key" not in second.headers
        # (userinfo in a Location makes httpx add its own Basic header: never one of ours)
        assert KEY not in " ".join(second.headers.values())
    else:
        assert second.url.host == "api.vendor.test" and second.headers["x-api-key"] == KEY


@pytest.mark.parametrize("mode", ["sync"])
def test_a_redirect_loop_is_cut_after_5_hops(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    rec = Recorder("playment", lambda req: httpx.Response(302, headers={"Location": "/v1/attachments"}))
    hook = hook_for(monkeypatch, "playment", rec)
    rr = ResultRequest(ApiRequest("GET", "/v1/attachments"), "r.json", ResultFile(), follow_redirects=True)
    with pytest.raises(UnsafeRedirectError, match="more than 5 redirects"):
        open_result(hook, rr, mode)
    assert len(rec.requests) == 6


@pytest.mark.parametrize("mode", ["sync"])
def test_the_key_does_not_come_back_after_leaving_the_origin(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    def route(req: httpx.Request) -> httpx.Response:
        if req.url.host == "evil.test":
            return httpx.Response(302, headers={"Location": f"{API}/v1/back"})
        if req.url.path == "/v1/attachments":
            return httpx.Response(302, headers={"Location": f"{EVIL}/bounce"})
        return httpx.Response(200, content=b"ok")

    rec = Recorder("playment", route)
    hook = hook_for(monkeypatch, "playment", rec)
    rr = ResultRequest(ApiRequest("GET", "/v1/attachments"), "r.json", ResultFile(), follow_redirects=True)
    assert open_result(hook, rr, mode) == b"ok"
    assert [r.url.host for r in rec.requests] == ["api.vendor.test", "evil.test", "api.vendor.test"]
    assert [r.headers.get("x-api-key") for r in rec.requests] == [KEY, None, None]


STATUS_LOCATIONS = [
    pytest.param("https://evil.test/steal", "sync", id="sync-evil"),
    pytest.param("https://evil.test/steal", "async", id="async-evil"),
    pytest.param("file:///etc/passwd", "sync", id="sync-file"),
    pytest.param("file:///etc/passwd", "async", id="async-file"),
    pytest.param("/v1/job/check", "async", id="async-self"),
    pytest.param("data:,x", "async", id="async-data"),
    pytest.param("data:,x", "sync", id="sync-data"),
]


@pytest.mark.parametrize(("location", "mode"), STATUS_LOCATIONS)
def test_status_answers_are_never_followed(monkeypatch: pytest.MonkeyPatch, location: str, mode: str) -> None:
    rec = Recorder("pdfco", lambda req: httpx.Response(302, headers={"Location": location}))
    hook = hook_for(monkeypatch, "pdfco", rec)
    # httpx refuses to even parse a "data:" Location; aiohttp hands us the 302 as it is
    refused = (UnsafeRedirectError, "cannot be read") if (mode, location) == ("sync", "data:,x") else None
    error, match = refused or (VendorRequestError, "HTTP 302")
    with pytest.raises(error, match=match):
        get_status(hook, "j1", mode)
    assert [r.url.path for r in rec.requests] == ["/v1/job/check"]
    assert mode == "async" or rec.requests[0].url.host == "api.vendor.test"


def test_a_status_path_on_another_origin_gets_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder("apidatatools", lambda req: httpx.Response(200, json=RUNNING["apidatatools"]))
    extra = {"status_path": f"{EVIL}/jobs/{{job_id}}"}
    hook = hook_for(monkeypatch, "apidatatools", rec, extra=extra)
    get_status(hook, "j1", "sync")
    (req,) = rec.requests
    assert req.url.host == "evil.test" and "x-api-key" not in req.headers


def test_a_status_path_on_another_origin_gets_no_key_async(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two real servers, two origins: the status path on the other one is asked without the key."""
    own = Recorder("apidatatools", lambda req: httpx.Response(200, json=RUNNING["apidatatools"]))
    other = Recorder("apidatatools", lambda req: httpx.Response(200, json=RUNNING["apidatatools"]))
    with routed(own.handle) as own_url, routed(other.handle) as other_url:
        extra = {"status_path": f"{other_url}/jobs/{{job_id}}"}
        set_conn(
            monkeypatch,
            "two_origins",
            "apidatatools",
            **conn_fields("apidatatools", host=own_url, extra=extra),
        )
        assert asyncio.run(status_async(HOOKS["apidatatools"]("two_origins"), "j1")).state is JobState.RUNNING
    assert own.requests == []
    (req,) = other.requests
    assert req.url.path == "/jobs/j1" and "x-api-key" not in req.headers


# == job ids =====================================================================================
HOSTILE_IDS = [
    "a/b",
    "../admin",
    "..%2Fadmin",
    "x?admin=1",
    "x#frag",
    "a b",
    "üñïcødé/ジョブ",
    "..\\..\\x",
    "%",
    "a;b=c",
    "@evil.test",
    "\x00nul",
    "...",
]
#: vendor -> (path before the id, path after it) under the connection's base URL "/base"
ID_PATHS = {
    "nitro": ("/base/jobs/", "/status"),
    "alteryx": ("/base/v3/jobs/", ""),
    "apidatatools": ("/base/jobs/", ""),
    "playment": ("/base/v1/projects/p1/jobs/", ""),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", sorted(ID_PATHS))
def test_hostile_job_ids_stay_one_encoded_segment(
    monkeypatch: pytest.MonkeyPatch, vendor: str, mode: str
) -> None:
    rec = Recorder(vendor, lambda req: httpx.Response(200, json=RUNNING[vendor]))
    hook = hook_for(monkeypatch, vendor, rec, host=f"{API}/base")
    for job_id in HOSTILE_IDS:
        get_status(hook, job_id, mode)
    before, after = ID_PATHS[vendor]
    sent = [r.url.raw_path.split(b"?")[0].decode() for r in rec.calls()]
    assert sent == [before + quote(job_id, safe="") + after for job_id in HOSTILE_IDS]
    assert mode == "async" or {r.url.host for r in rec.requests} == {"api.vendor.test"}


@pytest.mark.parametrize("mode", MODES)
def test_pdfco_job_ids_only_travel_in_the_body(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    rec = Recorder("pdfco", lambda req: httpx.Response(200, json=RUNNING["pdfco"]))
    hook = hook_for(monkeypatch, "pdfco", rec, host=f"{API}/base")
    for job_id in [*HOSTILE_IDS, ".."]:
        get_status(hook, job_id, mode)
    assert {r.url.raw_path for r in rec.requests} == {b"/base/v1/job/check"}
    assert [json.loads(r.content)["jobid"] for r in rec.requests] == [*HOSTILE_IDS, ".."]


@pytest.mark.parametrize("vendor", ALL)
@pytest.mark.parametrize("job_id", ["", "   ", ".", ".."])
def test_empty_and_dot_ids_are_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch, vendor: str, job_id: str
) -> None:
    if vendor == "pdfco" and job_id in (".", ".."):
        pytest.skip("PDF.co sends the id in a JSON body, where dots are harmless")
    rec = Recorder(vendor, lambda req: httpx.Response(200, json=RUNNING[vendor]))
    with pytest.raises(ConfigurationError, match=r"job id is empty|not a valid id"):
        hook_for(monkeypatch, vendor, rec).get_job_status(job_id)
    assert rec.calls() == []


def test_hostile_batch_project_and_output_ids_are_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    page = {"data": {"jobs": [], "next_page_token": None}, "success": True}
    rec = Recorder("playment", lambda req: httpx.Response(200, json=page))
    hook = hook_for(monkeypatch, "playment", rec, extra={"project_id": "../p?x#"})
    assert list(hook.iter_batch_jobs("../b/..")) == []
    (req,) = rec.requests
    assert req.url.raw_path == b"/v1/projects/..%2Fp%3Fx%23/batch/..%2Fb%2F.."
    from airflow_provider_jobstatus.status import JobStatus

    done = JobStatus(
        vendor="alteryx",
        job_id="../j",
        state=JobState.SUCCEEDED,
        results=[ResultFile(id="../../admin", name="o.csv", formats=["Csv"])],
    )
    (rr,) = VENDORS["alteryx"].result_requests(done, {}, {})
    assert rr.request.url == "/v1/jobs/..%2Fj/output/..%2F..%2Fadmin"


@pytest.mark.parametrize("mode", MODES)
def test_hostile_job_ids_on_the_wire(monkeypatch: pytest.MonkeyPatch, loopback: Loopback, mode: str) -> None:
    """The request-target the server really receives, from the real sync client and async transport."""

    def route(seen: Seen) -> Reply:
        if seen.target == "/base/oauth/token":
            return json_reply({"accessToken": "tok-wire-123456", "expiresIn": 3600})
        return json_reply(RUNNING["nitro"] if "/status" in seen.target else RUNNING["apidatatools"])

    loopback.route = route
    expected = []
    for vendor in ("apidatatools", "nitro"):
        conn_id = f"wire_{vendor}_{mode}"
        set_conn(monkeypatch, conn_id, vendor, **conn_fields(vendor, host=f"{loopback.url}/base"))
        hook = HOOKS[vendor](conn_id, retries=1)
        for job_id in HOSTILE_IDS:
            get_status(hook, job_id, mode)
            before, after = ID_PATHS[vendor]
            expected.append(before + quote(job_id, safe="") + after)
    sent = [s.target for s in loopback.seen if not s.target.endswith("/oauth/token")]
    assert sent == expected


# == result file names ============================================================================
def test_result_names_cannot_leave_the_destination(
    monkeypatch: pytest.MonkeyPatch, loopback: Loopback, tmp_path: Path
) -> None:
    base = loopback.url
    urls = [
        f"{base}/files/..%2F..%2Fescape.pdf?sig=1",
        f"{base}/files/%2e%2e%5C%2e%2e%5Cwin.pdf?sig=2",
        f"{base}/files/.hidden?sig=3",
        f"{base}/files/sub%2F..%2F..%2F..%2Fescape.pdf?sig=4",
        f"{base}/files/%EF%BC%8E%EF%BC%8E%EF%BC%8Fwide.pdf?sig=5",  # fullwidth "../"
    ]

    def route(seen: Seen) -> Reply:
        if seen.target == "/v1/job/check":
            return json_reply({"status": "success", "urls": urls})
        return 200, {"Content-Type": "application/pdf"}, b"%PDF " + seen.target.encode()

    loopback.route = route
    set_conn(monkeypatch, "names_pdfco", "pdfco", **conn_fields("pdfco", host=base))
    dest = tmp_path / "a" / "b" / "dest"
    op = DownloadJobResultOperator(task_id="get", conn_id="names_pdfco", job_id="j1", destination=f"{dest}/")
    written = op.execute(context={})
    names = sorted(p.name for p in dest.iterdir())
    assert names == sorted(["escape.pdf", "win.pdf", "hidden", "escape-2.pdf", "wide.pdf"])
    everything = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert everything == sorted(f"a/b/dest/{n}" for n in names), "a file landed outside the destination"
    assert all(Path(w["destination"]).parent == dest for w in written)
    assert all("sig=" not in json.dumps(w) for w in written)


def test_alteryx_output_names_and_ids_cannot_leave_the_destination(
    monkeypatch: pytest.MonkeyPatch, loopback: Loopback, tmp_path: Path
) -> None:
    status = {
        "id": "j",
        "status": "Completed",
        "disposition": "Success",
        "outputs": [
            {"id": "../o1", "fileName": "..\\..\\..\\evil.csv", "availableFormats": ["Raw"]},
            {"id": "o2", "fileName": "/etc/cron.d/evil", "availableFormats": ["Csv"]},
            {"id": "o3", "fileName": "..", "availableFormats": ["Raw"]},
        ],
    }

    def route(seen: Seen) -> Reply:
        if seen.target == "/webapi/oauth2/token":
            return json_reply({"access_token": "tok-alteryx-123456", "expires_in": 3600})
        if seen.target.startswith("/webapi/v3/jobs/"):
            return json_reply(status)
        return 200, {"Content-Type": "text/csv"}, b"a,b\n"

    loopback.route = route
    set_conn(monkeypatch, "names_alteryx", "alteryx", **conn_fields("alteryx", host=f"{loopback.url}/webapi"))
    dest = tmp_path / "a" / "dest"
    op = DownloadJobResultOperator(
        task_id="get", conn_id="names_alteryx", job_id="../j", destination=f"{dest}/"
    )
    op.execute(context={})
    assert sorted(p.name for p in dest.iterdir()) == ["evil-2.csv", "evil.csv", "o3"]
    assert [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != dest] == []
    fetched = [s.target for s in loopback.seen if "/output/" in s.target]
    assert fetched == [
        "/webapi/v1/jobs/..%2Fj/output/..%2Fo1?format=Raw",
        "/webapi/v1/jobs/..%2Fj/output/o2?format=Csv",
        "/webapi/v1/jobs/..%2Fj/output/o3?format=Raw",
    ]


@pytest.mark.parametrize("output_id", ["..", ".", ""])
def test_an_output_id_that_is_a_dot_segment_is_refused_not_fetched(output_id: str) -> None:
    from airflow_provider_jobstatus.status import JobStatus

    done = JobStatus(
        vendor="alteryx",
        job_id="j",
        state=JobState.SUCCEEDED,
        results=[ResultFile(id=output_id, name="o.csv", formats=["Csv"])],
    )
    with pytest.raises(JobStatusError):
        VENDORS["alteryx"].result_requests(done, {}, {})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("/abs/olute.txt", "olute.txt"),
        ("\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fwide.txt", "wide.txt"),
        ("..", "result"),
        (".", "result"),
        ("....", "result"),
        ("a/..", "result"),
        ("", "result"),
        (None, "result"),
        (".bashrc", "bashrc"),
        ("x\x00y\r\nz", "x_y_z"),
        ("CON ", "CON"),
        ("a" * 500, "a" * 200),
    ],
)
def test_safe_file_name(name: str | None, expected: str) -> None:
    assert safe_file_name(name, "result") == expected


# == bad connection settings =======================================================================
GOOD = "__server__"  # replaced by the loopback server's URL


@dataclass
class BadConn:
    vendor: str
    fields: dict[str, Any]
    needle: str
    conn_type: str | None = None


BAD_CONNS = [
    pytest.param(BadConn("pdfco", {"host": GOOD}, "field 'password'"), id="no-key"),
    pytest.param(BadConn("nitro", {"host": GOOD, "password": KEY}, "field 'login'"), id="nitro-no-login"),
    pytest.param(BadConn("alteryx", {"host": GOOD, "password": KEY}, "field 'login'"), id="alteryx-no-login"),
    pytest.param(BadConn("alteryx", {"login": "c", "password": KEY}, "field 'host'"), id="alteryx-no-host"),
    pytest.param(
        BadConn("pdfco", {"host": "ftp://127.0.0.1", "password": KEY}, "field 'host'"), id="ftp-host"
    ),
    pytest.param(BadConn("pdfco", {"host": "http://", "password": KEY}, "field 'host'"), id="no-hostname"),
    pytest.param(
        BadConn("pdfco", {"host": "https://user:pw-in-url@127.0.0.1", "password": KEY}, "field 'host'"),
        id="credentials-in-host",
    ),
    pytest.param(
        BadConn("pdfco", {"host": "https://127.0.0.1/?q=1", "password": KEY}, "field 'host'"), id="query"
    ),
    pytest.param(
        BadConn("pdfco", {"host": "https://[::1", "password": KEY}, "field 'host'"),
        id="bad-ipv6",
    ),
    pytest.param(
        BadConn("pdfco", {"host": "https://127.0.0.1:abc", "password": KEY}, "field 'host'"),
        id="port-not-a-number",
    ),
    pytest.param(
        BadConn("pdfco", {"host": "https://127.0.0.1:99999", "password": KEY}, "field 'host'"),
        id="port-out-of-range",
    ),
    pytest.param(
        BadConn("pdfco", {"host": GOOD, "password": KEY, "extra": "{oops"}, "field 'extra'"), id="extra"
    ),
    pytest.param(
        BadConn("pdfco", {"host": GOOD, "password": KEY, "extra": "[1]"}, "field 'extra'"), id="extra-list"
    ),
    pytest.param(
        BadConn("pdfco", {"host": GOOD, "password": KEY}, "has type 'http'", "http"), id="wrong-type"
    ),
    pytest.param(BadConn("pdfco", {"host": GOOD, "password": KEY}, "has type None", ""), id="no-type"),
    pytest.param(BadConn("playment", {"host": GOOD, "password": KEY}, "'project_id'"), id="no-project"),
    pytest.param(
        BadConn("playment", {"host": GOOD, "password": KEY, "extra": {"project_id": " "}}, "'project_id'"),
        id="blank-project",
    ),
    pytest.param(
        BadConn("playment", {"host": GOOD, "password": KEY, "extra": {"project_id": 7}}, "'project_id'"),
        id="numeric-project",
    ),
    pytest.param(
        BadConn(
            "apidatatools", {"host": GOOD, "password": KEY, "extra": {"status_path": "/jobs/"}}, "status_path"
        ),
        id="status-path-without-id",
    ),
    pytest.param(
        BadConn("apidatatools", {"host": GOOD, "password": KEY, "extra": {"status_path": 5}}, "status_path"),
        id="status-path-not-text",
    ),
]

TASKS: dict[str, Callable[[str], Any]] = {
    "sensor-deferrable": lambda conn_id: JobStatusSensor(task_id="wait", conn_id=conn_id, job_id="j1"),
    "sensor-poke": lambda conn_id: JobStatusSensor(
        task_id="wait",
        conn_id=conn_id,
        job_id="j1",
        deferrable=False,
        mode="poke",
        poke_interval=0.01,
        timeout=1,
    ),
    "download": lambda conn_id: DownloadJobResultOperator(
        task_id="get", conn_id=conn_id, job_id="j1", destination="/nonexistent-dir-never-written/"
    ),
    "batch": lambda conn_id: BatchJobsToXComOperator(task_id="batch", conn_id=conn_id, batch_id="b1"),
}


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("case", BAD_CONNS)
def test_bad_connection_settings_fail_at_the_start_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, loopback: Loopback, case: BadConn, task: str
) -> None:
    if task == "batch" and case.vendor != "playment" and case.conn_type is None:
        pytest.skip("only Playment has batch listings (the others say so before reading the connection)")
    loopback.route = lambda seen: json_reply(RUNNING[case.vendor])
    fields = {k: (loopback.url if v == GOOD else v) for k, v in case.fields.items()}
    conn_type = case.vendor if case.conn_type is None else case.conn_type
    conn_id = f"bad_{abs(hash((repr(case), task)))}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": conn_type, **fields}))
    operator = TASKS[task](conn_id)
    try:
        operator.execute(context={})
    except TaskDeferred:
        pytest.fail(f"{task} deferred instead of failing on the connection ({case.needle})")
    except AirflowException as exc:
        needle = case.needle
        if isinstance(case.fields.get("extra"), str) and not AIRFLOW_HANDS_OVER_UNPARSABLE_EXTRA:
            needle = "isn't defined"  # Airflow 3.1 drops the connection before we see it
        assert needle in str(exc), str(exc)
        assert KEY not in str(exc) and "pw-in-url" not in str(exc)
    else:
        pytest.fail(f"{task} accepted a bad connection ({case.needle})")
    assert loopback.seen == [], "a request went out before the connection was checked"


@pytest.mark.parametrize("where", ["connection", "sensor"])
def test_a_bad_vendor_option_fails_before_the_first_poll(
    monkeypatch: pytest.MonkeyPatch, loopback: Loopback, where: str
) -> None:
    def route(seen: Seen) -> Reply:
        if seen.target.endswith("/oauth2/token"):
            return json_reply({"access_token": "tok-alteryx-123456", "expires_in": 3600})
        return json_reply(RUNNING["alteryx"])

    loopback.route = route
    extra = {"fail_on_warning": "maybe"} if where == "connection" else {}
    set_conn(monkeypatch, f"opt_{where}", "alteryx", **conn_fields("alteryx", host=loopback.url, extra=extra))
    options = {"fail_on_warning": "maybe"} if where == "sensor" else {}
    task = JobStatusSensor(task_id="wait", conn_id=f"opt_{where}", job_id="j1", vendor_options=options)
    with pytest.raises(AirflowException, match="fail_on_warning"):
        task.execute(context={})
    assert loopback.seen == []


def test_every_vendor_hook_checks_its_connection_type(monkeypatch: pytest.MonkeyPatch) -> None:
    for vendor in ALL:
        other = next(v for v in ALL if v != vendor)
        set_conn(monkeypatch, f"mixed_{vendor}", other, **conn_fields(other))
        with pytest.raises(ConfigurationError, match=f"needs type '{vendor}'"):
            HOOKS[vendor](f"mixed_{vendor}").settings()


def test_a_good_connection_does_reach_the_server(monkeypatch: pytest.MonkeyPatch, loopback: Loopback) -> None:
    """The "nothing was sent" assertions above can fail: a good connection does reach the server."""
    loopback.route = lambda seen: json_reply(RUNNING["pdfco"])
    set_conn(monkeypatch, "good_pdfco", "pdfco", **conn_fields("pdfco", host=loopback.url))
    with pytest.raises(TaskDeferred):
        TASKS["sensor-deferrable"]("good_pdfco").execute(context={})
    assert len(loopback.seen) == 1 and loopback.seen[0].headers["x-api-key"] == KEY


# -- answers that once crashed a parser (found by tests/unit/test_properties.py) -------------------
def _ok(body: bytes) -> ApiResponse:
    return ApiResponse(200, {"content-type": "application/json"}, body)


def test_a_garbled_result_url_is_a_success_whose_download_says_what_is_wrong() -> None:
    body = b'{"status": "success", "result": {"file": "https://downloads[.example.com/r.json?sig=s3cret"}}'
    status = VENDORS["apidatatools"].parse_status("job-1", _ok(body), {})
    assert status.state is JobState.SUCCEEDED
    assert status.results[0].name == "result"
    assert "s3cret" not in json.dumps(status.to_event())
    with pytest.raises(MalformedResponseError, match="not an absolute http") as err:
        download_url("APIDataTools", "job-1", status.results[0].url)
    assert "s3cret" not in str(err.value)


def test_lone_surrogates_from_json_escapes_still_travel_as_an_event() -> None:
    body = b'{"jobID": "j", "status": "failed", "error": {"type": "\\udc00", "title": "bad \\ud800 x"}}'
    status = VENDORS["nitro"].parse_status("job-1", _ok(body), {})
    assert status.state is JobState.FAILED
    event = json.dumps(status.to_event())
    assert "\\ud800" not in event and "\\udc00" not in event
    assert "bad \ufffd x" in (status.message or "")


@pytest.mark.parametrize("value", [0.0, 2.0, 1.5])
def test_a_fraction_where_an_integer_belongs_is_malformed(value: float) -> None:
    body = json.dumps({"status": "Completed", "messages": [{"status": value, "text": "x"}]}).encode()
    with pytest.raises(MalformedResponseError, match="field 'status' should be"):
        VENDORS["alteryx"].parse_status("job-1", _ok(body), {})
