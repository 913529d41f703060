"""Secrets never leave through the side doors: against the simulator over real HTTP.

Every secret value in play is collected: the connections' API keys and client secrets (and the
Basic header made of them), every access token the simulator issues and every ``X-Sim-Signature``
it signs (both captured by wrapping the simulator's own issuing functions), and the wrong keys the
tests use. Then waits, trigger events and kwargs, XCom values, downloads, exception texts (refused
credentials, broken answers, transport errors on signed URLs), logs and ``repr()`` are searched for
each of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred

from airflow_provider_jobstatus.errors import AuthenticationError, JobStatusError, TransientVendorError
from airflow_provider_jobstatus.hooks import HOOKS, JobStatusHook
from airflow_provider_jobstatus.operators.download import DownloadJobResultOperator
from airflow_provider_jobstatus.sensors.job_status import JobStatusSensor
from airflow_provider_jobstatus.status import JobStatus, ResultFile
from airflow_provider_jobstatus.testing.connections import connection_dict
from airflow_provider_jobstatus.testing.simulator import Simulator
from airflow_provider_jobstatus.triggers.job_status import JobStatusTrigger
from airflow_provider_jobstatus.vendors import VENDORS, ApiRequest, ResultRequest, describe_status
from tests.airflow_versions import needs_start_from_trigger
from tests.secret_values import Secrets, capture_secrets

ALL = ["nitro", "pdfco", "alteryx", "apidatatools", "playment"]
#: vendors whose status answer itself carries signed URLs
SIGNED_IN_STATUS = {"nitro", "pdfco", "apidatatools"}
FAST = {"poll_interval": 0.05, "backoff": 0.01, "max_backoff": 0.05}


@pytest.fixture
def sim(jobstatus_simulator: Simulator) -> Iterator[Simulator]:
    jobstatus_simulator.clear_faults()
    yield jobstatus_simulator
    jobstatus_simulator.clear_faults()


@pytest.fixture
def secrets(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Secrets:
    """Collects the tokens and signed URLs the simulator hands out during the test."""
    return capture_secrets(sim, monkeypatch)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything logged at INFO and above, Airflow's default task log level (DEBUG: see the end)."""
    caplog.set_level(logging.INFO)
    return caplog


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every record, rendered, with its arguments and any exception it carries."""
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.extend(traceback.format_exception(record.exc_info[1]))
    return "\n".join(parts)


def error_text(exc: BaseException) -> str:
    """What a user or a log could see of an exception: str, repr and the whole chained traceback."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def opts(vendor: str) -> dict[str, Any]:
    return {"retry_after": 0} if vendor == "apidatatools" else {}


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn: dict[str, Any]) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


async def run_trigger(trigger: JobStatusTrigger, limit: float = 30.0) -> dict[str, Any]:
    gen = trigger.run()
    try:
        event = await asyncio.wait_for(gen.__anext__(), limit)
    finally:
        await gen.aclose()
    return event.payload  # type: ignore[no-any-return]


def files_with_credentials(sim: Simulator) -> int:
    return int(sim.requests(include_log=False)["files"]["with_credentials"])


# == a whole wait: check on the worker, defer, trigger, event, XCom ===============================
@pytest.mark.parametrize("vendor", ALL)
def test_a_wait_leaks_nothing(
    sim: Simulator, secrets: Secrets, logs: pytest.LogCaptureFixture, vendor: str
) -> None:
    job = sim.create_job(vendor, outcome="succeeded", polls=2, **opts(vendor))
    sensor = JobStatusSensor(
        task_id="wait", conn_id=f"{vendor}_default", job_id=job["job_id"], poke_interval=0.05, timeout=60
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context={})
    trigger = deferred.value.trigger
    assert isinstance(trigger, JobStatusTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath.endswith("JobStatusTrigger")
    stored = json.dumps(kwargs)  # what the trigger table holds
    rebuilt = JobStatusTrigger(**{**kwargs, **FAST})  # a triggerer restart: from kwargs alone
    event = asyncio.run(run_trigger(rebuilt))
    xcom = sensor.execute_complete({}, event)

    assert event["status"] == "done" and xcom["state"] == "succeeded"
    if vendor in SIGNED_IN_STATUS:  # the answers the wait read did carry signatures
        assert secrets.signatures, "no signed URL was issued: the search below would prove nothing"
        assert xcom["results"] and all(r["url"] and "?" not in r["url"] for r in xcom["results"])
    if VENDORS[vendor].uses_token:
        assert secrets.tokens, "no token was issued: the search below would prove nothing"
    for what, text in {
        "trigger kwargs": stored,
        "event": json.dumps(event),
        "xcom": json.dumps(xcom),
        "logs": log_text(logs),
        "describe": describe_status(JobStatus.from_event(event["job"])),
    }.items():
        assert secrets.found_in(text) == [], f"{what} leaks {secrets.found_in(text)}"


@needs_start_from_trigger
def test_start_from_trigger_kwargs_carry_no_secret(secrets: Secrets) -> None:
    for vendor in ALL:
        sensor = JobStatusSensor(
            task_id="wait", conn_id=f"{vendor}_default", job_id="j-1", start_from_trigger=True, timeout=60
        )
        assert sensor.start_trigger_args is not None
        kwargs = json.dumps(sensor.start_trigger_args.trigger_kwargs)
        assert secrets.found_in(kwargs) == [] and "password" not in kwargs and "login" not in kwargs


# == downloads ====================================================================================
@pytest.mark.parametrize("vendor", ALL)
def test_a_download_leaks_nothing_and_sends_no_credential_elsewhere(
    sim: Simulator, secrets: Secrets, logs: pytest.LogCaptureFixture, tmp_path: Path, vendor: str
) -> None:
    job = sim.create_job(vendor, outcome="succeeded", **opts(vendor))
    before = files_with_credentials(sim)
    op = DownloadJobResultOperator(
        task_id="get", conn_id=f"{vendor}_default", job_id=job["job_id"], destination=f"{tmp_path}/"
    )
    written = op.execute(context={})
    assert written and written[0]["sha256"] == job["sha256"]
    if vendor != "alteryx":  # Alteryx serves outputs from its own API, the others by signed URL
        assert secrets.signatures
    assert files_with_credentials(sim) == before, "a credential was sent to the files origin"
    assert secrets.found_in(json.dumps(written)) == []
    assert secrets.found_in(log_text(logs)) == []
    assert secrets.found_in("\n".join(p.name for p in tmp_path.rglob("*"))) == []


# == refused credentials ==========================================================================
def wrong_conn(sim: Simulator, vendor: str) -> tuple[dict[str, Any], str]:
    conn = connection_dict(sim, vendor)
    conn["password"] = f"wrong-{vendor}-secret-0123456789"
    return conn, conn["password"]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("vendor", ALL)
def test_refused_credentials_are_named_not_shown(
    sim: Simulator,
    secrets: Secrets,
    logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    vendor: str,
    mode: str,
) -> None:
    conn, wrong = wrong_conn(sim, vendor)
    secrets.add("wrong key", wrong)
    conn_id = f"wrong_{vendor}_{mode}"
    set_conn(monkeypatch, conn_id, conn)
    job = sim.create_job(vendor, outcome="succeeded", **opts(vendor))
    hook = HOOKS[vendor](conn_id, backoff=0.01, max_backoff=0.05)

    async def ask() -> JobStatus:
        async with hook:
            return await hook.aget_job_status(job["job_id"])

    with pytest.raises(AuthenticationError) as err:
        hook.get_job_status(job["job_id"]) if mode == "sync" else asyncio.run(ask())
    assert "credentials refused" in str(err.value) or "token request refused" in str(err.value)
    assert secrets.found_in(error_text(err.value)) == []

    with pytest.raises(AirflowException) as failed:
        JobStatusSensor(task_id="wait", conn_id=conn_id, job_id=job["job_id"]).execute(context={})
    assert secrets.found_in(error_text(failed.value)) == []

    ok, message = HOOKS[vendor](conn_id).test_connection()
    assert not ok and secrets.found_in(message) == []
    assert secrets.found_in(log_text(logs)) == []


async def test_a_refused_wait_ends_with_an_event_that_names_no_secret(
    sim: Simulator, secrets: Secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    for vendor in ALL:
        conn, wrong = wrong_conn(sim, vendor)
        secrets.add(f"wrong {vendor} key", wrong)
        set_conn(monkeypatch, f"wrong_trigger_{vendor}", conn)
        job = sim.create_job(vendor, outcome="succeeded", **opts(vendor))
        event = await run_trigger(JobStatusTrigger(f"wrong_trigger_{vendor}", job["job_id"], **FAST))
        assert event["status"] == "error" and event["error"] == "AuthenticationError", event
        assert secrets.found_in(json.dumps(event)) == []


# == broken and failing answers ===================================================================
STATUS_FAULTS = ["malformed_json", "html_error", "error_5xx", "rate_429", "reset", "unknown_status"]


@pytest.mark.parametrize("fault", STATUS_FAULTS)
@pytest.mark.parametrize("vendor", ALL)
async def test_broken_answers_are_described_without_secrets(
    sim: Simulator, secrets: Secrets, logs: pytest.LogCaptureFixture, vendor: str, fault: str
) -> None:
    job = sim.create_job(vendor, outcome="succeeded", **opts(vendor))
    sim.set_faults(vendor, **{fault: 1.0, "retry_after": 0, "paths": ["status"]})
    texts = []
    hook = HOOKS[vendor](f"{vendor}_default", retries=2, backoff=0.01, max_backoff=0.02)
    try:
        status = hook.get_job_status(job["job_id"])
        texts.append(describe_status(status))
    except JobStatusError as exc:
        texts.append(error_text(exc))
    trigger = JobStatusTrigger(f"{vendor}_default", job["job_id"], transient_fault_tolerance=0.3, **FAST)
    if fault == "unknown_status":  # not a fault: the wait goes on until its deadline
        trigger = JobStatusTrigger(f"{vendor}_default", job["job_id"], timeout_at=time.time() + 0.5, **FAST)
    event = await run_trigger(trigger)
    assert event["status"] in ("error", "timeout"), event
    texts.append(json.dumps(event))
    texts.append(log_text(logs))
    if VENDORS[vendor].uses_token:
        assert secrets.tokens
    for text in texts:
        assert secrets.found_in(text) == [], text[:2000]


# == transport errors and refusals on signed URLs ===============================================
FILE_FAULTS = ["reset", "error_5xx", "html_error", "truncate"]


@pytest.mark.parametrize("fault", FILE_FAULTS)
@pytest.mark.parametrize("vendor", ["pdfco", "apidatatools", "playment", "nitro"])
def test_failed_downloads_of_signed_urls_name_no_signature(
    sim: Simulator,
    secrets: Secrets,
    logs: pytest.LogCaptureFixture,
    tmp_path: Path,
    vendor: str,
    fault: str,
) -> None:
    job = sim.create_job(vendor, outcome="succeeded", results=2 if vendor == "nitro" else 1, **opts(vendor))
    sim.set_faults(vendor, **{fault: 1.0, "retry_after": 0, "paths": ["files"]})
    op = DownloadJobResultOperator(
        task_id="get",
        conn_id=f"{vendor}_default",
        job_id=job["job_id"],
        destination=f"{tmp_path}/",
        download_attempts=2,
        backoff=0.01,
    )
    with pytest.raises(AirflowException) as err:
        op.execute(context={})
    assert secrets.signatures, "the download never met a signed URL"
    assert secrets.found_in(error_text(err.value)) == []
    assert secrets.found_in(log_text(logs)) == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [], "a partial file was left behind"


@pytest.mark.parametrize("vendor", ["pdfco", "apidatatools", "playment"])
def test_an_expired_signed_link_is_named_without_its_signature(
    sim: Simulator, secrets: Secrets, logs: pytest.LogCaptureFixture, tmp_path: Path, vendor: str
) -> None:
    job = sim.create_job(vendor, outcome="succeeded", **opts(vendor))
    sim.expire(job["job_id"])
    op = DownloadJobResultOperator(
        task_id="get", conn_id=f"{vendor}_default", job_id=job["job_id"], destination=f"{tmp_path}/"
    )
    with pytest.raises(AirflowException, match="expired") as err:
        op.execute(context={})
    assert secrets.signatures
    assert secrets.found_in(error_text(err.value)) == []
    assert secrets.found_in(log_text(logs)) == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("mode", ["sync"])
def test_a_connection_error_on_a_signed_url_hides_the_signature(
    sim: Simulator, secrets: Secrets, mode: str
) -> None:
    """A real refused connection (real sync client and real async transport) to a signed URL."""
    signature = "f" * 64
    secrets.add("signature", signature)
    url = f"http://127.0.0.1:{closed_port()}/files/abc/result.pdf?X-Sim-Expires=1&X-Sim-Signature={signature}"
    rr = ResultRequest(ApiRequest("GET", url, authenticated=False), "result.pdf", ResultFile(url=url))
    hook = HOOKS["pdfco"]("pdfco_default", retries=1)
    with pytest.raises(TransientVendorError, match="connection failed") as err:
        open_result(hook, rr, mode)
    assert secrets.found_in(error_text(err.value)) == []


@pytest.mark.parametrize("mode", ["sync"])
@pytest.mark.parametrize(
    "exc_type", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError]
)
def test_transport_errors_that_quote_the_signed_url_are_cleaned(
    monkeypatch: pytest.MonkeyPatch, sim: Simulator, secrets: Secrets, mode: str, exc_type: type[Exception]
) -> None:
    """Some clients put the whole URL in their error text; the hook must cut the query off."""
    signature = "e" * 64
    secrets.add("signature", signature)
    url = f"https://files.example.test/r.pdf?X-Amz-Credential=AKIA&X-Sim-Signature={signature}"

    def fail(request: httpx.Request) -> httpx.Response:
        raise exc_type(f"{exc_type.__name__} while fetching {request.url} ('{request.url}')", request=request)

    set_conn(monkeypatch, "pdf_mock", connection_dict(sim, "pdfco"))
    hook = HOOKS["pdfco"]("pdf_mock", transport=httpx.MockTransport(fail), retries=1)
    rr = ResultRequest(ApiRequest("GET", url, authenticated=False), "r.pdf", ResultFile(url=url))
    with pytest.raises(JobStatusError) as err:
        open_result(hook, rr, mode)
    assert err.value.transient
    assert "files.example.test" in str(err.value)  # the error still says where
    assert secrets.found_in(error_text(err.value)) == []
    assert "X-Amz-Credential" not in str(err.value)


def open_result(hook: JobStatusHook, rr: ResultRequest, mode: str) -> bytes:
    assert mode == "sync"  # downloads run on workers: there is no async download path
    with hook.open_result(rr) as resp:
        return resp.read()


# == repr =========================================================================================
@pytest.mark.parametrize("vendor", ALL)
def test_repr_of_hooks_settings_credentials_and_tokens(sim: Simulator, secrets: Secrets, vendor: str) -> None:
    hook = HOOKS[vendor](f"{vendor}_default")
    settings = hook.settings()
    texts = [repr(hook), str(hook), repr(settings), str(settings), repr(settings.creds), repr(vars(hook))]
    client = hook.sync_client()
    texts += [repr(client), repr(client.conn), repr(client.conn.client)]
    if VENDORS[vendor].uses_token:
        token = client.token(client.tokens.value)  # a new token, not one an earlier test left cached
        assert token in secrets.tokens
        texts += [repr(client.tokens)]
    for text in texts:
        assert secrets.found_in(text) == [], text


@pytest.mark.parametrize("vendor", sorted(SIGNED_IN_STATUS))
def test_repr_of_a_status_with_signed_results(sim: Simulator, secrets: Secrets, vendor: str) -> None:
    job = sim.create_job(vendor, outcome="succeeded", **opts(vendor))
    status = HOOKS[vendor](f"{vendor}_default").get_job_status(job["job_id"])
    assert secrets.signatures and status.results
    for text in (repr(status), str(status), repr(status.results[0]), str(status.results[0])):
        assert secrets.found_in(text) == [], text


@pytest.mark.parametrize("vendor", ALL)
def test_repr_of_requests_carrying_credentials(sim: Simulator, secrets: Secrets, vendor: str) -> None:
    from airflow_provider_jobstatus.hooks._http import prepare

    hook = HOOKS[vendor](f"{vendor}_default")
    settings = hook.settings()
    api = hook.vendor
    texts = []
    if api.uses_token:
        req = api.token_request(settings.creds)
        texts += [repr(req), repr(prepare(settings, api, req, None, None))]
    status_req = api.status_request("j-1", settings.extras)
    texts.append(
        repr(prepare(settings, api, status_req, "j-1", "tok-" + "x" * 20 if api.uses_token else None))
    )
    for text in texts:
        assert secrets.found_in(text) == [], text


# == Airflow's secrets masker =====================================================================
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("vendor", ["nitro", "alteryx"])
def test_a_token_obtained_in_a_task_is_masked_in_logs(
    sim: Simulator, secrets: Secrets, vendor: str, mode: str
) -> None:
    """Tokens are registered with Airflow's secrets masker when obtained (the connection's password
    and extra are masked by Airflow itself): a token that reaches a log line is shown as ***."""
    from airflow.providers.common.compat.sdk import redact

    job = sim.create_job(vendor, outcome="succeeded", **opts(vendor))
    hook = HOOKS[vendor](f"{vendor}_default")

    async def ask() -> None:
        async with hook:
            await hook.aget_job_status(job["job_id"])

    sim.expire_tokens()  # a cached token from an earlier test would not be issued (nor masked) now
    hook.get_job_status(job["job_id"]) if mode == "sync" else asyncio.run(ask())
    assert secrets.tokens
    token = secrets.tokens[-1]
    assert token not in str(redact(f"Authorization: Bearer {token}"))


def test_the_masker_check_above_can_fail(secrets: Secrets) -> None:
    """The masker test can fail: a value nobody registered is not redacted."""
    from airflow.providers.common.compat.sdk import redact

    value = "never-registered-value-0123456789"
    assert value in str(redact(f"Bearer {value}"))


def test_signed_redirects_are_masked_even_in_debug_logs(
    sim: Simulator, secrets: Secrets, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from airflow.providers.common.compat.sdk import redact

    caplog.set_level(logging.DEBUG)
    job = sim.create_job("playment", outcome="succeeded")
    DownloadJobResultOperator(
        task_id="get", conn_id="playment_default", job_id=job["job_id"], destination=f"{tmp_path}/"
    ).execute(context={})
    assert secrets.signatures
    assert secrets.found_in(str(redact(log_text(caplog)))) == []
