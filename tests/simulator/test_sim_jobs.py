"""Jobs go through each vendor's own status values; results fetched the vendor's way match the
SHA-256 the control API returned; only the outcomes a vendor really has can be asked for."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

from airflow_provider_jobstatus.testing.simulator import OUTCOMES, Simulator
from tests.simulator.simkit import PROJECT, Calls

PROGRESS = {
    # vendor, outcome, polls -> the status words a client sees
    ("nitro", "succeeded", 2): ["running", "running", "completed"],
    ("nitro", "failed", 1): ["running", "failed"],
    ("nitro", "canceled", 1): ["running", "canceled"],
    ("pdfco", "succeeded", 2): ["working", "working", "success"],
    ("pdfco", "failed", 1): ["working", "failed"],
    ("pdfco", "canceled", 1): ["working", "aborted"],
    ("alteryx", "succeeded", 3): ["Created", "Queued", "Running", "Completed/Success"],
    ("alteryx", "failed", 1): ["Running", "Completed/Error"],
    ("alteryx", "canceled", 2): ["Queued", "Running", "Cancelled"],
    ("apidatatools", "succeeded", 2): ["queued", "processing", "success"],
    ("apidatatools", "failed", 3): ["queued", "processing", "processing", "failed"],
    ("playment", "succeeded", 2): ["in_progress", "in_progress", "completed"],
    # the declared API's default profile: its own raw values for the five states
    ("jobapi", "succeeded", 2): ["pending", "working", "done"],
    ("jobapi", "failed", 1): ["working", "error"],
    ("jobapi", "canceled", 3): ["pending", "working", "working", "stopped"],
}


@pytest.mark.parametrize(("vendor", "outcome", "polls"), list(PROGRESS))
def test_job_goes_through_the_vendor_status_values(
    vendor: str, outcome: str, polls: int, calls: Calls, sim: Simulator
) -> None:
    job = sim.create_job(vendor, outcome, polls=polls, result_bytes=5000)
    seen, body = calls.poll_statuses(vendor, job["job_id"])
    assert seen == PROGRESS[(vendor, outcome, polls)]
    # terminal answers stay terminal and stable
    assert calls.status(vendor, job["job_id"]) == body
    if outcome == "succeeded":
        data = calls.fetch_results(vendor, job["job_id"], body)
        assert [hashlib.sha256(d).hexdigest() for d in data] == [job["sha256"]]
        assert len(data[0]) == job["size"] == 5000


def test_every_offered_outcome_is_covered() -> None:
    covered = {(v, o) for v, o, _ in PROGRESS}
    assert covered == {(v, o) for v, outcomes in OUTCOMES.items() for o in outcomes}


@pytest.mark.parametrize(
    ("vendor", "outcome"), [("playment", "failed"), ("playment", "canceled"), ("apidatatools", "canceled")]
)
def test_outcomes_a_vendor_does_not_have_are_refused(
    vendor: str, outcome: str, sim: Simulator, http: httpx.Client
) -> None:
    resp = http.post(sim.url + "/_sim/jobs", json={"vendor": vendor, "outcome": outcome})
    assert resp.status_code == 400
    assert "offers only what the vendor really has" in resp.json()["error"]
    with pytest.raises(ValueError, match=outcome):
        sim.create_job(vendor, outcome)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"vendor": "acme"}, "unknown vendor"),
        ({"vendor": "nitro", "outcome": "exploded"}, "unknown outcome"),
        ({"vendor": "nitro", "polls": 2, "seconds": 1}, "not both"),
        ({"vendor": "nitro", "polls": -1}, "polls"),
        ({"vendor": "nitro", "result_bytes": 600 * 1024 * 1024}, "result_bytes"),
        ({"vendor": "nitro", "retry_after": 3}, "unknown options"),
        ({"vendor": "apidatatools", "results": 2}, "results"),
        ({"vendor": "alteryx", "disposition": "Error"}, "Success or Warning"),
        ({"vendor": "pdfco", "batch_id": "b1"}, "Playment"),
        ({}, "vendor is required"),
    ],
)
def test_control_api_rejects_bad_job_specs(
    spec: dict[str, object], message: str, sim: Simulator, http: httpx.Client
) -> None:
    resp = http.post(sim.url + "/_sim/jobs", json=spec)
    assert resp.status_code == 400
    assert message in resp.json()["error"]


def test_control_api_job_creation_answer(sim: Simulator, http: httpx.Client) -> None:
    resp = http.post(
        sim.url + "/_sim/jobs", json={"vendor": "nitro", "polls": 1, "result_bytes": 2048, "results": 2}
    )
    assert resp.status_code == 201
    body = resp.json()
    assert set(body) >= {"job_id", "vendor", "outcome", "sha256", "size", "results"}
    assert body["vendor"] == "nitro" and body["outcome"] == "succeeded" and body["size"] == 2048
    assert [r["name"] for r in body["results"]] == ["result.pdf", "result-2.pdf"]
    assert body["sha256"] == body["results"][0]["sha256"] != body["results"][1]["sha256"]
    info = http.get(f"{sim.url}/_sim/jobs/{body['job_id']}").json()
    assert info["polls"] == 1 and info["polls_seen"] == 0 and info["terminal"] is False


def test_results_are_deterministic_for_a_seed() -> None:
    with Simulator(seed=11) as a, Simulator(seed=11) as b, Simulator(seed=12) as c:
        ja, jb, jc = (s.create_job("pdfco", result_bytes=100_000) for s in (a, b, c))
    assert ja["job_id"] == jb["job_id"] and ja["sha256"] == jb["sha256"]
    assert jc["sha256"] != ja["sha256"]


def test_seconds_make_a_job_terminal_after_that_time(calls: Calls, sim: Simulator) -> None:
    job = sim.create_job("apidatatools", seconds=0.4)["job_id"]
    assert calls.status("apidatatools", job)["status"] == "queued"
    time.sleep(0.45)
    assert calls.status("apidatatools", job)["status"] == "success"


def test_nitro_result_endpoint_404_while_running_then_bytes_or_json(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    job = sim.create_job("nitro", polls=1, result_bytes=70_000)
    url = f"{sim.base_url('nitro')}/jobs/{job['job_id']}"
    octet = {**calls.headers("nitro"), "Accept": "application/octet-stream"}
    assert http.get(url, headers=octet).status_code == 404
    assert calls.status("nitro", job["job_id"])["status"] == "running"
    assert http.get(url, headers=octet).status_code == 404
    assert calls.status("nitro", job["job_id"])["status"] == "completed"
    raw = http.get(url, headers=octet)
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(raw.content).hexdigest() == job["sha256"]
    as_json = http.get(url, headers=calls.headers("nitro")).json()
    assert (
        as_json["status"] == "completed" and as_json["result"]["file"]["metadata"]["fileSizeBytes"] == 70_000
    )
    assert http.get(f"{sim.base_url('nitro')}/jobs/no-such-job", headers=octet).status_code == 404


def test_nitro_failed_job_and_several_result_files(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    failed = sim.create_job("nitro", "failed")["job_id"]
    body = calls.status("nitro", failed)
    assert body["error"] == {"type": "ConversionFailed", "title": "Conversion failed"}
    octet = {**calls.headers("nitro"), "Accept": "application/octet-stream"}
    assert http.get(f"{sim.base_url('nitro')}/jobs/{failed}", headers=octet).status_code == 422
    multi = sim.create_job("nitro", results=3, result_bytes=3000)
    body = calls.status("nitro", multi["job_id"])
    assert "file" not in body["result"] and len(body["result"]["files"]) == 3
    data = calls.fetch_results("nitro", multi["job_id"], body)
    assert [hashlib.sha256(d).hexdigest() for d in data] == [r["sha256"] for r in multi["results"]]
    assert http.get(f"{sim.base_url('nitro')}/jobs/{multi['job_id']}", headers=octet).status_code == 406


def test_nitro_expired_job_answers_410_on_both_endpoints(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    job = sim.create_job("nitro")["job_id"]
    url = calls.status("nitro", job)["result"]["file"]["URL"]
    assert http.post(f"{sim.url}/_sim/jobs/{job}/expire").status_code == 200
    for path in (f"/jobs/{job}/status", f"/jobs/{job}"):
        resp = http.get(sim.base_url("nitro") + path, headers=calls.headers("nitro"))
        assert resp.status_code == 410 and resp.json()["type"] == "FileNoLongerAvailable"
    expired = http.get(url)
    assert expired.status_code == 403 and "<Message>Request has expired</Message>" in expired.text


def test_pdfco_unknown_ids_force_and_key_spelling(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    url = sim.base_url("pdfco") + "/v1/job/check"
    headers = calls.headers("pdfco")
    assert http.post(url, json={"jobid": "NOPE--1-2"}, headers=headers).json()["status"] == "working"
    assert (
        http.post(url, json={"jobid": "NOPE--1-2", "force": True}, headers=headers).json()["status"]
        == "unknown"
    )
    job = sim.create_job("pdfco", results=2, result_bytes=1000)
    body = http.post(url, json={"jobId": job["job_id"]}, headers=headers).json()
    assert body["status"] == "success" and "url" not in body and len(body["urls"]) == 2
    assert body["outputLinkValidTill"].endswith("Z")
    data = calls.fetch_results("pdfco", job["job_id"], body)
    assert [hashlib.sha256(d).hexdigest() for d in data] == [r["sha256"] for r in job["results"]]
    assert http.post(url, json={}, headers=headers).status_code == 400
    assert http.post(url, content=b"{not json", headers=headers).status_code == 400
    legacy = http.get(url, params={"jobid": job["job_id"]}, headers=headers)
    assert legacy.json()["status"] == "success"


def test_alteryx_warning_error_messages_and_output_formats(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    warn = sim.create_job("alteryx", disposition="Warning")["job_id"]
    body = calls.status("alteryx", warn)
    assert body["disposition"] == "Warning" and any(m["status"] == 2 for m in body["messages"])
    assert body["outputs"][0]["availableFormats"] == ["Raw", "Csv"]
    error = calls.status("alteryx", sim.create_job("alteryx", "failed")["job_id"])
    assert error["status"] == "Completed" and error["disposition"] == "Error" and error["outputs"] == []
    assert [m["status"] for m in error["messages"]].count(3) == 1
    output = f"{sim.base_url('alteryx')}/v1/jobs/{warn}/output/O1"
    headers = calls.headers("alteryx")
    assert http.get(output, params={"format": "Pdf"}, headers=headers).status_code == 400
    assert http.get(output, headers=headers).status_code == 400
    assert http.get(output, params={"format": "Raw"}, headers=headers).status_code == 200
    assert http.get(output, params={"format": "Raw"}).status_code == 401
    assert http.get(output.replace("O1", "O9"), params={"format": "Raw"}, headers=headers).status_code == 404
    reduced = http.get(
        f"{sim.base_url('alteryx')}/v3/jobs/{warn}", params={"includeMessages": "false"}, headers=headers
    ).json()
    assert "messages" not in reduced
    assert (
        http.get(f"{sim.base_url('alteryx')}/v3/jobs/000000000000000000000000", headers=headers).status_code
        == 404
    )


def test_apidatatools_both_status_paths_retry_after_and_404(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    job = sim.create_job("apidatatools", polls=1, retry_after=4)["job_id"]
    headers = calls.headers("apidatatools")
    first = http.get(f"{sim.base_url('apidatatools')}/status-api/{job}", headers=headers).json()
    assert first["status"] == "processing" and first["retry_after"] == 4
    assert (
        http.get(f"{sim.base_url('apidatatools')}/jobs/{job}", headers=headers).json()["status"] == "success"
    )
    missing = http.get(f"{sim.base_url('apidatatools')}/jobs/does-not-exist", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"] == "JOB_NOT_FOUND"
    failed = calls.status("apidatatools", sim.create_job("apidatatools", "failed")["job_id"])
    assert failed["error"]["code"] == "INVALID_JSON"


def test_playment_result_is_private_and_unknown_jobs_are_400(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    job = sim.create_job("playment", polls=1)["job_id"]
    assert calls.status("playment", job)["data"]["result"] == ""
    result = calls.status("playment", job)["data"]["result"]
    assert result.startswith(sim.files_url)
    direct = http.get(result)
    assert direct.status_code == 403 and "<Code>AccessDenied</Code>" in direct.text
    keyed = http.get(result, headers=calls.headers("playment"))
    assert keyed.status_code == 403
    attachment = sim.base_url("playment") + "/v1/attachments"
    assert http.get(attachment, params={"url": result}).status_code == 401
    assert (
        http.get(attachment, params={"url": "https://elsewhere/x"}, headers=calls.headers("playment")).json()[
            "error"
        ]["code"]
        == "FS_0007"
    )
    missing = http.get(
        f"{sim.base_url('playment')}/v1/projects/{PROJECT}/jobs/nope", headers=calls.headers("playment")
    )
    assert missing.status_code == 400 and missing.json() == {
        "error": {"code": "GE_0001", "message": "Invalid parameter: job_id nope not found"},
        "success": False,
    }


def test_large_result_streams_with_the_right_digest(calls: Calls, sim: Simulator) -> None:
    job = sim.create_job("apidatatools", result_bytes=24 * 1024 * 1024 + 17)
    body = calls.status("apidatatools", job["job_id"])
    digest = hashlib.sha256()
    size = 0
    with calls.http.stream("GET", body["result"]["file"]) as resp:
        assert int(resp.headers["content-length"]) == job["size"]
        for chunk in resp.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    assert size == job["size"] and digest.hexdigest() == job["sha256"]
