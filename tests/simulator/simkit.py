"""Helpers for the simulator tests: the documented example bodies and ``Calls``, which talks to
each vendor the way that vendor's clients do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from airflow_provider_jobstatus.testing.simulator import DEFAULT_CREDENTIALS, Simulator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
PROJECT = DEFAULT_CREDENTIALS["playment"]["project_id"]


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class Calls:
    """Each vendor's own way of authenticating, asking for a status and fetching a result."""

    def __init__(self, sim: Simulator, http: httpx.Client) -> None:
        self.sim = sim
        self.http = http
        self._tokens: dict[str, str] = {}

    # -- auth ----------------------------------------------------------------------------------
    def nitro_token_response(self, client_id: str | None = None, secret: str | None = None) -> httpx.Response:
        creds = DEFAULT_CREDENTIALS["nitro"]
        return self.http.post(
            self.sim.base_url("nitro") + "/oauth/token",
            json={
                "clientID": client_id or creds["client_id"],
                "clientSecret": secret or creds["client_secret"],
            },
        )

    def alteryx_token_response(
        self, client_id: str | None = None, secret: str | None = None
    ) -> httpx.Response:
        creds = DEFAULT_CREDENTIALS["alteryx"]
        return self.http.post(
            self.sim.base_url("alteryx") + "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id or creds["client_id"], secret or creds["client_secret"]),
        )

    def token(self, vendor: str, fresh: bool = False) -> str:
        if fresh or vendor not in self._tokens:
            if vendor == "nitro":
                body = self.nitro_token_response().json()
                self._tokens[vendor] = body.get("accessToken") or body["access_token"]
            else:
                self._tokens[vendor] = self.alteryx_token_response().json()["access_token"]
        return self._tokens[vendor]

    def headers(self, vendor: str) -> dict[str, str]:
        if vendor in ("nitro", "alteryx"):
            return {"Authorization": f"Bearer {self.token(vendor)}"}
        if vendor == "jobapi":  # the default profile: a bearer secret
            return {"Authorization": f"Bearer {DEFAULT_CREDENTIALS[vendor]['client_secret']}"}
        return {"x-api-key": DEFAULT_CREDENTIALS[vendor]["api_key"]}

    # -- status --------------------------------------------------------------------------------
    def status_response(
        self, vendor: str, job_id: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        base = self.sim.base_url(vendor)
        hdrs = self.headers(vendor) if headers is None else headers
        if vendor == "nitro":
            return self.http.get(f"{base}/jobs/{job_id}/status", headers=hdrs)
        if vendor == "pdfco":
            return self.http.post(f"{base}/v1/job/check", json={"jobid": job_id}, headers=hdrs)
        if vendor == "alteryx":
            return self.http.get(f"{base}/v3/jobs/{job_id}", params={"includeMessages": "true"}, headers=hdrs)
        if vendor == "apidatatools":
            return self.http.get(f"{base}/jobs/{job_id}", headers=hdrs)
        if vendor == "jobapi":
            return self.http.get(f"{base}/v1/jobs/{job_id}", headers=hdrs)
        return self.http.get(f"{base}/v1/projects/{PROJECT}/jobs/{job_id}", headers=hdrs)

    def status(self, vendor: str, job_id: str) -> dict[str, Any]:
        resp = self.status_response(vendor, job_id)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    @staticmethod
    def status_word(vendor: str, body: dict[str, Any]) -> str:
        if vendor == "playment":
            return str(body["data"]["status"])
        if vendor == "jobapi":
            return str(body["job"]["state"])
        if vendor == "alteryx" and body["status"] == "Completed":
            return f"Completed/{body['disposition']}"
        return str(body["status"])

    def poll_statuses(self, vendor: str, job_id: str, limit: int = 20) -> tuple[list[str], dict[str, Any]]:
        """Poll until a terminal status; returns the status words seen and the last body."""
        terminal = {
            "completed",
            "failed",
            "canceled",
            "success",
            "aborted",
            "Cancelled",
            "Completed/Success",
            "Completed/Warning",
            "Completed/Error",
            "done",
            "error",
            "stopped",
        }
        seen: list[str] = []
        for _ in range(limit):
            body = self.status(vendor, job_id)
            seen.append(self.status_word(vendor, body))
            if seen[-1] in terminal:
                return seen, body
        raise AssertionError(f"{vendor} job {job_id} never finished: {seen}")

    # -- results -------------------------------------------------------------------------------
    def fetch_results(self, vendor: str, job_id: str, body: dict[str, Any]) -> list[bytes]:
        """The result bytes, fetched the vendor's way from a terminal status body."""
        base = self.sim.base_url(vendor)
        if vendor == "nitro":
            result = body["result"]
            infos = result["files"] if "files" in result else [result["file"]]
            return [self._get(info["URL"]) for info in infos]
        if vendor == "pdfco":
            return [self._get(url) for url in body.get("urls", [body.get("url")])]
        if vendor == "alteryx":
            out = []
            for output in body["outputs"]:
                resp = self.http.get(
                    f"{base}/v1/jobs/{job_id}/output/{output['id']}",
                    params={"format": "Csv"},
                    headers=self.headers("alteryx"),
                )
                assert resp.status_code == 200, resp.text
                out.append(resp.content)
            return out
        if vendor == "apidatatools":
            return [self._get(body["result"]["file"])]
        if vendor == "jobapi":
            return [self._get(output["href"]) for output in body["job"]["outputs"]]
        redirect = self.http.get(
            f"{base}/v1/attachments", params={"url": body["data"]["result"]}, headers=self.headers("playment")
        )
        assert redirect.status_code == 302, redirect.text
        return [self._get(redirect.headers["location"])]

    def _get(self, url: str) -> bytes:
        resp = self.http.get(url)  # a signed URL on the files origin: no credentials
        assert resp.status_code == 200, resp.text
        assert int(resp.headers["content-length"]) == len(resp.content)
        return resp.content
