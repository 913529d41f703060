"""The provider's metrics as Airflow's own StatsD logger sends them, read from a UDP socket: each
name, with the ``vendor`` and ``conn_id`` tags (InfluxDB-style tags, which StatsD carries)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import pytest

from airflow_provider_jobstatus import metrics
from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    JobStatusError,
    MalformedResponseError,
    TransientVendorError,
    VendorRequestError,
)
from airflow_provider_jobstatus.hooks import PdfCoHook
from tests.servers import Background, Origin, Reply, Seen, http_answer

stats_utils = pytest.importorskip("airflow.sdk.observability.metrics.stats_utils")
stats = pytest.importorskip("airflow.sdk.observability.stats")
if not hasattr(stats, "initialize"):  # Airflow 3.2's Task SDK sets Stats up without a public call
    pytest.skip("this Airflow has no airflow.sdk.observability.stats.initialize", allow_module_level=True)


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """Airflow's StatsD logger (the Task SDK's, as a task runner sets it up) pointed at a UDP
    socket of this test."""
    pytest.importorskip("statsd")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    for name, value in {
        "STATSD_ON": "True",
        "STATSD_HOST": "127.0.0.1",
        "STATSD_PORT": str(sock.getsockname()[1]),
        "STATSD_PREFIX": "airflow",
        "STATSD_INFLUXDB_ENABLED": "True",
    }.items():
        monkeypatch.setenv(f"AIRFLOW__METRICS__{name}", value)
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    yield sock
    stats.initialize(factory=stats_utils.NoStatsLogger, export_legacy_names=False)
    sock.close()


def received(sock: socket.socket, count: int) -> list[str]:
    """The next ``count`` of our datagrams (Airflow sends its own too)."""
    ours: list[str] = []
    while len(ours) < count:
        line = sock.recv(65536).decode()
        if ".jobstatus." in line:
            ours.append(line)
    return ours


def test_each_metric_is_named_and_tagged(statsd: socket.socket) -> None:
    metrics.polled("pdfco", "pdf_a")
    metrics.faulted("pdfco", "pdf_a", TransientVendorError("PDF.co", "j", "HTTP 503", status_code=503))
    metrics.rate_limited("pdfco", "pdf_a")
    metrics.started("pdfco", "pdf_a")
    metrics.reattached("pdfco", "pdf_a")
    metrics.cancelled("pdfco", "pdf_a")
    metrics.wait_ended("pdfco", "pdf_a", 12.5, "succeeded")
    assert received(statsd, 7) == [
        "airflow.jobstatus.poll,vendor=pdfco,conn_id=pdf_a:1|c",
        "airflow.jobstatus.fault,vendor=pdfco,conn_id=pdf_a,kind=server_error:1|c",
        "airflow.jobstatus.rate_limited,vendor=pdfco,conn_id=pdf_a:1|c",
        "airflow.jobstatus.start,vendor=pdfco,conn_id=pdf_a:1|c",
        "airflow.jobstatus.reattach,vendor=pdfco,conn_id=pdf_a:1|c",
        "airflow.jobstatus.cancel,vendor=pdfco,conn_id=pdf_a:1|c",
        "airflow.jobstatus.wait.duration,vendor=pdfco,conn_id=pdf_a,outcome=succeeded:12500.000000|ms",
    ]


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TransientVendorError("V", "j", "HTTP 429", status_code=429), "rate_limited"),
        (TransientVendorError("V", "j", "reset", sent=False), "connection"),
        (TransientVendorError("V", "j", "HTTP 408", status_code=408), "timeout"),
        (MalformedResponseError("V", "j", "HTML page"), "malformed"),
        (AuthenticationError("V", "j", "401"), "auth"),
        (VendorRequestError("V", "j", "400", status_code=400), "refused"),
    ],
)
def test_fault_kinds(exc: JobStatusError, kind: str) -> None:
    assert metrics.fault_kind(exc) == kind


def test_a_hook_counts_its_polls_faults_and_429s(
    monkeypatch: pytest.MonkeyPatch, statsd: socket.socket
) -> None:
    answers = [
        http_answer(b"{}", "429 Too Many Requests", [("Retry-After", "0")]),
        http_answer(b'{"status": "working"}', headers=[("Content-Type", "application/json")]),
    ]

    def script(seen: Seen) -> Reply:
        return Reply(answers.pop(0))

    bg = Background()
    origin = Origin(bg, script)
    try:
        monkeypatch.setenv(
            "AIRFLOW_CONN_PDF_M",
            json.dumps({"conn_type": "pdfco", "host": origin.url, "password": "key-1"}),
        )

        async def poll() -> None:
            async with PdfCoHook("pdf_m", backoff=0.01, max_backoff=0.01) as hook:
                await hook.aget_job_status("j")

        asyncio.run(poll())
    finally:
        origin.close()
        bg.close()
    assert received(statsd, 4) == [
        "airflow.jobstatus.poll,vendor=pdfco,conn_id=pdf_m:1|c",
        "airflow.jobstatus.rate_limited,vendor=pdfco,conn_id=pdf_m:1|c",
        "airflow.jobstatus.fault,vendor=pdfco,conn_id=pdf_m,kind=rate_limited:1|c",
        "airflow.jobstatus.poll,vendor=pdfco,conn_id=pdf_m:1|c",  # the retry, answered: no fault
    ]
    statsd.settimeout(0.3)
    with pytest.raises(TimeoutError):
        received(statsd, 1)
