"""Hooks over httpx.MockTransport: auth exactly as each vendor wants, token cache and renewal,
retries, and credentials that never reach another origin."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from airflow.providers.common.compat.sdk import AirflowNotFoundException

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    TransientVendorError,
    UnsafeRedirectError,
)
from airflow_provider_jobstatus.hooks import (
    HOOKS,
    AlteryxHook,
    ApiDataToolsHook,
    JobStatusHook,
    NitroHook,
    PdfCoHook,
    PlaymentHook,
)
from airflow_provider_jobstatus.status import JobState, ResultFile
from airflow_provider_jobstatus.vendors import ApiRequest, ResultRequest
from tests.airflow_versions import AIRFLOW_HANDS_OVER_UNPARSABLE_EXTRA
from tests.routed import routed, served

API = "https://api.vendor.test"
FILES = "https://files.other.test"


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn_type: str, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": conn_type, **fields}))


class Recorder:
    """A MockTransport handler that records requests and answers from a routing function."""

    def __init__(self, route: Callable[[httpx.Request], httpx.Response]) -> None:
        self.route = route
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.route(request)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def fast(hook_cls: type[JobStatusHook], conn_id: str, rec: Recorder, **kw: Any) -> JobStatusHook:
    return hook_cls(conn_id, transport=rec.transport, backoff=0.001, max_backoff=0.01, **kw)


# -- API-key vendors ----------------------------------------------------------------------------
def test_pdfco_sends_key_and_lowercase_jobid(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "pdf", "pdfco", host=API, password="k-123")

    def route(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "working", "remainingCredits": 5})

    rec = Recorder(route)
    status = fast(PdfCoHook, "pdf", rec).get_job_status("J/1")
    assert status.state is JobState.RUNNING
    (req,) = rec.requests
    assert req.method == "POST" and req.url.path == "/v1/job/check"
    assert req.headers["x-api-key"] == "k-123"
    assert "authorization" not in req.headers
    assert json.loads(req.content) == {"jobid": "J/1"}


async def test_async_path_matches_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "adt", "apidatatools", host=API, password="k-adt")
    body = {"job_id": "a", "status": "queued", "created_at": 1, "updated_at": 1, "retry_after": 2}
    rec = Recorder(lambda req: httpx.Response(200, json=body))
    with routed(rec.handle) as url:
        async with served(ApiDataToolsHook("adt"), url) as hook:
            status = await hook.aget_job_status("a b")
    assert status.state is JobState.QUEUED and status.retry_after == 2
    (req,) = rec.requests
    assert req.url.raw_path == b"/jobs/a%20b"
    assert req.headers["x-api-key"] == "k-adt"


def test_api_key_refused_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "pm", "playment", host=API, password="bad", extra={"project_id": "p1"})
    body = {"error": {"code": "unauthorized", "message": "invalid key"}, "success": False}
    rec = Recorder(lambda req: httpx.Response(401, json=body))
    with pytest.raises(AuthenticationError) as err:
        fast(PlaymentHook, "pm", rec).get_job_status("j1")
    assert len(rec.requests) == 1
    assert "Playment" in str(err.value) and "'j1'" in str(err.value)
    assert "bad" not in str(err.value)


# -- token vendors ------------------------------------------------------------------------------
class TokenServer:
    """Issues a new token per token request; only the newest is valid, and revoke() expires it."""

    def __init__(self, token_path: str, style: str = "camel") -> None:
        self.token_path = token_path
        self.style = style
        self.valid: str | None = None
        self.token_requests: list[httpx.Request] = []

    def revoke(self) -> None:
        self.valid = None

    def route(self, status_body: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
        def handle(req: httpx.Request) -> httpx.Response:
            if req.url.path == self.token_path:
                self.token_requests.append(req)
                self.valid = token = f"tok-{len(self.token_requests)}"
                if self.style == "camel":
                    return httpx.Response(
                        200, json={"accessToken": token, "tokenType": "Bearer", "expiresIn": 3600}
                    )
                return httpx.Response(
                    200, json={"access_token": token, "token_type": "bearer", "expires_in": 3600}
                )
            if self.valid is None or req.headers.get("authorization") != f"Bearer {self.valid}":
                return httpx.Response(401, json={"title": "Unauthorized", "status": 401})
            return httpx.Response(200, json=status_body)

        return handle


NITRO_RUNNING = {"jobID": "n1", "status": "running", "progress": 0.5}


@pytest.mark.parametrize("style", ["camel", "snake"])
def test_nitro_token_fetched_once_and_cached(monkeypatch: pytest.MonkeyPatch, style: str) -> None:
    set_conn(monkeypatch, "nit", "nitro", host=API, login="cid", password="csecret")
    server = TokenServer("/oauth/token", style)
    rec = Recorder(server.route(NITRO_RUNNING))
    hook = fast(NitroHook, "nit", rec)
    assert hook.get_job_status("n1").state is JobState.RUNNING
    assert hook.get_job_status("n1").progress == 0.5
    assert rec.paths() == ["/oauth/token", "/jobs/n1/status", "/jobs/n1/status"]
    token_req = server.token_requests[0]
    assert token_req.method == "POST"
    assert json.loads(token_req.content) == {"clientID": "cid", "clientSecret": "csecret"}
    assert "authorization" not in token_req.headers


def test_nitro_token_renewed_on_401(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "nit2", "nitro", host=API, login="cid", password="csecret")
    server = TokenServer("/oauth/token")
    rec = Recorder(server.route(NITRO_RUNNING))
    hook = fast(NitroHook, "nit2", rec)
    hook.get_job_status("n1")
    server.revoke()
    assert hook.get_job_status("n1").state is JobState.RUNNING
    assert rec.paths() == [
        "/oauth/token",
        "/jobs/n1/status",
        "/jobs/n1/status",
        "/oauth/token",
        "/jobs/n1/status",
    ]


def test_token_refused_twice_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "nit3", "nitro", host=API, login="cid", password="csecret")

    def route(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/oauth/token":
            return httpx.Response(200, json={"accessToken": "t", "tokenType": "Bearer", "expiresIn": 3600})
        return httpx.Response(401, json={"title": "Unauthorized", "status": 401})

    rec = Recorder(route)
    with pytest.raises(AuthenticationError):
        fast(NitroHook, "nit3", rec).get_job_status("n1")
    assert rec.paths() == ["/oauth/token", "/jobs/n1/status", "/oauth/token", "/jobs/n1/status"]


ALTERYX_RUNNING = {
    "id": "a1",
    "appId": "w",
    "createDateTime": "2024-09-19T10:02:54.589Z",
    "status": "Running",
    "disposition": "",
    "outputs": [],
    "messages": [],
    "priority": "Default",
    "workerTag": "",
    "runWithE2": True,
}


async def test_alteryx_client_credentials_and_single_flight_renewal(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "ayx", "alteryx", host=f"{API}/webapi", login="key", password="secret")
    server = TokenServer("/webapi/oauth2/token", "snake")
    rec = Recorder(server.route(ALTERYX_RUNNING))
    with routed(rec.handle) as url:
        hooks = [served(AlteryxHook("ayx"), f"{url}/webapi") for _ in range(20)]
        try:
            results = await asyncio.gather(*(h.aget_job_status("a1") for h in hooks))
            assert {r.state for r in results} == {JobState.RUNNING}
            assert len(server.token_requests) == 1  # twenty waits, one token (shared per connection and loop)
            server.revoke()
            await asyncio.gather(*(h.aget_job_status("a1") for h in hooks))
            assert len(server.token_requests) == 2  # renewed once, not once per wait
        finally:
            for h in hooks:
                await h.aclose()
    token_req = server.token_requests[0]
    assert token_req.headers["authorization"] == "Basic " + base64.b64encode(b"key:secret").decode()
    assert token_req.content == b"grant_type=client_credentials"
    status_req = next(r for r in rec.requests if r.url.path == "/webapi/v3/jobs/a1")
    assert status_req.url.params["includeMessages"] == "true"


# -- faults -------------------------------------------------------------------------------------
def test_transient_faults_retried_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "pdf2", "pdfco", host=API, password="k")
    answers = iter(
        [
            httpx.Response(503, text="busy"),
            httpx.Response(
                429, headers={"Retry-After": "0"}, json={"error": True, "status": 429, "message": "slow"}
            ),
            httpx.Response(200, json={"status": "success", "url": f"{FILES}/a.pdf?sig=1", "jobId": "x"}),
        ]
    )
    rec = Recorder(lambda req: next(answers))
    status = fast(PdfCoHook, "pdf2", rec, retries=3).get_job_status("x")
    assert status.state is JobState.SUCCEEDED
    assert len(rec.requests) == 3


def test_transient_faults_give_up_after_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "pdf3", "pdfco", host=API, password="k")

    def boom(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=req)

    rec = Recorder(boom)
    with pytest.raises(TransientVendorError) as err:
        fast(PdfCoHook, "pdf3", rec, retries=2).get_job_status("x")
    assert len(rec.requests) == 2
    assert "PDF.co job 'x'" in str(err.value) and "connection failed" in str(err.value)


def test_huge_status_body_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "pdf4", "pdfco", host=API, password="k")
    rec = Recorder(lambda req: httpx.Response(200, content=b" " * (11 * 1024 * 1024)))
    with pytest.raises(Exception, match="larger than 10 MiB"):
        fast(PdfCoHook, "pdf4", rec, retries=1).get_job_status("x")


# -- credentials stay on the connection's origin -------------------------------------------------
def test_playment_redirect_to_signed_url_gets_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "pm2", "playment", host=API, password="pm-key", extra={"project_id": "p1"})

    def route(req: httpx.Request) -> httpx.Response:
        if req.url.host == "api.vendor.test":
            assert req.headers["x-api-key"] == "pm-key"
            return httpx.Response(302, headers={"Location": f"{FILES}/signed/r.json?X-Amz-Signature=s"})
        return httpx.Response(200, content=b'{"annotations": []}')

    rec = Recorder(route)
    hook = fast(PlaymentHook, "pm2", rec)
    rr = ResultRequest(
        request=ApiRequest("GET", "/v1/attachments", params={"url": f"{FILES}/private/r.json"}),
        name="j1.json",
        result=ResultFile(url=f"{FILES}/private/r.json"),
        follow_redirects=True,
    )
    with hook.open_result(rr) as resp:
        assert resp.read() == b'{"annotations": []}'
    api_req, file_req = rec.requests
    assert api_req.url.params["url"] == f"{FILES}/private/r.json"
    assert file_req.url.host == "files.other.test"
    assert "x-api-key" not in file_req.headers and "authorization" not in file_req.headers


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://files.other.test/x"])
def test_redirect_to_other_schemes_refused(monkeypatch: pytest.MonkeyPatch, location: str) -> None:
    set_conn(monkeypatch, "pm3", "playment", host=API, password="pm-key", extra={"project_id": "p1"})
    rec = Recorder(lambda req: httpx.Response(302, headers={"Location": location}))
    rr = ResultRequest(ApiRequest("GET", "/v1/attachments"), "x", ResultFile(), follow_redirects=True)
    with pytest.raises(UnsafeRedirectError), fast(PlaymentHook, "pm3", rec).open_result(rr):
        pass


def test_redirect_loop_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "pm4", "playment", host=API, password="pm-key", extra={"project_id": "p1"})
    rec = Recorder(lambda req: httpx.Response(302, headers={"Location": "/v1/attachments"}))
    rr = ResultRequest(ApiRequest("GET", "/v1/attachments"), "x", ResultFile(), follow_redirects=True)
    with (
        pytest.raises(UnsafeRedirectError, match="redirects"),
        fast(PlaymentHook, "pm4", rec).open_result(rr),
    ):
        pass
    assert len(rec.requests) == 6


def test_absolute_result_url_elsewhere_gets_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "pdf5", "pdfco", host=API, password="k-secret")
    rec = Recorder(lambda req: httpx.Response(200, content=b"%PDF"))
    rr = ResultRequest(ApiRequest("GET", f"{FILES}/a.pdf?sig=1", authenticated=True), "a.pdf", ResultFile())
    with fast(PdfCoHook, "pdf5", rec).open_result(rr) as resp:
        resp.read()
    assert "x-api-key" not in rec.requests[0].headers


# -- connections --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"host": API}, "field 'password'"),
        ({"host": "ftp://x", "password": "k"}, "field 'host'"),
        ({"host": API, "password": "k", "extra": "{not json"}, "field 'extra'"),
    ],
)
def test_bad_connection_names_the_field(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], needle: str
) -> None:
    set_conn(monkeypatch, "badconn", "pdfco", **fields)
    if "extra" in fields and not AIRFLOW_HANDS_OVER_UNPARSABLE_EXTRA:
        with pytest.raises(AirflowNotFoundException, match="isn't defined"):
            PdfCoHook("badconn").settings()
        return
    with pytest.raises(ConfigurationError, match=needle):
        PdfCoHook("badconn").settings()


def test_nitro_needs_login(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "nologin", "nitro", password="s")
    with pytest.raises(ConfigurationError, match="field 'login'"):
        NitroHook("nologin").settings()


def test_connection_type_picks_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HOOKS:
        set_conn(monkeypatch, f"pick_{name}", name, host=API, login="l", password="p")
        assert type(JobStatusHook.for_connection(f"pick_{name}")) is HOOKS[name]
    set_conn(monkeypatch, "pick_http", "http", host=API)
    with pytest.raises(ConfigurationError, match="has type 'http'"):
        JobStatusHook.for_connection("pick_http")


def test_hook_repr_and_defaults_carry_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "pdfco_default", "pdfco", password="top-secret")
    hook = PdfCoHook()
    assert hook.conn_id == "pdfco_default"
    assert PdfCoHook(conn_id="x").conn_id == "x"
    settings = hook.settings()
    assert settings.base_url == "https://api.pdf.co"
    assert "top-secret" not in repr(hook) + repr(settings)


def test_test_connection_reports_key_accepted_and_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "tc", "apidatatools", host=API, password="good")

    def route(req: httpx.Request) -> httpx.Response:
        if req.headers.get("x-api-key") != "good":
            return httpx.Response(
                401, json={"status": "error", "error": "UNAUTHORIZED", "details": {"message": "no"}}
            )
        return httpx.Response(
            404, json={"status": "error", "error": "JOB_NOT_FOUND", "details": {"message": "nf"}}
        )

    ok, message = fast(ApiDataToolsHook, "tc", Recorder(route)).test_connection()
    assert ok, message
    set_conn(monkeypatch, "tc2", "apidatatools", host=API, password="wrong")
    ok, message = fast(ApiDataToolsHook, "tc2", Recorder(route)).test_connection()
    assert not ok and "credentials refused" in message


def test_tokens_are_registered_with_the_secrets_masker(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact

    set_conn(monkeypatch, "nit_mask", "nitro", host=API, login="cid", password="csecret")
    server = TokenServer("/oauth/token")
    fast(NitroHook, "nit_mask", Recorder(server.route(NITRO_RUNNING))).get_job_status("n1")
    assert server.valid is not None
    assert server.valid not in str(redact(f"Authorization: Bearer {server.valid}"))


async def test_waits_share_the_settings_of_one_lookup_and_see_a_rotated_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_jobstatus.hooks import base

    set_conn(monkeypatch, "shared_nitro", "nitro", host=API, login="id", password="old-secret")
    first, second = [await JobStatusHook.afor_connection("shared_nitro", retries=1) for _ in range(2)]
    assert first.settings() is second.settings()  # a thousand waits: one copy, one secret hash
    timed = await JobStatusHook.afor_connection("shared_nitro", timeout=5.0)
    assert timed.settings().client.timeout == 5.0 and first.settings().client.timeout != 5.0
    # the shared lookup expires (CONNECTION_MAX_AGE): the next wait reads the rotated key
    set_conn(monkeypatch, "shared_nitro", "nitro", host=API, login="id", password="new-secret")
    base._connections.clear()
    rotated = await JobStatusHook.afor_connection("shared_nitro", retries=1)
    assert rotated.settings().creds.secret == "new-secret"
    assert first.settings().creds.secret == "old-secret"
