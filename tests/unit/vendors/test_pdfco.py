from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
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
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.vendors import VENDORS, ApiResponse, Credentials, get_vendor
from airflow_provider_jobstatus.vendors.pdfco import API, link_expired

JOB = "6YSZD3U872ZYYFEDMQCQSGEEO8YSF5WA--151-300"
Respond = Callable[..., ApiResponse]
Fixture = Callable[[str], bytes]


def status_of(resp: ApiResponse, job_id: str = JOB, **options: Any) -> JobStatus:
    return API.parse_status(job_id, resp, options)


def test_registered() -> None:
    assert VENDORS["pdfco"] is API and get_vendor("pdfco") is API
    assert (API.display_name, API.default_base_url) == ("PDF.co", "https://api.pdf.co")
    assert not (API.needs_login or API.uses_token or API.has_batches)


def test_unknown_vendor_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=", ".join(sorted(VENDORS))):
        get_vendor("pdf.co")
    assert {"alteryx", "apidatatools", "nitro", "pdfco", "playment"} <= set(VENDORS)


def test_auth_headers() -> None:
    assert API.auth_headers(Credentials(login=None, secret="k-123"), None) == {"x-api-key": "k-123"}


# -- request ------------------------------------------------------------------------------------


def test_status_request_posts_lowercase_jobid() -> None:
    req = API.status_request(JOB, {})
    assert (req.method, req.url, req.params) == ("POST", "/v1/job/check", None)
    assert req.json == {"jobid": JOB}
    assert req.authenticated is True


@pytest.mark.parametrize(
    ("force", "body"),
    [
        (True, {"jobid": "a/b?c", "force": True}),
        ("true", {"jobid": "a/b?c", "force": True}),
        (False, {"jobid": "a/b?c"}),
        ("false", {"jobid": "a/b?c"}),
        (None, {"jobid": "a/b?c"}),
    ],
)
def test_status_request_force(force: Any, body: dict[str, Any]) -> None:
    # The id travels in the JSON body untouched: no path, no encoding.
    assert API.status_request("a/b?c", {"force": force}).json == body


def test_status_request_bad_options() -> None:
    with pytest.raises(ConfigurationError, match="force"):
        API.status_request(JOB, {"force": "sometimes"})
    with pytest.raises(ConfigurationError):
        API.status_request("  ", {})


# -- every documented status --------------------------------------------------------------------


def test_working_is_running(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("pdfco_check_working.json")))
    assert (status.state, status.raw_status) == (JobState.RUNNING, "working")
    assert status.details == {"remainingCredits": 60227}
    assert status.vendor == "pdfco"


def test_success(load_fixture: Fixture, response: Respond) -> None:
    body = load_fixture("pdfco_check_success.json")
    status = status_of(response(200, body))
    assert (status.state, status.raw_status) == (JobState.SUCCEEDED, "success")
    [result] = status.results
    assert result.url == json.loads(body)["url"]
    assert result.name == "L8QYIZQ6KZOITCT0PXUNPM6HKYSP5OIO.json"
    assert status.details == {"credits": 2, "remainingCredits": 1480582, "duration": 33}
    assert status.raw == json.loads(body)
    assert "X-Amz-Signature" not in json.dumps(status.to_event())


def test_success_keeps_link_lifetime_and_timing(response: Respond) -> None:
    body = {
        "status": "success",
        "url": "https://pdf-temp-files.s3.amazonaws.com/x/out.pdf",
        "outputLinkValidTill": "2023-11-14T14:49:32Z",
        "jobDuration": 1200,
        "pageCount": 3,
        "irrelevant": "dropped",
    }
    status = status_of(response(200, body))
    assert status.details == {
        "outputLinkValidTill": "2023-11-14T14:49:32Z",
        "jobDuration": 1200,
        "pageCount": 3,
    }


def test_success_with_several_urls(response: Respond) -> None:
    urls = [
        "https://s3.example/j/part.pdf?s=1",
        "https://s3.example/k/part.pdf?s=2",
        "https://s3.example/one.pdf",
    ]
    status = status_of(
        response(200, {"status": "success", "urls": urls, "url": "https://s3.example/zip.zip"})
    )
    assert [(r.url, r.name) for r in status.results] == list(
        zip(urls, ["part.pdf", "part-2.pdf", "one.pdf"], strict=True)
    )


def test_failed(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("pdfco_check_failed.json")))
    assert (status.state, status.message) == (JobState.FAILED, "Input file is damaged")
    assert status.details == {"credits": 1, "remainingCredits": 60226}


def test_aborted_is_canceled(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("pdfco_check_aborted.json")))
    assert (status.state, status.raw_status) == (JobState.CANCELED, "aborted")


def test_unknown_with_force_is_job_not_found(load_fixture: Fixture, response: Respond) -> None:
    """Not a status to wait on: PDF.co says it has no such job."""
    with pytest.raises(JobNotFoundError) as err:
        status_of(response(200, load_fixture("pdfco_check_unknown.json")), "job-x", force=True)
    assert str(err.value).startswith("PDF.co job 'job-x': unknown job id: PDF.co does not know it")


@pytest.mark.parametrize("raw", ["queued", "Success", "done", ""])
def test_unrecognised_status_is_unknown(raw: str, response: Respond) -> None:
    status = status_of(response(200, {"status": raw, "url": "https://s3.example/a.pdf"}))
    assert (status.state, status.raw_status, status.results) == (JobState.UNKNOWN, raw, [])


# -- error envelopes ----------------------------------------------------------------------------


@pytest.mark.parametrize("http", [200, 401])
def test_error_envelope_401(http: int, load_fixture: Fixture, response: Respond) -> None:
    with pytest.raises(AuthenticationError) as info:
        status_of(response(http, load_fixture("pdfco_error.json")), "job-1")
    assert "Unauthorized: API key is invalid" in str(info.value)
    assert "PDF.co" in str(info.value) and "job-1" in str(info.value)


@pytest.mark.parametrize(
    ("inner", "error"),
    [
        (402, VendorRequestError),
        (400, VendorRequestError),
        (445, VendorRequestError),
        (403, AuthenticationError),
        (404, JobNotFoundError),
        (429, TransientVendorError),
        (500, TransientVendorError),
        (None, VendorRequestError),
        (200, VendorRequestError),
    ],
)
def test_error_envelope_in_a_200_is_classified_by_inner_status(
    inner: Any, error: type[Exception], response: Respond
) -> None:
    body: dict[str, Any] = {"error": True, "message": "Not enough credits"}
    if inner is not None:
        body["status"] = inner
    with pytest.raises(error) as info:
        status_of(response(200, body), "job-2")
    assert "Not enough credits" in str(info.value) and "job-2" in str(info.value)


def test_error_flag_with_a_status_string_is_a_status(response: Respond) -> None:
    status = status_of(response(200, {"error": True, "status": "failed", "message": "Bad PDF"}))
    assert (status.state, status.message) == (JobState.FAILED, "Bad PDF")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"remainingCredits": 1}, "status"),
        ({"status": 200, "error": False}, "status"),
        ({"status": "failed", "message": 5}, "message"),
        ({"status": "success", "urls": "https://s3.example/a.pdf"}, "urls"),
        ({"status": "success", "urls": [1, 2]}, "urls"),
        ({"status": "success", "url": ["https://s3.example/a.pdf"]}, "url"),
    ],
)
def test_malformed_fields_are_named(body: dict[str, Any], field: str, response: Respond) -> None:
    with pytest.raises(MalformedResponseError) as info:
        status_of(response(200, body), "job-3")
    assert field in str(info.value) and "PDF.co" in str(info.value) and "job-3" in str(info.value)


def test_bad_answers(bad_answer: Any) -> None:
    with pytest.raises(bad_answer.error) as info:
        status_of(bad_answer.resp, "job/odd id")
    assert "PDF.co" in str(info.value) and "job/odd id" in str(info.value)


# -- results ------------------------------------------------------------------------------------


def test_result_requests_are_unauthenticated_gets(load_fixture: Fixture, response: Respond) -> None:
    status = status_of(response(200, load_fixture("pdfco_check_success.json")))
    [req] = API.result_requests(status, {}, {})
    assert req.request.method == "GET" and req.request.url == status.results[0].url
    assert req.request.authenticated is False
    assert req.name == "L8QYIZQ6KZOITCT0PXUNPM6HKYSP5OIO.json" and not req.follow_redirects


def test_result_selector(response: Respond) -> None:
    urls = ["https://s3.example/a.pdf", "https://s3.example/b.pdf"]
    status = status_of(response(200, {"status": "success", "urls": urls}))
    assert [r.name for r in API.result_requests(status, {}, {})] == ["a.pdf", "b.pdf"]
    assert [r.name for r in API.result_requests(status, {"index": 1}, {})] == ["b.pdf"]
    assert [r.name for r in API.result_requests(status, {"name": "a.pdf"}, {})] == ["a.pdf"]
    with pytest.raises(ConfigurationError, match=r"a\.pdf"):
        API.result_requests(status, {"name": "c.pdf"}, {})


def test_no_results_for_unfinished_or_empty_jobs(load_fixture: Fixture, response: Respond) -> None:
    for name in ("pdfco_check_working.json", "pdfco_check_failed.json"):
        with pytest.raises(JobStatusError):
            API.result_requests(status_of(response(200, load_fixture(name))), {}, {})
    with pytest.raises(JobStatusError, match="no result"):
        API.result_requests(status_of(response(200, {"status": "success"})), {}, {})


def test_link_expired(response: Respond) -> None:
    body = {
        "status": "success",
        "url": "https://s3.example/a.pdf",
        "outputLinkValidTill": "2023-11-14T14:49:32Z",
    }
    status = status_of(response(200, body))
    till = datetime(2023, 11, 14, 14, 49, 32, tzinfo=timezone.utc)
    assert not link_expired(status, till - timedelta(seconds=1))
    assert link_expired(status, till)
    assert link_expired(status, till.replace(tzinfo=None) + timedelta(minutes=1))  # naive means UTC
    assert not link_expired(status, (till - timedelta(hours=1)).astimezone(timezone(timedelta(hours=5))))
    assert API.results_expired(status, till) and not API.results_expired(status, till - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("value", "expired"),
    [
        ("2023-11-14T14:49:32.4627587Z", True),
        ("2023-11-14T16:49:32+02:00", True),
        ("2023-11-14T14:49:33", False),
        (None, False),
        ("soon", False),
        (12345, False),
    ],
)
def test_link_expired_formats(value: Any, expired: bool) -> None:
    status = JobStatus(
        vendor="pdfco", job_id=JOB, state=JobState.SUCCEEDED, details={"outputLinkValidTill": value}
    )
    assert link_expired(status, datetime(2023, 11, 14, 14, 49, 32, 500000, tzinfo=timezone.utc)) is expired
