"""What the simulator's command line prints for people works as printed: the exported connection
variables point the hooks at it, and the first control call makes a job they can wait on."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_jobstatus.hooks import JobStatusHook
from airflow_provider_jobstatus.status import JobState
from airflow_provider_jobstatus.testing.simulator import VENDORS


@pytest.fixture(scope="module")
def printed() -> Iterator[tuple[dict[str, object], list[str]]]:
    """The JSON line, then the lines for people (a blank line first, the curl call last)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_jobstatus.testing.simulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        lines: list[str] = []
        assert proc.stdout.readline() == "\n"
        while not lines or not lines[-1].startswith("curl "):
            lines.append(proc.stdout.readline().rstrip("\n"))
        yield info, lines
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_the_exported_connections_reach_every_vendor(
    printed: tuple[dict[str, object], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    info, lines = printed
    exports = [shlex.split(line) for line in lines if line.startswith("export ")]
    assert [words[0] for words in exports] == ["export"] * len(VENDORS)
    for _, assignment in exports:
        name, value = assignment.split("=", 1)
        monkeypatch.setenv(name, value)
    for vendor in VENDORS:
        job = httpx.post(f"{info['url']}/_sim/jobs", json={"vendor": vendor}).json()
        hook = JobStatusHook.for_connection(f"{vendor}_default")
        assert hook.test_connection()[0], vendor
        status = hook.get_job_status(job["job_id"])
        assert (status.vendor, status.state) == (vendor, JobState.SUCCEEDED)


def test_the_printed_curl_makes_a_job(printed: tuple[dict[str, object], list[str]]) -> None:
    info, lines = printed
    (curl,) = [shlex.split(line) for line in lines if line.startswith("curl ")]
    made = subprocess.run(curl, capture_output=True, text=True, check=True, timeout=30)
    job = json.loads(made.stdout)
    assert job["vendor"] == "pdfco" and job["job_id"]
    assert httpx.get(f"{info['url']}/_sim/jobs/{job['job_id']}").json()["polls"] == 2
