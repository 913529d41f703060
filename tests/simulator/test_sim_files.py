"""The files origin: signed URLs only, no credentials, expiry, ranges; the request log counts it."""

from __future__ import annotations

import hashlib
import time

import httpx

from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.simulator.simkit import Calls


def _pdfco_url(calls: Calls, sim: Simulator, **opts: object) -> tuple[dict[str, object], str]:
    job = sim.create_job("pdfco", result_bytes=10_000, **opts)
    return job, str(calls.status("pdfco", str(job["job_id"]))["url"])


def test_requests_with_credentials_are_refused_and_counted(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    _, url = _pdfco_url(calls, sim)
    sim.clear_requests()
    assert http.get(url).status_code == 200
    for headers in ({"x-api-key": "sim-pdfco-key"}, {"Authorization": "Bearer abc"}):
        resp = http.get(url, headers=headers)
        assert resp.status_code == 403
        assert resp.headers["content-type"] == "application/xml"
        assert "<Code>AccessDenied</Code>" in resp.text
    files = sim.requests()["files"]
    assert files == {"requests": 3, "with_credentials": 2, "rejected": 2}
    log = [e for e in http.get(sim.url + "/_sim/requests").json()["log"] if e["origin"] == "files"]
    assert [e["auth_headers"] for e in log] == [[], ["x-api-key"], ["authorization"]]
    assert all("?" not in e["path"] for e in log)


def test_bad_signature_unsigned_and_unknown_paths(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    _, url = _pdfco_url(calls, sim)
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert http.get(tampered).status_code == 403
    assert http.get(url.split("?")[0]).status_code == 403
    longer = url.replace("X-Sim-Expires=", "X-Sim-Expires=9")
    assert http.get(longer).status_code == 403
    assert http.get(sim.files_url + "/elsewhere").status_code == 404
    assert http.post(url).status_code == 405


def test_links_expire_after_link_ttl_and_on_expire(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    _, url = _pdfco_url(calls, sim, link_ttl=0)
    expired = http.get(url)
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in expired.text
    job, url = _pdfco_url(calls, sim, link_ttl=1)
    assert http.get(url).status_code == 200
    sim.expire(str(job["job_id"]))
    assert "Request has expired" in http.get(url).text
    http.post(sim.url + "/_sim/config", json={"link_ttl": 0})
    _, url = _pdfco_url(calls, sim)
    assert http.get(url).status_code == 403


def test_link_ttl_is_counted_from_completion(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    _, url = _pdfco_url(calls, sim, link_ttl=1)
    expires = int(url.split("X-Sim-Expires=")[1].split("&")[0])
    assert expires <= time.time() + 1
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    assert http.get(url).status_code == 403


def test_range_and_head_requests(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    job, url = _pdfco_url(calls, sim)
    whole = http.get(url).content
    assert hashlib.sha256(whole).hexdigest() == job["sha256"]
    part = http.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole[100:200]
    assert part.headers["content-range"] == "bytes 100-199/10000"
    assert http.get(url, headers={"Range": "bytes=-10"}).content == whole[-10:]
    assert http.get(url, headers={"Range": "bytes=20000-"}).status_code == 416
    head = http.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == "10000" and head.content == b""


def test_playment_attachment_redirect_to_a_signed_url(
    calls: Calls, sim: Simulator, http: httpx.Client
) -> None:
    job = sim.create_job("playment", result_bytes=4321)
    result = calls.status("playment", job["job_id"])["data"]["result"]
    redirect = http.get(
        sim.base_url("playment") + "/v1/attachments",
        params={"url": result},
        headers=calls.headers("playment"),
    )
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(result + "?X-Sim-Expires=")
    assert hashlib.sha256(http.get(location).content).hexdigest() == job["sha256"]
    # a client that forwards x-api-key across the redirect is refused
    assert http.get(location, headers=calls.headers("playment")).status_code == 403
