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
from airflow_provider_jobstatus.status import JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors import VENDORS, ApiResponse, Credentials, get_vendor
from airflow_provider_jobstatus.vendors.apidatatools import API

JOB = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
Respond = Callable[..., ApiResponse]
Fixture = Callable[[str], bytes]


def status_of(resp: ApiResponse, job_id: str = JOB) -> JobStatus:
    return API.parse_status(job_id, resp, {})


def test_registered() -> None:
    assert VENDORS["apidatatools"] is API and get_vendor("apidatatools") is API
    assert (API.display_name, API.default_base_url) == ("APIDataTools", "https://api.apidatatools.com")
    assert not (API.needs_login or API.uses_token or API.has_batches)
    assert API.auth_headers(Credentials(login=None, secret="k"), None) == {"x-api-key": "k"}


# -- requests -----------------------------------------------------------------------------------


def test_status_request_default_path() -> None:
    req = API.status_request(JOB, {})
    assert (req.method, req.url, req.params, req.json) == ("GET", f"/jobs/{JOB}", None, None)
    assert req.authenticated


@pytest.mark.parametrize(
    ("status_path", "url"),
    [
        (None, "/jobs/a%2F..%2Fb%3Fc%23d%20%C3%A9"),
        ("", "/jobs/a%2F..%2Fb%3Fc%23d%20%C3%A9"),
        ("/status-api/{job_id}", "/status-api/a%2F..%2Fb%3Fc%23d%20%C3%A9"),
        ("v2/jobs/{job_id}/status", "/v2/jobs/a%2F..%2Fb%3Fc%23d%20%C3%A9/status"),
    ],
)
def test_status_path_option_and_encoding(status_path: Any, url: str) -> None:
    assert API.status_request("a/../b?c#d é", {"status_path": status_path}).url == url


@pytest.mark.parametrize("status_path", ["/jobs/", "/jobs/{id}", 5])
def test_status_path_must_hold_the_placeholder(status_path: Any) -> None:
    with pytest.raises(ConfigurationError, match="status_path"):
        API.status_request(JOB, {"status_path": status_path})


def test_fallback_only_for_the_default_path() -> None:
    fallback = API.fallback_status_request("x/y", {})
    assert fallback is not None and (fallback.method, fallback.url) == ("GET", "/status-api/x%2Fy")
    assert API.fallback_status_request("x", {"status_path": "/jobs/{job_id}"}) is not None
    assert API.fallback_status_request("x", {"status_path": "/custom/{job_id}"}) is None


# -- every status -------------------------------------------------------------------------------


def test_queued_keeps_retry_after(load_fixture: Fixture, response: Respond) -> None:
    body = load_fixture("apidatatools_queued.json")
    status = status_of(response(200, body))
    assert (status.state, status.raw_status, status.retry_after) == (JobState.QUEUED, "queued", 2.0)
    assert status.message == "Your job is being processed."
    assert status.raw == json.loads(body) and status.vendor == "apidatatools"


def test_processing_is_running(response: Respond) -> None:
    status = status_of(response(200, {"job_id": JOB, "status": "processing", "retry_after": 0.5}))
    assert (status.state, status.retry_after) == (JobState.RUNNING, 0.5)


def test_success(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("apidatatools_success.json")))
    assert status.state is JobState.SUCCEEDED
    assert status.results == [
        ResultFile(
            url="https://downloads.apidatatools.com/apidatatools_convert_abc123.json",
            name="apidatatools_convert_abc123.json",
        )
    ]
    assert status.details == {"request_id": "b7f9e1c3-8d2a-4e6f-9a3c-0d8e7f2b9a1f"}


def test_failed(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("apidatatools_failed.json")))
    assert (status.state, status.message) == (JobState.FAILED, "INVALID_JSON: JSON validation failed.")
    assert status.details["error"] == {
        "code": "INVALID_JSON",
        "message": "JSON validation failed.",
        "details": {"line": 2, "column": 5},
    }


def test_failed_without_error(response: Respond) -> None:
    status = status_of(response(200, {"status": "failed"}))
    assert status.state is JobState.FAILED and status.message == "the job failed"


@pytest.mark.parametrize("raw", ["running", "Success", "done", ""])
def test_unknown_status(raw: str, response: Respond) -> None:
    status = status_of(
        response(200, {"status": raw, "retry_after": 3, "result": {"file": "https://x.example/a"}})
    )
    assert (status.state, status.raw_status, status.results, status.retry_after) == (
        JobState.UNKNOWN,
        raw,
        [],
        3.0,
    )


# -- errors -------------------------------------------------------------------------------------


def test_404_error_body(load_fixture: Fixture, response: Respond) -> None:
    with pytest.raises(JobNotFoundError) as info:
        status_of(response(404, load_fixture("apidatatools_error_404.json")), "job-1")
    assert "JOB_NOT_FOUND: Job not found" in str(info.value) and "job-1" in str(info.value)


def test_429_error_body(load_fixture: Fixture, response: Respond) -> None:
    with pytest.raises(TransientVendorError) as info:
        status_of(response(429, load_fixture("apidatatools_error_429.json"), {"Retry-After": "12"}))
    assert "RATE_LIMITED: Too many status requests" in str(info.value)
    assert info.value.retry_after == 12.0


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("INVALID_JOB_ID", VendorRequestError),
        ("UNAUTHORIZED", AuthenticationError),
        ("FORBIDDEN", AuthenticationError),
        ("JOB_NOT_FOUND", JobNotFoundError),
        ("RATE_LIMITED", TransientVendorError),
        ("INTERNAL_ERROR", TransientVendorError),
        ("SOMETHING_NEW", VendorRequestError),
        (None, VendorRequestError),
    ],
)
def test_error_envelope_with_http_200(code: Any, error: type[Exception], response: Respond) -> None:
    body = {"status": "error", "error": code, "details": {"message": "explained"}}
    with pytest.raises(error) as info:
        status_of(response(200, body), "job-2")
    assert "explained" in str(info.value) and "APIDataTools" in str(info.value) and "job-2" in str(info.value)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job_id": JOB}, "status"),
        ({"status": {"state": "queued"}}, "status"),
        ({"status": "queued", "retry_after": "2"}, "retry_after"),
        ({"status": "queued", "retry_after": True}, "retry_after"),
        ({"status": "queued", "message": ["x"]}, "message"),
        ({"status": "success", "result": "https://x.example/a"}, "result"),
        ({"status": "success", "result": {"file": 1}}, "file"),
    ],
)
def test_malformed_fields_are_named(body: dict[str, Any], field: str, response: Respond) -> None:
    with pytest.raises(MalformedResponseError) as info:
        status_of(response(200, body), "job-3")
    assert field in str(info.value) and "APIDataTools" in str(info.value) and "job-3" in str(info.value)


def test_bad_answers(bad_answer: Any) -> None:
    with pytest.raises(bad_answer.error) as info:
        status_of(bad_answer.resp, "job/odd id")
    assert "APIDataTools" in str(info.value) and "job/odd id" in str(info.value)


# -- results ------------------------------------------------------------------------------------


def test_result_request_is_an_unauthenticated_get(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("apidatatools_success.json")))
    [req] = API.result_requests(status, {}, {})
    assert (req.request.method, req.request.url, req.request.authenticated) == (
        "GET",
        "https://downloads.apidatatools.com/apidatatools_convert_abc123.json",
        False,
    )
    assert req.name == "apidatatools_convert_abc123.json"
    assert API.result_requests(status, {"index": 0}, {}) == [req]
    with pytest.raises(ConfigurationError):
        API.result_requests(status, {"index": 1}, {})


def test_no_result_unless_succeeded_with_a_file(load_fixture: Fixture, response: Respond) -> None:
    with pytest.raises(JobStatusError, match="queued"):
        API.result_requests(status_of(response(200, load_fixture("apidatatools_queued.json"))), {}, {})
    with pytest.raises(JobStatusError, match="no result"):
        API.result_requests(status_of(response(200, {"status": "success", "result": {}})), {}, {})


@pytest.mark.parametrize(
    ("code", "body", "limited"),
    [
        (429, {"status": "error", "error": "RATE_LIMITED"}, True),
        (200, {"status": "error", "error": "RATE_LIMITED", "details": {"message": "slow down"}}, True),
        (200, {"status": "processing", "message": "RATE_LIMITED is not our error"}, False),
        (200, {"status": "error", "error": "INTERNAL_ERROR"}, False),
        (500, {"status": "error", "error": "INTERNAL_ERROR"}, False),
    ],
)
def test_its_own_rate_limit_answer_pauses_the_account(
    code: int, body: dict[str, Any], limited: bool, response: Respond
) -> None:
    assert API.rate_limited(response(code, json.dumps(body).encode())) is limited
