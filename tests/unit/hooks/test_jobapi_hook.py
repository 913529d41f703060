"""JobApiHook: the protocol comes from the connection's ``profile``; credentials (and the fixed
headers) reach the connection's own origin only, whatever result URLs and redirects say."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from airflow_provider_jobstatus.errors import ConfigurationError
from airflow_provider_jobstatus.hooks import HOOKS, JobApiHook, JobStatusHook
from airflow_provider_jobstatus.status import JobState
from tests.routed import routed, served
from tests.unit.hooks.test_hooks import API, FILES, Recorder, fast, set_conn
from tests.unit.vendors.test_jobapi import ASSEMBLYAI

REPLICATE: dict[str, Any] = {
    "name": "Replicate",
    "auth": {"scheme": "bearer"},
    "headers": {"X-Team": "data"},
    "start": {"path": "/v1/predictions", "job_id": "id"},
    "status": {
        "path": "/v1/predictions/{job_id}",
        "state": "status",
        "states": {
            "queued": ["starting"],
            "running": ["processing"],
            "succeeded": ["succeeded"],
            "failed": ["failed"],
            "canceled": ["canceled"],
        },
        "message": "error",
    },
    "results": {"files": "output"},
    "cancel": {"path": "/v1/predictions/{job_id}/cancel"},
}


def declare(monkeypatch: pytest.MonkeyPatch, conn_id: str, profile: Any, **fields: Any) -> None:
    fields.setdefault("host", API)
    fields.setdefault("password", "tok-1")
    extra = {"profile": profile, **fields.pop("extra", {})}
    set_conn(monkeypatch, conn_id, "jobapi", extra=extra, **fields)


def answer(body: Any, code: int = 200) -> Recorder:
    return Recorder(lambda req: httpx.Response(code, json=body))


def test_registered_as_connection_type_jobapi(monkeypatch: pytest.MonkeyPatch) -> None:
    assert HOOKS["jobapi"] is JobApiHook
    assert (JobApiHook.conn_type, JobApiHook.hook_name) == ("jobapi", "Job API (declared)")
    declare(monkeypatch, "ja_pick", REPLICATE)
    hook = JobStatusHook.for_connection("ja_pick")
    assert type(hook) is JobApiHook
    # the protocol is read with the connection, when first asked for
    assert (hook.vendor.name, hook.vendor.display_name) == ("jobapi", "Replicate")
    assert "profile" not in hook.settings().extras  # polls do not carry the declaration along


@pytest.mark.parametrize("as_text", [False, True])
def test_status_through_a_declared_api(monkeypatch: pytest.MonkeyPatch, as_text: bool) -> None:
    declare(monkeypatch, "ja_status", json.dumps(ASSEMBLYAI) if as_text else ASSEMBLYAI, password="aai-key")
    rec = answer({"id": "t1", "status": "processing", "error": None})
    status = fast(JobApiHook, "ja_status", rec).get_job_status("t 1")
    assert (status.state, status.raw_status, status.vendor) == (JobState.RUNNING, "processing", "jobapi")
    (req,) = rec.requests
    assert (req.method, req.url.raw_path) == ("GET", b"/v2/transcript/t%201")
    assert req.headers["authorization"] == "aai-key"
    assert req.headers["accept"] == "application/json"


@pytest.mark.parametrize(
    ("auth", "login", "password", "sent"),
    [
        ({"scheme": "bearer"}, None, "t", {"authorization": "Bearer t"}),
        ({"scheme": "header", "header": "x-api-key"}, None, "k", {"x-api-key": "k"}),
        (
            {"scheme": "header", "header": "Authorization", "prefix": "Token "},
            None,
            "k",
            {"authorization": "Token k"},
        ),
        ({"scheme": "basic"}, "user", "pw", {"authorization": "Basic dXNlcjpwdw=="}),
        ({"scheme": "basic"}, "user", None, {"authorization": "Basic dXNlcjo="}),
        ({"scheme": "none"}, None, None, {}),
    ],
)
def test_each_auth_scheme_on_the_wire(
    monkeypatch: pytest.MonkeyPatch,
    auth: dict[str, Any],
    login: str | None,
    password: str | None,
    sent: dict[str, str],
) -> None:
    profile = {**copy.deepcopy(REPLICATE), "auth": auth}
    declare(monkeypatch, "ja_auth", profile, login=login, password=password)
    rec = answer({"status": "starting"})
    assert fast(JobApiHook, "ja_auth", rec).get_job_status("p1").state is JobState.QUEUED
    (req,) = rec.requests
    got = {k: v for k, v in req.headers.items() if k in ("authorization", "x-api-key")}
    assert got == sent
    assert req.headers["x-team"] == "data"


def test_a_secret_scheme_needs_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    declare(monkeypatch, "ja_nopw", REPLICATE, password=None)
    with pytest.raises(ConfigurationError, match=r"Replicate: connection 'ja_nopw'.*field 'password'"):
        JobApiHook("ja_nopw").settings()


def test_host_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    declare(monkeypatch, "ja_nohost", REPLICATE, host=None)
    with pytest.raises(ConfigurationError, match=r"field 'host' \(the API base URL\) is empty"):
        JobApiHook("ja_nohost").settings()


def test_profile_mistake_fails_when_the_connection_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = copy.deepcopy(REPLICATE)
    profile["status"]["stat"] = "x"
    declare(monkeypatch, "ja_bad", profile)
    rec = answer({})
    hook = fast(JobApiHook, "ja_bad", rec)
    with pytest.raises(
        ConfigurationError, match=r"connection 'ja_bad': profile\.status\.stat: unknown field"
    ):
        hook.get_job_status("p1")
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Replicate: connection 'ja_bad': profile.status.stat: unknown field")
    assert rec.requests == []  # nothing was sent


def test_missing_profile_says_where_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "ja_none", "jobapi", host=API, password="x")
    ok, message = JobApiHook("ja_none").test_connection()
    assert not ok and message == (
        "Job API (declared): connection 'ja_none': extra 'profile' is missing: "
        "a jobapi connection declares its API there"
    )


def test_test_button_accepts_a_key_that_gets_404(monkeypatch: pytest.MonkeyPatch) -> None:
    declare(monkeypatch, "ja_test", REPLICATE, password="good")

    def route(req: httpx.Request) -> httpx.Response:
        if req.headers.get("authorization") != "Bearer good":
            return httpx.Response(401, json={"error": "Unauthenticated"})
        return httpx.Response(404, json={"error": "Not found"})

    ok, message = fast(JobApiHook, "ja_test", Recorder(route)).test_connection()
    assert ok and message.startswith("Replicate: credentials accepted"), message
    declare(monkeypatch, "ja_test2", REPLICATE, password="bad")
    ok, message = fast(JobApiHook, "ja_test2", Recorder(route)).test_connection()
    assert not ok and message == "Replicate: credentials refused (HTTP 401): Unauthenticated"


def test_start_form_and_json_bodies_and_cancel(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = copy.deepcopy(REPLICATE)
    declare(monkeypatch, "ja_json", profile)
    rec = answer({"id": 42, "status": "starting"}, 201)
    hook = fast(JobApiHook, "ja_json", rec)
    api = hook.vendor
    assert api.parse_start(hook.request(api.start_request({"version": "v", "input": {"p": 1}}))) == "42"
    assert json.loads(rec.requests[0].content) == {"version": "v", "input": {"p": 1}}
    assert hook.cancel_job("42") is True
    assert (rec.requests[1].method, rec.requests[1].url.path) == ("POST", "/v1/predictions/42/cancel")
    profile["start"]["body"] = "form"
    del profile["cancel"]
    declare(monkeypatch, "ja_form", profile)
    rec = answer({"id": "f1"})
    hook = fast(JobApiHook, "ja_form", rec)
    assert hook.vendor.parse_start(hook.request(hook.vendor.start_request({"a": "1 2", "n": 3}))) == "f1"
    (req,) = rec.requests
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert req.content == b"a=1+2&n=3"
    assert hook.cancel_job("f1") is False  # no cancel declared: nothing sent
    assert len(rec.requests) == 1


def test_results_elsewhere_and_redirects_elsewhere_get_no_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profile = {**copy.deepcopy(REPLICATE), "auth": {"scheme": "header", "header": "x-api-key"}}
    declare(monkeypatch, "ja_files", profile, password="key-9")

    def route(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/v1/predictions/p1":
            return httpx.Response(
                200,
                json={"status": "succeeded", "output": [f"{FILES}/o/a.png?sig=s", f"{API}/v1/files/b.png"]},
            )
        if req.url.path == "/v1/files/b.png":
            return httpx.Response(302, headers={"Location": f"{FILES}/signed/b.png?sig=t"})
        return httpx.Response(200, content=b"PNG")

    rec = Recorder(route)
    hook = fast(JobApiHook, "ja_files", rec)
    status = hook.get_job_status("p1")
    assert [r.name for r in status.results] == ["a.png", "b.png"]
    for rr in hook.vendor.result_requests(status, {}, {}):
        with hook.open_result(rr, "p1") as resp:
            assert resp.read() == b"PNG"
    _, elsewhere, own, redirected = rec.requests
    assert (own.url.host, own.headers["x-api-key"], own.headers["x-team"]) == (
        "api.vendor.test",
        "key-9",
        "data",
    )
    for req in (elsewhere, redirected):
        assert req.url.host == "files.other.test"
        assert "x-api-key" not in req.headers and "authorization" not in req.headers
        assert "x-team" not in req.headers  # the fixed headers belong to the API's own origin too


async def test_async_path_and_profiles_not_mixed_on_one_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two connections on one host with one secret but different profiles keep their own auth."""
    declare(monkeypatch, "ja_a", REPLICATE, password="same")
    declare(
        monkeypatch,
        "ja_b",
        {**copy.deepcopy(REPLICATE), "auth": {"scheme": "header", "header": "x-key"}},
        password="same",
    )
    rec = answer({"status": "processing"})
    with routed(rec.handle) as url:
        first = served(await JobStatusHook.afor_connection("ja_a", retries=1), url)
        second = served(await JobStatusHook.afor_connection("ja_b", retries=1), url)
        again = await JobStatusHook.afor_connection("ja_a", retries=1)  # the shared lookup
        assert again.vendor is first.vendor
        async with first, second:
            assert (await first.aget_job_status("p1")).state is JobState.RUNNING
            assert (await second.aget_job_status("p1")).state is JobState.RUNNING
    one, two = rec.requests
    assert one.headers["authorization"] == "Bearer same" and "x-key" not in one.headers
    assert two.headers["x-key"] == "same" and "authorization" not in two.headers


def test_connection_form_shows_login_and_the_profile_field() -> None:
    from airflow_provider_jobstatus import get_provider_info

    (entry,) = [t for t in get_provider_info()["connection-types"] if t["connection-type"] == "jobapi"]
    assert entry["hook-class-name"] == "airflow_provider_jobstatus.hooks.JobApiHook"
    assert entry["hook-name"] == "Job API (declared)"
    behaviour = entry["ui-field-behaviour"]
    assert "login" not in behaviour["hidden-fields"] and "host" not in behaviour["hidden-fields"]
    assert behaviour["relabeling"]["login"] == "User name or client id"
    assert entry["conn-fields"]["profile"]["schema"]["type"] == ["string", "null"]
    assert JobApiHook.get_ui_field_behaviour() == behaviour
