"""A vendor is declared once: a throwaway vendor, added the way a new vendor is (a sans-IO
``VendorApi`` and a simulator module, nothing else), is a connection type in provider info, has a
connection form and a hook class, is served by the simulator and is waited on through it."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Iterator, Mapping
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from starlette.routing import BaseRoute

from airflow_provider_jobstatus import get_provider_info
from airflow_provider_jobstatus.hooks import HOOKS, JobStatusHook
from airflow_provider_jobstatus.operators.run import RunJobOperator
from airflow_provider_jobstatus.status import JobState, JobStatus
from airflow_provider_jobstatus.testing import simulator
from airflow_provider_jobstatus.testing.connections import connection_env
from airflow_provider_jobstatus.testing.pytest_plugin import patched_environ
from airflow_provider_jobstatus.testing.simulator import Simulator, SimVendor
from airflow_provider_jobstatus.testing.simulator.faults import Fault
from airflow_provider_jobstatus.testing.simulator.http import Ctx, Reply, json_reply, vendor_routes
from airflow_provider_jobstatus.testing.simulator.state import SimState
from airflow_provider_jobstatus.vendors import (
    ApiRequest,
    ApiResponse,
    ConnectionForm,
    Credentials,
    ResultRequest,
    VendorApi,
    register,
    text_field,
    unregister,
)

NAME = "throwaway"


# -- the vendor module: what a sixth vendor's vendors/<name>.py holds -------------------------------
class ThrowawayApi(VendorApi):
    name = NAME
    display_name = "Throwaway Jobs"
    hook_class_name = "ThrowawayHook"
    default_base_url = "https://api.throwaway.example"
    form = ConnectionForm(
        password_placeholder="key from the Throwaway console",
        fields={"queue": text_field("Queue", "The queue the jobs run in.", default="main")},
    )

    def auth_headers(self, creds: Credentials, token: str | None) -> dict[str, str]:
        return {"x-api-key": creds.secret}

    def status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest:
        return ApiRequest("GET", f"/jobs/{quote(job_id, safe='')}")

    def parse_status(self, job_id: str, resp: ApiResponse, options: Mapping[str, Any]) -> JobStatus:
        self.check_http(job_id, resp)
        data = self.decode_object(job_id, resp)
        raw = str(data.get("state"))
        state = {"busy": JobState.RUNNING, "done": JobState.SUCCEEDED}.get(raw)
        if state is None:
            return self.unknown_status(job_id, raw, data)
        return self.status_of(job_id, state, raw, data)

    def result_requests(
        self, status: JobStatus, selector: Mapping[str, Any], options: Mapping[str, Any]
    ) -> list[ResultRequest]:
        return []


API = ThrowawayApi()


# -- the simulator module: what its testing/simulator/vendors/<name>.py holds ---------------------
def _fault_reply(fault: Fault) -> Reply:
    return json_reply(fault.status or 500, {"error": fault.kind})


async def _job_status(ctx: Ctx) -> Reply:
    if ctx.header(b"x-api-key") != ctx.state.credentials[NAME]["api_key"]:
        return json_reply(401, {"error": "bad key"})
    job = ctx.state.get_job(ctx.params["job_id"])
    if job is None or job.vendor != NAME:
        return json_reply(404, {"error": "no such job"})
    obs = ctx.state.observe(job, ctx.advance)
    return json_reply(200, {"id": job.id, "state": "done" if obs.terminal else "busy"})


def _routes(state: SimState) -> list[BaseRoute]:
    return vendor_routes(
        state, NAME, _fault_reply, [("GET", f"/{NAME}/jobs/{{job_id}}", "status", _job_status)]
    )


SIM = SimVendor(
    name=NAME,
    prefix=f"/{NAME}",
    outcomes={"succeeded": "done"},
    phases=("busy",),
    undocumented_status="sleeping",
    credentials={"api_key": "sim-throwaway-key"},
    routes=_routes,
)


class ThrowawayRunJobOperator(RunJobOperator):
    vendor_name = API.name


# -- the tests ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    register(API)
    simulator.register(SIM)
    try:
        with Simulator() as running, patched_environ(connection_env(running)):
            yield running
    finally:
        simulator.unregister(NAME)
        unregister(NAME)


def _entry() -> dict[str, Any]:
    types: list[dict[str, Any]] = get_provider_info()["connection-types"]
    (entry,) = [t for t in types if t["connection-type"] == NAME]
    return entry


def test_provider_info_has_its_connection_type_and_form(sim: Simulator) -> None:
    import airflow

    entry = _entry()
    assert entry["hook-name"] == "Throwaway Jobs"
    behaviour = entry["ui-field-behaviour"]
    assert "login" in behaviour["hidden-fields"]  # no login: the vendor needs none
    assert behaviour["relabeling"]["password"] == "API key"
    assert behaviour["placeholders"] == {
        "host": "https://api.throwaway.example",
        "password": "key from the Throwaway console",
    }
    fields = entry["conn-fields"]
    assert fields["queue"]["schema"]["default"] == "main"
    assert {"timeout", "verify", "proxy", "trust_env"} <= set(fields)  # every connection's settings
    assert "Throwaway Jobs" in get_provider_info()["description"]
    schema = files(airflow).joinpath("provider_info.schema.json").read_text()
    jsonschema.validate(get_provider_info(), json.loads(schema))


def test_its_hook_class_is_what_provider_info_names(sim: Simulator) -> None:
    entry = _entry()
    module, _, name = entry["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module), name)
    assert hook is HOOKS[NAME] and issubclass(hook, JobStatusHook)
    assert (hook.conn_type, hook.hook_name, hook.conn_name_attr, hook.default_conn_name) == (
        NAME,
        "Throwaway Jobs",
        "conn_id",
        "throwaway_default",
    )
    # the form Airflow < 3.2 reads from the hook is the one provider info declares
    assert hook.get_ui_field_behaviour() == entry["ui-field-behaviour"]


def test_the_simulator_serves_it_and_a_hook_waits_on_it_through_its_connection(sim: Simulator) -> None:
    assert NAME in simulator.VENDORS
    assert sim.info()["vendors"][NAME] == sim.url + f"/{NAME}"
    job = sim.create_job(NAME, polls=1)
    hook = JobStatusHook.for_connection("throwaway_default", retries=1)
    assert type(hook) is HOOKS[NAME]
    assert hook.get_job_status(job["job_id"]).state is JobState.RUNNING

    async def later() -> JobStatus:
        async with await JobStatusHook.afor_connection("throwaway_default", retries=1) as ahook:
            return await ahook.aget_job_status(job["job_id"])

    assert asyncio.run(later()).state is JobState.SUCCEEDED
    assert sim.requests(include_log=False)["counts"][f"{NAME}.status"] == 2
    with pytest.raises(ValueError, match="has no 'failed' outcome"):
        sim.create_job(NAME, outcome="failed")


def test_a_run_operator_finds_its_vendor_by_the_connection_type(sim: Simulator) -> None:
    assert type(ThrowawayRunJobOperator(task_id="t", conn_id="throwaway_default").hook()) is HOOKS[NAME]
    with pytest.raises(AirflowFailException, match="needs a 'throwaway' connection"):
        ThrowawayRunJobOperator(task_id="t", conn_id="pdfco_default").hook()
