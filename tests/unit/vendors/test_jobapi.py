"""A declared job API (connection type ``jobapi``): each profile field, auth scheme and mistake."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobNotFoundError,
    MalformedResponseError,
    TransientVendorError,
    VendorRequestError,
)
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.vendors import Credentials, describe_status
from airflow_provider_jobstatus.vendors.jobapi import JobApi, declared_api
from tests.unit.vendors.conftest import make_response

#: the issue's example, from AssemblyAI's public docs
ASSEMBLYAI: dict[str, Any] = {
    "name": "AssemblyAI",
    "auth": {"scheme": "header", "header": "Authorization"},
    "headers": {"Accept": "application/json"},
    "start": {"method": "POST", "path": "/v2/transcript", "body": "json", "job_id": "id"},
    "status": {
        "method": "GET",
        "path": "/v2/transcript/{job_id}",
        "state": "status",
        "states": {
            "queued": ["queued"],
            "running": ["processing"],
            "succeeded": ["completed"],
            "failed": ["error"],
            "canceled": [],
        },
        "message": "error",
        "retry_after": None,
        "not_found": "missing",
    },
    "results": None,
    "cancel": None,
    "job_url": None,
}


def api_with(change: Callable[[dict[str, Any]], Any] = lambda p: None) -> JobApi:
    profile = copy.deepcopy(ASSEMBLYAI)
    change(profile)
    return declared_api(profile)


def mistake(change: Callable[[dict[str, Any]], Any]) -> str:
    with pytest.raises(ConfigurationError) as info:
        api_with(change)
    return str(info.value)


def status(api: JobApi, body: Any, code: int = 200, job_id: str = "j1") -> JobStatus:
    return api.parse_status(job_id, make_response(code, body), {})


CREDS = Credentials(login="me", secret="s3cret")


# -- the profile: read once, from an object or a string ------------------------------------------


def test_profile_from_object_or_string_is_one_protocol() -> None:
    api = declared_api(ASSEMBLYAI)
    assert declared_api(json.dumps(ASSEMBLYAI)).profile == api.profile
    assert declared_api(copy.deepcopy(ASSEMBLYAI)) is api  # one object per profile
    assert (api.name, api.display_name, api.default_base_url) == ("jobapi", "AssemblyAI", None)
    assert repr(api) == "JobApi('AssemblyAI')"


def test_defaults() -> None:
    api = declared_api(
        {
            "name": "Minimal",
            "auth": {"scheme": "bearer"},
            "status": {"path": "/jobs/{job_id}", "state": "state", "states": {"succeeded": ["done"]}},
        }
    )
    profile = api.profile
    assert profile.status.method == "GET" and profile.status.not_found == "missing"
    assert profile.start is None and profile.results is None and profile.cancel is None
    assert api.status_request("j", {}).method == "GET"
    assert api.cancel_request("j", {}) is None
    assert api.job_url("https://x", "j") is None
    with pytest.raises(ConfigurationError, match=r"declares no 'start'.*add profile\.start"):
        api.start_request({"a": 1})


# -- auth -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "headers"),
    [
        ({"scheme": "bearer"}, {"Authorization": "Bearer s3cret"}),
        ({"scheme": "header", "header": "x-api-key"}, {"x-api-key": "s3cret"}),
        (
            {"scheme": "header", "header": "Authorization", "prefix": "Token "},
            {"Authorization": "Token s3cret"},
        ),
        ({"scheme": "basic"}, {"Authorization": "Basic bWU6czNjcmV0"}),  # me:s3cret
        ({"scheme": "none"}, {}),
    ],
)
def test_auth_schemes_with_fixed_headers(auth: dict[str, Any], headers: dict[str, str]) -> None:
    api = api_with(lambda p: p.update(auth=auth, headers={"Accept": "application/json", "X-Team": "a"}))
    assert api.auth_headers(CREDS, None) == {"Accept": "application/json", "X-Team": "a", **headers}


def test_basic_with_empty_login_or_password() -> None:
    api = api_with(lambda p: p.update(auth={"scheme": "basic"}))
    assert api.auth_headers(Credentials(login=None, secret="pw"), None) == {
        "Accept": "application/json",
        "Authorization": "Basic OnB3",  # ":pw"
    }
    assert api.auth_headers(Credentials(login="id", secret=""), None)["Authorization"] == "Basic aWQ6"


@pytest.mark.parametrize(("scheme", "needs"), [("bearer", True), ("basic", False), ("none", False)])
def test_which_schemes_need_the_secret(scheme: str, needs: bool) -> None:
    assert api_with(lambda p: p.update(auth={"scheme": scheme})).needs_secret is needs
    assert api_with().needs_secret  # header


# -- start ------------------------------------------------------------------------------------------


def test_start_json_body() -> None:
    req = api_with().start_request({"audio_url": "https://x/a.mp3", "speaker_labels": True})
    assert (req.method, req.url, req.json, req.form) == (
        "POST",
        "/v2/transcript",
        {"audio_url": "https://x/a.mp3", "speaker_labels": True},
        None,
    )
    assert req.authenticated


def test_start_form_body() -> None:
    api = api_with(lambda p: p["start"].update(body="form", method="PUT"))
    req = api.start_request({"file": "a.pdf", "pages": 3, "ocr": True})
    assert (req.method, req.json, req.form) == ("PUT", None, {"file": "a.pdf", "pages": "3", "ocr": "true"})
    with pytest.raises(ConfigurationError, match=r"profile\.start\.body is 'form'.*flat object"):
        api.start_request({"nested": {"a": 1}})


@pytest.mark.parametrize(
    ("body", "job_id"),
    [
        ({"id": "abc"}, "abc"),
        ({"id": " abc "}, "abc"),
        ({"id": 12345678901234567890}, "12345678901234567890"),
    ],
)
def test_start_reads_the_job_id_numbers_as_decimal_text(body: Any, job_id: str) -> None:
    assert api_with().parse_start(make_response(200, body)) == job_id


def test_start_job_id_is_a_jmespath() -> None:
    api = api_with(lambda p: p["start"].update(job_id="data.jobs[0].id"))
    assert api.parse_start(make_response(201, {"data": {"jobs": [{"id": 7}]}})) == "7"


@pytest.mark.parametrize("body", [{"id": None}, {"id": ""}, {"other": 1}, {"id": True}, {"id": 1.5}, [1]])
def test_start_without_an_id_says_a_job_may_exist(body: Any) -> None:
    with pytest.raises(
        MalformedResponseError, match=r"profile\.start\.job_id 'id'.*a job may have been created"
    ):
        api_with().parse_start(make_response(200, body))


def test_start_refused_with_the_vendors_words() -> None:
    with pytest.raises(VendorRequestError, match=r"refused to start the job \(HTTP 400\): bad audio_url"):
        api_with().parse_start(make_response(400, {"error": "bad audio_url"}))
    with pytest.raises(TransientVendorError):
        api_with().parse_start(make_response(503, b""))


# -- status -----------------------------------------------------------------------------------------


def test_status_request_fills_the_path_escaped() -> None:
    api = api_with(lambda p: p["status"].update(method="POST"))
    req = api.status_request("a/../b?c", {})
    assert (req.method, req.url) == ("POST", "/v2/transcript/a%2F..%2Fb%3Fc")
    with pytest.raises(ConfigurationError, match="empty"):
        api.status_request(" ", {})


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("queued", JobState.QUEUED),
        ("processing", JobState.RUNNING),
        ("completed", JobState.SUCCEEDED),
        ("error", JobState.FAILED),
    ],
)
def test_states_map_raw_values(raw: str, state: JobState) -> None:
    got = status(api_with(), {"id": "j1", "status": raw, "error": None})
    assert (got.state, got.raw_status, got.vendor, got.job_id) == (state, raw, "jobapi", "j1")
    assert got.details == {"api": "AssemblyAI"}
    assert describe_status(got).startswith("AssemblyAI job 'j1' is ")


def test_canceled_and_several_raw_values_per_state() -> None:
    api = api_with(lambda p: p["status"]["states"].update(canceled=["aborted", "canceled"]))
    assert status(api, {"status": "aborted"}).state is JobState.CANCELED
    assert status(api, {"status": "canceled"}).state is JobState.CANCELED


def test_state_is_a_jmespath_and_numbers_compare_as_text() -> None:
    api = api_with(
        lambda p: p["status"].update(
            state="job.state_code", states={"running": ["1"], "succeeded": ["2"], "failed": ["3"]}
        )
    )
    assert status(api, {"job": {"state_code": 2}}).state is JobState.SUCCEEDED


def test_unknown_state_is_never_success_and_keeps_the_raw() -> None:
    got = status(api_with(), {"status": "paused", "error": None})
    assert (got.state, got.raw_status) == (JobState.UNKNOWN, "paused")
    assert got.message == "unrecognised status 'paused'"
    assert got.raw == {"status": "paused", "error": None}


@pytest.mark.parametrize(
    "body", [{"status": None}, {"other": "x"}, {"status": ["a"]}, {"status": True}, b'"x"']
)
def test_no_state_in_the_answer_is_malformed(body: Any) -> None:
    with pytest.raises(MalformedResponseError, match=r"profile\.status\.state 'status' found"):
        status(api_with(), body)


def test_failed_message_text_or_compact_json() -> None:
    got = status(api_with(), {"status": "error", "error": "Download error: 404"})
    assert (got.state, got.message) == (JobState.FAILED, "Download error: 404")
    api = api_with(lambda p: p["status"].update(message="problem"))
    got = status(api, {"status": "error", "problem": {"code": 7, "why": ["a", "b"]}})
    assert got.message == '{"code":7,"why":["a","b"]}'
    assert status(api, {"status": "error"}).message == "the job failed"
    assert status(api, {"status": "processing", "problem": "slow"}).message == "slow"


def test_retry_after_paces_the_wait() -> None:
    api = api_with(lambda p: p["status"].update(retry_after="poll.after"))
    assert status(api, {"status": "processing", "poll": {"after": 12}}).retry_after == 12.0
    assert status(api, {"status": "processing"}).retry_after is None
    assert status(api, {"status": "processing", "poll": {"after": -3}}).retry_after == 0.0
    with pytest.raises(MalformedResponseError, match=r"profile\.status\.retry_after found a string"):
        status(api, {"status": "processing", "poll": {"after": "soon"}})


def test_not_found_missing_is_the_contracts_404() -> None:
    with pytest.raises(JobNotFoundError, match="HTTP 404"):
        status(api_with(), {"error": "no such transcript"}, code=404)


def test_not_found_running_waits_through_404() -> None:
    api = api_with(lambda p: p["status"].update(not_found="running"))
    got = status(api, b"", code=404)
    assert (got.state, got.raw_status) == (JobState.RUNNING, None)
    assert "404" in (got.message or "")


@pytest.mark.parametrize(
    ("code", "error"), [(401, AuthenticationError), (500, TransientVendorError), (400, VendorRequestError)]
)
def test_http_errors_follow_the_contract(code: int, error: type[Exception]) -> None:
    with pytest.raises(error, match="no access"):
        status(api_with(), {"error": "no access"}, code=code)


def test_html_answer_is_malformed() -> None:
    with pytest.raises(MalformedResponseError, match="HTML"):
        status(api_with(), b"<html>gateway</html>")


# -- results ----------------------------------------------------------------------------------------


def done(api: JobApi, body: dict[str, Any]) -> JobStatus:
    return status(api, {"status": "completed", **body})


def test_results_a_url_string() -> None:
    api = api_with(lambda p: p.update(results={"files": "output"}))
    got = done(api, {"output": "https://cdn.example/out/a.png?sig=1"})
    assert [(r.url, r.name) for r in got.results] == [("https://cdn.example/out/a.png?sig=1", "a.png")]


def test_results_a_list_of_url_strings_named_uniquely() -> None:
    api = api_with(lambda p: p.update(results={"files": "output"}))
    got = done(
        api, {"output": ["https://a.example/x/out.png", "https://b.example/y/out.png", "/files/3.txt"]}
    )
    assert [(r.url, r.name) for r in got.results] == [
        ("https://a.example/x/out.png", "out.png"),
        ("https://b.example/y/out.png", "out-2.png"),
        ("/files/3.txt", "3.txt"),
    ]


def test_results_objects_with_url_name_and_size() -> None:
    api = api_with(
        lambda p: p.update(results={"files": "files", "url": "link.href", "name": "title", "size": "bytes"})
    )
    got = done(
        api, {"files": [{"link": {"href": "https://s.example/k?x=1"}, "title": "../r.csv", "bytes": 42}]}
    )
    [result] = got.results
    assert (result.url, result.name, result.size) == ("https://s.example/k?x=1", "r.csv", 42)


def test_results_objects_with_url_template() -> None:
    api = api_with(
        lambda p: p.update(
            results={"files": "outputs", "url_template": "/v2/outputs/{id}/download", "name": "name"}
        )
    )
    got = done(api, {"outputs": [{"id": "o/1", "name": "a.txt"}, {"id": 2}]})
    assert [(r.url, r.name, r.size) for r in got.results] == [
        ("/v2/outputs/o%2F1/download", "a.txt", None),
        ("/v2/outputs/2/download", "download", None),
    ]


def test_no_results_is_an_empty_list() -> None:
    api = api_with(lambda p: p.update(results={"files": "output"}))
    assert done(api, {"output": None}).results == []
    assert done(api_with(), {}).results == []  # no results declared


@pytest.mark.parametrize(
    ("results", "body", "said"),
    [
        ({"files": "output"}, {"output": 5}, r"profile\.results\.files found a number"),
        ({"files": "output"}, {"output": ["ftp://x/y"]}, "not an absolute http"),
        ({"files": "output", "url": "u"}, {"output": [{"v": 1}]}, r"profile\.results\.url found null"),
        ({"files": "o", "url": "u", "size": "s"}, {"o": [{"u": "https://x/a", "s": -1}]}, r"results\.size"),
        ({"files": "o", "url": "u", "name": "n"}, {"o": [{"u": "https://x/a", "n": 3}]}, r"results\.name"),
        ({"files": "o", "url_template": "/d/{id}"}, {"o": [{"x": 1}]}, r"results\.url_template.*\{id\}"),
    ],
)
def test_results_of_the_wrong_shape_are_malformed(results: dict[str, Any], body: Any, said: str) -> None:
    with pytest.raises(MalformedResponseError, match=said):
        done(api_with(lambda p: p.update(results=results)), body)


def test_result_requests_follow_redirects_and_select() -> None:
    api = api_with(lambda p: p.update(results={"files": "output"}))
    got = done(api, {"output": ["https://cdn.example/a.png", "/files/b.png"]})
    requests = api.result_requests(got, {}, {})
    assert [(r.request.method, r.request.url, r.name, r.follow_redirects) for r in requests] == [
        ("GET", "https://cdn.example/a.png", "a.png", True),
        ("GET", "/files/b.png", "b.png", True),
    ]
    assert [r.name for r in api.result_requests(got, {"index": 1}, {})] == ["b.png"]
    with pytest.raises(Exception, match="the job is running"):
        api.result_requests(status(api, {"status": "processing"}), {}, {})


# -- cancel and the job's page -----------------------------------------------------------------------


def test_cancel_request() -> None:
    api = api_with(lambda p: p.update(cancel={"path": "/v1/predictions/{job_id}/cancel"}))
    req = api.cancel_request("p 1", {})
    assert req is not None and (req.method, req.url) == ("POST", "/v1/predictions/p%201/cancel")
    api = api_with(lambda p: p.update(cancel={"method": "DELETE", "path": "/v2/transcript/{job_id}"}))
    req = api.cancel_request("t1", {})
    assert req is not None and (req.method, req.url) == ("DELETE", "/v2/transcript/t1")


def test_job_url() -> None:
    api = api_with(lambda p: p.update(job_url="https://app.example/jobs/{job_id}"))
    assert api.job_url("https://api.example", "a/b") == "https://app.example/jobs/a%2Fb"
    api = api_with(lambda p: p.update(job_url="/jobs/{job_id}"))
    assert api.job_url("https://api.example/v2", "j") == "https://api.example/v2/jobs/j"


# -- mistakes: each names the connection and the field -----------------------------------------------


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            lambda p: p.update(stat={}),
            "profile.stat: unknown field; the fields here are name, auth, headers,",
        ),
        (
            lambda p: p["status"].update(stat=1),
            "profile.status.stat: unknown field; the fields here are method,",
        ),
        (lambda p: p.pop("status"), "profile.status: required field is missing"),
        (lambda p: p["status"].pop("state"), "profile.status.state: required field is missing"),
        (lambda p: p.pop("name"), "profile.name: required field is missing"),
        (lambda p: p.update(name=""), "profile.name: String should have at least 1 character"),
        (
            lambda p: p["status"]["states"].update(done=["x"]),
            "profile.status.states.done: Input should be 'queued'",
        ),
        (
            lambda p: p["status"]["states"].update(failed="error"),
            "profile.status.states.failed: Input should be a valid list",
        ),
        (
            lambda p: p["status"]["states"].update(failed=["completed"]),
            "profile.status.states: 'completed' is listed under both",
        ),
        (
            lambda p: p["status"]["states"].update(succeeded=[]),
            "profile.status.states: list at least one raw value for 'succeeded'",
        ),
        (
            lambda p: p["status"].update(path="/v2/transcript"),
            "profile.status.path: '/v2/transcript' must contain {job_id}",
        ),
        (
            lambda p: p["status"].update(path="/v2/{job_id}/{x}"),
            "profile.status.path: '/v2/{job_id}/{x}' must contain {job_id} once",
        ),
        (
            lambda p: p["status"].update(path="v2/{job_id}"),
            "profile.status.path: 'v2/{job_id}' must be a path under the base URL",
        ),
        (
            lambda p: p.update(cancel={"path": "/cancel"}),
            "profile.cancel.path: '/cancel' must contain {job_id}",
        ),
        (
            lambda p: p["status"].update(state="status[?"),
            "profile.status.state: 'status[?' is not a JMESPath expression",
        ),
        (
            lambda p: p["start"].update(job_id="a..b"),
            "profile.start.job_id: 'a..b' is not a JMESPath expression",
        ),
        (
            lambda p: p.update(results={"files": "`x"}),
            "profile.results.files: '`x' is not a JMESPath expression",
        ),
        (lambda p: p["status"].update(message=5), "profile.status.message: Input should be a valid string"),
        (
            lambda p: p["status"].update(not_found="gone"),
            "profile.status.not_found: Input should be 'missing' or 'running'",
        ),
        (lambda p: p["start"].update(body="xml"), "profile.start.body: Input should be 'json' or 'form'"),
        (lambda p: p["start"].update(method="post"), "profile.start.method: Input should be 'GET', 'POST'"),
        (
            lambda p: p.update(auth={"scheme": "token"}),
            "profile.auth.scheme: Input should be 'bearer', 'header', 'basic' or 'none'",
        ),
        (
            lambda p: p.update(auth={"scheme": "header"}),
            "profile.auth.header: scheme 'header' needs the header's name",
        ),
        (
            lambda p: p.update(auth={"scheme": "bearer", "prefix": "x"}),
            "profile.auth.prefix: goes only with scheme 'header'",
        ),
        (
            lambda p: p.update(headers={"bad name": "x"}),
            "profile.headers.bad name: 'bad name' is not a valid HTTP header name",
        ),
        (lambda p: p.update(headers={"A": "x\r\nB: y"}), "profile.headers.A: contains a line break"),
        (lambda p: p.update(headers={"authorization": "x"}), "profile.headers: must not set 'authorization'"),
        (
            lambda p: p.update(results={"files": "f", "url": "u", "url_template": "/d/{id}"}),
            "profile.results.url_template: give 'url' or 'url_template', not both",
        ),
        (
            lambda p: p.update(job_url="https://x/{id}"),
            "profile.job_url: must be an http(s) URL or a path with {job_id}",
        ),
    ],
)
def test_each_mistake_names_the_field(change: Callable[[dict[str, Any]], Any], said: str) -> None:
    vendor, _, text = mistake(change).partition(": ")
    assert vendor in ("AssemblyAI", "Job API (declared)")  # the profile's name once it has one
    assert text.startswith(said)


def test_mistakes_before_a_name_use_the_generic_one() -> None:
    for raw, said in [
        (None, "extra 'profile' is missing"),
        ("", "extra 'profile' is missing"),
        ("{nope", "profile: not valid JSON"),
        ("[1]", "profile: must be a JSON object"),
        ({"auth": {"scheme": "none"}}, "profile.name: required field is missing"),
    ]:
        with pytest.raises(ConfigurationError) as info:
            declared_api(raw)
        assert str(info.value).startswith(f"Job API (declared): {said}")


def test_several_mistakes_are_all_named() -> None:
    text = mistake(lambda p: (p.update(stat=1), p["status"].pop("path")))
    assert "profile.stat: unknown field" in text and "profile.status.path: required field is missing" in text


def test_answer_is_never_read_as_success_without_a_listed_value() -> None:
    # a declared API whose success value appears only in another field is still unknown
    got = status(api_with(), {"status": "COMPLETED"})
    assert got.state is JobState.UNKNOWN
