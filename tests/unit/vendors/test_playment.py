from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobNotFoundError,
    JobStatusError,
    MalformedResponseError,
    TransientVendorError,
    VendorRequestError,
)
from airflow_provider_jobstatus.status import BatchJob, JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors import VENDORS, ApiResponse, Credentials, get_vendor
from airflow_provider_jobstatus.vendors.playment import API

JOB = "3f3e8675-ca69-46d7-aa34-96f90fcbb732"
PROJECT = "905ea3ee-6f62-4bb7-8c31-471e486d9202"
BATCH = "468b6ae3-e98d-4d08-9427-b6e7a016054c"
OPTIONS = {"project_id": PROJECT}
RESULT_URL = "https://playment-results.s3.amazonaws.com/905ea3ee/3f3e8675/result.json"
Respond = Callable[..., ApiResponse]
Fixture = Callable[[str], bytes]


def status_of(resp: ApiResponse, job_id: str = JOB) -> JobStatus:
    return API.parse_status(job_id, resp, OPTIONS)


def envelope(**data: Any) -> dict[str, Any]:
    return {"data": {"job_id": JOB, "reference_id": "001", **data}, "success": True}


def test_registered() -> None:
    assert VENDORS["playment"] is API and get_vendor("playment") is API
    assert (API.display_name, API.default_base_url) == ("Playment", "https://api.playment.io")
    assert API.has_batches and not (API.needs_login or API.uses_token)
    assert API.auth_headers(Credentials(login=None, secret="k"), None) == {"x-api-key": "k"}


# -- requests -----------------------------------------------------------------------------------


def test_status_request() -> None:
    req = API.status_request(JOB, OPTIONS)
    assert (req.method, req.url, req.params, req.json) == (
        "GET",
        f"/v1/projects/{PROJECT}/jobs/{JOB}",
        None,
        None,
    )
    assert req.authenticated


def test_status_request_encodes_project_and_job() -> None:
    req = API.status_request("j/../k?x#y ü", {"project_id": "p/q"})
    assert req.url == "/v1/projects/p%2Fq/jobs/j%2F..%2Fk%3Fx%23y%20%C3%BC"


@pytest.mark.parametrize("options", [{}, {"project_id": ""}, {"project_id": None}, {"project_id": 12}])
def test_project_id_is_required(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="project_id"):
        API.status_request(JOB, options)
    with pytest.raises(ConfigurationError, match="project_id"):
        API.batch_page_request(BATCH, None, options)


# -- statuses -----------------------------------------------------------------------------------


def test_completed_with_result(load_fixture: Fixture, response: Respond) -> None:
    body = load_fixture("playment_job_completed.json")
    status = status_of(response(200, body))
    assert (status.state, status.raw_status) == (JobState.SUCCEEDED, "completed")
    assert status.results == [ResultFile(url=RESULT_URL, name=f"{JOB}.json")]
    assert status.details == {"reference_id": "001", "batch_id": BATCH}
    assert status.raw == json.loads(body) and status.vendor == "playment"


def test_doc_example_completed_with_empty_result_is_running(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("playment_job_doc_example.json")))
    assert (status.state, status.raw_status, status.results) == (JobState.RUNNING, "completed", [])
    assert "not populated" in (status.message or "")


def test_completed_with_null_or_missing_result_is_running(response: Respond) -> None:
    assert status_of(response(200, envelope(status="completed", result=None))).state is JobState.RUNNING
    assert status_of(response(200, envelope(status="completed"))).state is JobState.RUNNING


@pytest.mark.parametrize("raw", ["in_progress", "labelling", "Completed", "failed"])
def test_other_statuses_are_running(raw: str, response: Respond) -> None:
    status = status_of(response(200, envelope(status=raw, result=RESULT_URL)))
    assert (status.state, status.raw_status, status.results) == (JobState.RUNNING, raw, [])


def test_empty_status_is_unknown(response: Respond) -> None:
    status = status_of(response(200, envelope(status="", result=RESULT_URL)))
    assert (status.state, status.raw_status, status.results) == (JobState.UNKNOWN, "", [])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (envelope(), "status"),
        (envelope(status=None), "status"),
        (envelope(status=1), "status"),
        (envelope(status="completed", result={"url": RESULT_URL}), "result"),
        ({"success": True}, "data"),
        ({"data": [], "success": True}, "data"),
    ],
)
def test_malformed_fields_are_named(body: dict[str, Any], field: str, response: Respond) -> None:
    with pytest.raises(MalformedResponseError) as info:
        status_of(response(200, body), "job-3")
    assert field in str(info.value) and "Playment" in str(info.value) and "job-3" in str(info.value)


def test_bad_answers(bad_answer: Any) -> None:
    with pytest.raises(bad_answer.error) as info:
        status_of(bad_answer.resp, "job/odd id")
    assert "Playment" in str(info.value) and "job/odd id" in str(info.value)


# -- error envelopes ----------------------------------------------------------------------------


@pytest.mark.parametrize("http", [200, 400])
def test_error_fixture(http: int, load_fixture: Fixture, response: Respond) -> None:
    with pytest.raises(VendorRequestError) as info:
        status_of(response(http, load_fixture("playment_error.json")), "job-1")
    assert "GE_0001: Invalid parameter: project_id is not a valid UUID" in str(info.value)
    assert "Playment" in str(info.value) and "job-1" in str(info.value)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("auth-failure", AuthenticationError),
        ("unauthorized", AuthenticationError),
        ("core.webutil.auther", AuthenticationError),
        ("core.webutil.token_auth", AuthenticationError),
        ("FS_0000", TransientVendorError),
        ("FS_0008", TransientVendorError),
        ("api_error", TransientVendorError),
        ("FS_0007", VendorRequestError),
        ("invalid_request_error", VendorRequestError),
    ],
)
@pytest.mark.parametrize("http", [200, 400])
def test_error_codes_are_classified(code: str, error: type[Exception], http: int, response: Respond) -> None:
    body = {"error": {"code": code, "message": "said by Playment"}, "success": False}
    with pytest.raises(error) as info:
        status_of(response(http, body), "job-2")
    assert f"{code}: said by Playment" in str(info.value) and "job-2" in str(info.value)


def test_http_status_still_counts_without_a_known_code(response: Respond) -> None:
    body = {"error": {"code": "GE_0001", "message": "no such job"}, "success": False}
    with pytest.raises(JobNotFoundError, match="no such job"):
        status_of(response(404, body))
    with pytest.raises(TransientVendorError):
        status_of(response(500, body))


def test_success_false_without_error_object(response: Respond) -> None:
    with pytest.raises(VendorRequestError, match="success: false"):
        status_of(response(200, {"data": {"status": "completed"}, "success": False}))


@pytest.mark.parametrize("http", [443, 444])
def test_sdk_retry_codes_are_transient(http: int, response: Respond) -> None:
    with pytest.raises(TransientVendorError) as info:
        status_of(response(http, b"", {"Retry-After": "3"}))
    assert info.value.status_code == http and info.value.retry_after == 3.0


# -- results ------------------------------------------------------------------------------------


def test_result_goes_through_the_attachment_api(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("playment_job_completed.json")))
    [req] = API.result_requests(status, {}, OPTIONS)
    assert (req.request.method, req.request.url, req.request.params) == (
        "GET",
        "/v1/attachments",
        {"url": RESULT_URL},
    )
    assert req.request.authenticated and req.follow_redirects
    assert req.name == f"{JOB}.json" and req.result.url == RESULT_URL


def test_result_name_is_safe_for_odd_ids(response: Respond) -> None:
    status = status_of(response(200, envelope(status="completed", result=RESULT_URL)), "../x")
    [req] = API.result_requests(status, {}, OPTIONS)
    assert req.name == "x.json"


def test_no_result_while_running(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("playment_job_doc_example.json")))
    with pytest.raises(JobStatusError, match="running"):
        API.result_requests(status, {}, OPTIONS)


# -- batches ------------------------------------------------------------------------------------


def test_batch_page_request() -> None:
    first = API.batch_page_request(BATCH, None, OPTIONS)
    assert (first.method, first.url, first.params) == ("GET", f"/v1/projects/{PROJECT}/batch/{BATCH}", None)
    assert API.batch_page_request(BATCH, "", OPTIONS).params is None
    nxt = API.batch_page_request("b/1", "1575822103313046000", OPTIONS)
    assert (nxt.url, nxt.params) == (
        f"/v1/projects/{PROJECT}/batch/b%2F1",
        {"page_token": "1575822103313046000"},
    )


def test_parse_batch_page_fixture(load_fixture: Fixture, response: Respond) -> None:
    page = API.parse_batch_page(BATCH, response(200, load_fixture("playment_batch_page.json")))
    assert page.batch_id == BATCH and page.next_page_token == "1575822103313046000"
    assert page.jobs == [BatchJob(id=JOB, reference_id="001", status="completed", state=JobState.SUCCEEDED)]


def batch(jobs: Any, **extra: Any) -> dict[str, Any]:
    return {"data": {"id": BATCH, "jobs": jobs, **extra}, "success": True}


@pytest.mark.parametrize("token", [None, "", 5, "__missing__"])
def test_batch_page_end(token: Any, response: Respond) -> None:
    body = batch([]) if token == "__missing__" else batch([], next_page_token=token)
    page = API.parse_batch_page(BATCH, response(200, body))
    assert (page.jobs, page.next_page_token) == ([], None)


def test_batch_page_jobs(response: Respond) -> None:
    jobs = [
        {"id": "j1", "status": "completed", "result": RESULT_URL},
        {"id": "j2", "status": "labelling"},
        {"id": "j3", "status": ""},
        {"id": "j4"},
        {"id": "j5", "status": "completed", "result": ""},
    ]
    page = API.parse_batch_page(BATCH, response(200, batch(jobs, next_page_token="t2")))
    assert [(j.id, j.state, j.result_url) for j in page.jobs] == [
        ("j1", JobState.SUCCEEDED, RESULT_URL),
        ("j2", JobState.RUNNING, None),
        ("j3", JobState.UNKNOWN, None),
        ("j4", JobState.UNKNOWN, None),
        ("j5", JobState.SUCCEEDED, None),
    ]
    assert page.next_page_token == "t2"


def test_batch_page_null_jobs_is_empty(response: Respond) -> None:
    assert API.parse_batch_page(BATCH, response(200, batch(None))).jobs == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": {"id": BATCH}, "success": True}, "jobs"),
        (batch({"id": "j1"}), "jobs"),
        (batch(["j1"]), "jobs"),
        (batch([{"status": "completed"}]), "id"),
        (batch([{"id": 7}]), "id"),
        (batch([{"id": "j1", "status": 1}]), "status"),
    ],
)
def test_batch_page_malformed(body: dict[str, Any], field: str, response: Respond) -> None:
    with pytest.raises(MalformedResponseError) as info:
        API.parse_batch_page("batch-9", response(200, body))
    assert field in str(info.value) and "batch-9" in str(info.value)


def test_batch_page_errors(load_fixture: Fixture, response: Respond) -> None:
    with pytest.raises(VendorRequestError, match="GE_0001"):
        API.parse_batch_page(BATCH, response(400, load_fixture("playment_error.json")))
    with pytest.raises(TransientVendorError):
        API.parse_batch_page(BATCH, response(444, b""))
    with pytest.raises(MalformedResponseError):
        API.parse_batch_page(BATCH, response(200, b"<html></html>"))
