"""The documentation's examples that are not DAGs, run as written: the connection lines (read by
Airflow and the hooks), the simulator's command-line exports, the control API script (curl) and
the fixture snippets (included in docs/simulator.md from this file)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from airflow_provider_jobstatus.errors import ConfigurationError
from airflow_provider_jobstatus.hooks.base import JobStatusHook
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.operators.run import AlteryxRunWorkflowOperator
from airflow_provider_jobstatus.testing.connections import export_lines
from airflow_provider_jobstatus.testing.simulator import Simulator

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
VENDORS = {"nitro", "pdfco", "alteryx", "apidatatools", "playment"}


def exported(script: Path) -> dict[str, str]:
    """``NAME=value`` of every ``export`` line, as the shell would set them."""
    found: dict[str, str] = {}
    for line in script.read_text().splitlines():
        if line.startswith("export "):
            for word in shlex.split(line)[1:]:
                name, _, value = word.partition("=")
                found[name] = value
    return found


@pytest.mark.parametrize("script", ["connections.sh", "proxies_tls.sh"])
def test_connection_examples_are_read_by_airflow_and_the_hooks(
    script: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conns = {k: v for k, v in exported(EXAMPLES / script).items() if k.startswith("AIRFLOW_CONN_")}
    assert conns
    for name, value in conns.items():
        monkeypatch.setenv(name, value)
        conn_id = name.removeprefix("AIRFLOW_CONN_").lower()
        conn_type = json.loads(value)["conn_type"]
        assert conn_type in VENDORS
        hook = JobStatusHook.for_connection(conn_id)
        assert hook.vendor.name == conn_type
        extra = json.loads(value).get("extra", {})
        tls_files = [extra[k] for k in ("verify", "cert") if isinstance(extra.get(k), str)]
        if tls_files:  # example paths: the hook names the file it cannot read, as documented
            with pytest.raises(ConfigurationError, match=re.escape(tls_files[0])):
                hook.settings()
            continue
        settings = hook.settings()
        assert settings.client.proxy == extra.get("proxy")
        assert settings.client.verify == extra.get("verify", True)
        if conn_type == "playment":
            assert settings.extras["project_id"] == "<project uuid>"


def test_simulator_exports_are_what_its_command_line_prints() -> None:
    documented = [
        line
        for line in (EXAMPLES / "simulator_connections.sh").read_text().splitlines()
        if line.startswith("export ")
    ]
    with Simulator() as sim:
        printed = [line.replace(f":{sim.port}/", ":8700/") for line in export_lines(sim)]
    assert printed == documented


def test_control_api_script_runs_against_the_simulator() -> None:
    with Simulator() as sim:
        done = subprocess.run(
            ["bash", str(EXAMPLES / "simulator_control.sh")],
            env={**os.environ, "SIM": sim.url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert '"reset":true' in done.stdout
        assert "Playment has no 'failed' outcome" in done.stdout


# [START fixture_job]
def test_download(jobstatus_simulator: Simulator, tmp_path: Path) -> None:
    job = jobstatus_simulator.create_job("pdfco", outcome="succeeded")  # done at once
    get = DownloadJobResultOperator(
        task_id="get", conn_id="pdfco_default", job_id=job["job_id"], destination=f"{tmp_path}/"
    )
    (written,) = get.execute(context={})
    assert written["sha256"] == job["sha256"]
    # [END fixture_job]


def test_start_plans(jobstatus_simulator: Simulator) -> None:
    sim = jobstatus_simulator
    # [START plan_starts]
    sim.plan_starts("alteryx", {"outcome": "failed", "polls": 3}, {"fault": "rate_429"}, {"seconds": 600})
    sim.starts()  # {"created": {"alteryx": 0, ...}, "queued": {"alteryx": 3, ...}, "canceled": {...}, ...}
    # [END plan_starts]
    assert sim.starts()["queued"]["alteryx"] == 3
    start = AlteryxRunWorkflowOperator(
        task_id="start", conn_id="alteryx_default", workflow_id="5f1e3c0a9b8d7e6f5a4b3c2d", wait=False
    )
    job = start.execute(context={})
    assert sim.job(job["job_id"])["outcome"] == "failed"
    assert sim.starts()["queued"]["alteryx"] == 2


def test_the_fixture_starts_each_test_without_the_last_ones_plans(jobstatus_simulator: Simulator) -> None:
    """test_start_plans left two plans queued; the fixture cleared them before this test."""
    assert jobstatus_simulator.starts()["queued"]["alteryx"] == 0
