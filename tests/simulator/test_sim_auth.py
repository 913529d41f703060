"""Each vendor's authentication, and each vendor's own 401."""

from __future__ import annotations

import time

import httpx
import pytest

from airflow_provider_jobstatus.testing.simulator import Simulator
from tests.simulator.simkit import PROJECT, Calls


def test_nitro_token_camel_case_and_bad_credentials(calls: Calls) -> None:
    ok = calls.nitro_token_response()
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) == {"accessToken", "tokenType", "expiresIn"}
    assert body["tokenType"] == "Bearer" and body["expiresIn"] == 3600
    bad = calls.nitro_token_response(secret="wrong")
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client" and bad.json()["error_description"]
    form = calls.http.post(calls.sim.base_url("nitro") + "/oauth/token", data={"clientID": "x"})
    assert form.status_code == 400 and form.json()["error"] == "invalid_request"


def test_nitro_token_snake_case_when_configured(sim: Simulator, calls: Calls) -> None:
    resp = calls.http.post(sim.url + "/_sim/config", json={"nitro_token_style": "snake"})
    assert resp.json()["nitro_token_style"] == "snake"
    body = calls.nitro_token_response().json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    sim.reset()
    assert "accessToken" in calls.nitro_token_response().json()


def test_alteryx_token_basic_auth_or_form_credentials(calls: Calls, sim: Simulator) -> None:
    body = calls.alteryx_token_response().json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["access_token"]
    form = calls.http.post(
        sim.base_url("alteryx") + "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sim-alteryx-client",
            "client_secret": "sim-alteryx-secret",
        },
    )
    assert form.status_code == 200
    bad = calls.alteryx_token_response(secret="nope")
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    grant = calls.http.post(sim.base_url("alteryx") + "/oauth2/token", data={"grant_type": "password"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("vendor", ["nitro", "alteryx"])
def test_bearer_vendors_reject_missing_wrong_and_cross_vendor_tokens(
    vendor: str, calls: Calls, sim: Simulator
) -> None:
    job = sim.create_job(vendor)["job_id"]
    assert calls.status_response(vendor, job).status_code == 200
    other = "alteryx" if vendor == "nitro" else "nitro"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {calls.token(other)}"}):
        resp = calls.status_response(vendor, job, headers=headers)
        assert resp.status_code == 401
        if vendor == "nitro":
            assert resp.json()["status"] == 401 and resp.json()["title"] == "Unauthorized"
        else:
            assert resp.json() == {"message": "Authorization has been denied for this request."}


@pytest.mark.parametrize(
    ("vendor", "check"),
    [
        ("pdfco", lambda b: b["error"] is True and b["status"] == 401 and b["message"]),
        (
            "apidatatools",
            lambda b: b["status"] == "error" and b["error"] == "UNAUTHORIZED" and b["details"]["message"],
        ),
        (
            "playment",
            lambda b: (
                b["success"] is False and b["error"]["code"] == "unauthorized" and b["error"]["message"]
            ),
        ),
    ],
)
def test_key_vendors_answer_their_own_401(vendor: str, check: object, calls: Calls, sim: Simulator) -> None:
    job = sim.create_job(vendor)["job_id"]
    assert calls.status_response(vendor, job).status_code == 200
    for headers in ({}, {"x-api-key": "wrong"}, {"Authorization": "Bearer sim-pdfco-key"}):
        resp = calls.status_response(vendor, job, headers=headers)
        assert resp.status_code == 401, (headers, resp.text)
        assert callable(check) and check(resp.json())


def test_playment_key_for_another_project_is_a_400(calls: Calls, sim: Simulator) -> None:
    job = sim.create_job("playment")["job_id"]
    resp = calls.http.get(
        f"{sim.base_url('playment')}/v1/projects/other-project/jobs/{job}", headers=calls.headers("playment")
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "GE_0001"
    assert (
        PROJECT
        in calls.http.get(
            f"{sim.base_url('playment')}/v1/projects/{PROJECT}/jobs/{job}", headers=calls.headers("playment")
        ).text
    )


def test_tokens_expire_after_the_runtime_token_ttl(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    assert http.post(sim.url + "/_sim/config", json={"token_ttl": 1}).status_code == 200
    nitro_job = sim.create_job("nitro")["job_id"]
    alteryx_job = sim.create_job("alteryx")["job_id"]
    assert calls.nitro_token_response().json()["expiresIn"] == 1
    calls.token("nitro", fresh=True)
    calls.token("alteryx", fresh=True)
    assert calls.status_response("nitro", nitro_job).status_code == 200
    assert calls.status_response("alteryx", alteryx_job).status_code == 200
    time.sleep(1.1)
    assert calls.status_response("nitro", nitro_job).status_code == 401
    assert calls.status_response("alteryx", alteryx_job).status_code == 401
    sim.reset()  # back to the start-time ttl
    calls.token("nitro", fresh=True)
    assert calls.status_response("nitro", nitro_job).status_code == 404  # reset forgot the job, token fine


def test_expire_tokens_invalidates_every_token(calls: Calls, sim: Simulator, http: httpx.Client) -> None:
    job = sim.create_job("nitro")["job_id"]
    calls.token("nitro", fresh=True)
    assert calls.status_response("nitro", job).status_code == 200
    assert http.post(sim.url + "/_sim/tokens/expire").json()["expired"] >= 1
    assert calls.status_response("nitro", job).status_code == 401
    calls.token("nitro", fresh=True)
    assert calls.status_response("nitro", job).status_code == 200


def test_custom_credentials() -> None:
    with Simulator(credentials={"pdfco": {"api_key": "k2"}}) as custom:
        job = custom.create_job("pdfco")["job_id"]
        url = custom.base_url("pdfco") + "/v1/job/check"
        assert httpx.post(url, json={"jobid": job}, headers={"x-api-key": "k2"}).status_code == 200
        assert httpx.post(url, json={"jobid": job}, headers={"x-api-key": "sim-pdfco-key"}).status_code == 401
    with pytest.raises(ValueError, match="unknown vendor"):
        Simulator(credentials={"acme": {"api_key": "x"}})
