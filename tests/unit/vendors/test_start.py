"""Start requests and start answers of the five vendors (sans-IO): what is sent, what is read, and
that no refused or unreadable start ever yields a job id."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    DuplicateJobError,
    JobStatusError,
    MalformedResponseError,
    TransientVendorError,
    VendorRequestError,
)
from airflow_provider_jobstatus.vendors import alteryx, apidatatools, get_vendor, nitro, pdfco, playment
from tests.unit.vendors.conftest import make_response

PLAYMENT_OPTIONS = {"project_id": "p1"}


def test_nitro_start_is_async_multipart() -> None:
    upload = ("a.pdf", io.BytesIO(b"%PDF"), "application/pdf")
    req = nitro.start_request("transformations", "merge", {"level": 2}, [upload, "https://x.test/b.pdf"])
    assert (req.method, req.url) == ("POST", "/transformations")
    assert req.headers["Prefer"] == "respond-async"
    assert req.form == {"method": "merge", "params": '{"level": 2}'}
    (field1, part1), (field2, part2) = req.files
    assert field1 == field2 == "files" and part1 is upload
    assert part2[2] == "application/vnd.gonitro.url+json" and json.loads(part2[1]) == {
        "URL": "https://x.test/b.pdf"
    }
    single = nitro.start_request("conversions", "pdfa", None, ["https://x.test/c.pdf"])
    assert [f for f, _ in single.files] == ["file"] and single.form == {"method": "pdfa", "params": "{}"}


@pytest.mark.parametrize(
    ("operation", "method", "inputs"),
    [
        ("nope", "compress", ["https://x"]),
        ("transformations", " ", ["https://x"]),
        ("extractions", "text", []),
    ],
)
def test_nitro_bad_start_arguments(operation: str, method: str, inputs: list[Any]) -> None:
    with pytest.raises(ConfigurationError, match="Nitro PDF Services"):
        nitro.start_request(operation, method, None, inputs)


def test_pdfco_start_adds_async_and_keeps_the_payload() -> None:
    req = pdfco.start_request("/v1/pdf/convert/to/text", {"url": "https://x", "async": False, "pages": "1"})
    assert (req.method, req.url) == ("POST", "/v1/pdf/convert/to/text")
    assert req.json == {"url": "https://x", "async": True, "pages": "1"}
    for endpoint in ("https://evil.test/v1/x", "/v2/x", "v1/pdf", "/v1/../etc"):
        with pytest.raises(ConfigurationError):
            pdfco.start_request(endpoint, {})


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (402, {"error": True, "status": 402, "message": "Not enough credits"}, VendorRequestError, "credits"),
        (403, {"error": True, "status": 403, "message": "Access Denied"}, VendorRequestError, "input URL"),
        (200, {"error": True, "status": 402, "message": "credits"}, VendorRequestError, "not enough credits"),
        (200, {"error": True, "status": 401, "message": "bad key"}, AuthenticationError, "credentials"),
        (
            400,
            {"error": True, "status": 400, "message": "url is required"},
            VendorRequestError,
            "url is required",
        ),
        (429, {"error": True, "status": 429, "message": "slow down"}, TransientVendorError, "429"),
        (200, {"error": False, "url": "https://x"}, MalformedResponseError, "may have been created"),
    ],
)
def test_pdfco_start_answers(status: int, body: Any, error: type[JobStatusError], words: str) -> None:
    with pytest.raises(error) as err:
        pdfco.API.parse_start(make_response(status, body))
    assert words in str(err.value) and "PDF.co" in str(err.value)


def test_pdfco_start_reads_the_job_id() -> None:
    assert pdfco.API.parse_start(make_response(200, {"error": False, "jobId": "J1", "url": "u"})) == "J1"


def test_alteryx_start_and_cancel() -> None:
    req = alteryx.start_request("wf/1", {"Year": 2024, "Full": True, "Name": "x"}, "High", "tag", "cred")
    assert req.url == "/v3/workflows/wf%2F1/jobs"
    assert req.json == {
        "questions": [
            {"name": "Year", "value": "2024"},
            {"name": "Full", "value": "true"},
            {"name": "Name", "value": "x"},
        ],
        "priority": "High",
        "workerTag": "tag",
        "credentialId": "cred",
    }
    with pytest.raises(ConfigurationError, match="priority"):
        alteryx.start_request("wf", None, "Urgent")
    with pytest.raises(ConfigurationError, match="question 'q'"):
        alteryx.start_request("wf", {"q": ["a"]})
    assert alteryx.API.parse_start(make_response(200, {"id": "j1", "status": "Queued"})) == "j1"
    cancel = alteryx.API.cancel_request("j1", {})
    assert cancel is not None and (cancel.method, cancel.url) == ("DELETE", "/v3/jobs/j1")
    with pytest.raises(VendorRequestError):
        alteryx.API.parse_cancel("j1", make_response(400, {"message": "already finished"}))


def test_vendors_without_a_cancel_call_say_so() -> None:
    for name in ("nitro", "pdfco", "apidatatools", "playment"):
        assert get_vendor(name).cancel_request("j1", PLAYMENT_OPTIONS) is None


def test_apidatatools_start_is_url_mode() -> None:
    req = apidatatools.start_request("/json-to-csv-api", "https://x.test/in.json")
    assert req.headers["x-source-type"] == "url" and req.json == {"url": "https://x.test/in.json"}
    with pytest.raises(ConfigurationError):
        apidatatools.start_request("https://evil.test/x", "https://x")
    with pytest.raises(ConfigurationError):
        apidatatools.start_request("/json-to-csv-api", "file:///etc/passwd")
    assert apidatatools.API.parse_start(make_response(202, {"job_id": "a1", "status": "queued"})) == "a1"
    with pytest.raises(VendorRequestError, match="INVALID_URL"):
        apidatatools.API.parse_start(
            make_response(200, {"status": "error", "error": "INVALID_URL", "details": {"message": "bad"}})
        )


def test_playment_start_and_duplicates() -> None:
    req = playment.API.start_request(PLAYMENT_OPTIONS, "ref", {"image_url": "u"}, "flow", "b1")
    assert req.url == "/v1/projects/p1/jobs"
    assert req.json == {
        "reference_id": "ref",
        "data": {"image_url": "u"},
        "work_flow_id": "flow",
        "batch_id": "b1",
    }
    ok = {"data": {"job_id": "j1", "reference_id": "ref", "work_flow_id": "flow"}, "success": True}
    assert playment.API.parse_start(make_response(200, ok)) == "j1"
    duplicate = {"error": {"code": "FS_0001", "message": "exists"}, "success": False}
    with pytest.raises(DuplicateJobError):
        playment.API.parse_start(make_response(400, duplicate))
    with pytest.raises(TransientVendorError):
        playment.API.parse_start(
            make_response(200, {"error": {"code": "FS_0000", "message": "x"}, "success": False})
        )
    with pytest.raises(AuthenticationError):
        playment.API.parse_start(make_response(401, {"error": {"code": "unauthorized", "message": "x"}}))
    with pytest.raises(VendorRequestError, match="FS_0005"):
        playment.API.parse_start(make_response(400, {"error": {"code": "FS_0005", "message": "no flow"}}))
    with pytest.raises(ConfigurationError, match="work_flow_id"):
        playment.API.start_request(PLAYMENT_OPTIONS, "ref", {}, "")


@pytest.mark.parametrize("vendor", ["nitro", "pdfco", "alteryx", "apidatatools", "playment"])
def test_no_bad_answer_is_a_job_id(vendor: str, bad_answer: Any) -> None:
    """Whatever cannot be read raises; nothing that is not a start answer gives an id."""
    with pytest.raises(JobStatusError):
        get_vendor(vendor).parse_start(bad_answer.resp)
