"""The provider registers without installing anything extra: provider info names the five hooks
and every public module, and every class it lists imports and carries the attributes Airflow reads."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import airflow_provider_jobstatus
from airflow_provider_jobstatus import get_provider_info

#: the connection types whose names are fixed
VENDORS = ["nitro", "pdfco", "alteryx", "apidatatools", "playment"]


def _import(dotted: str) -> object:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_package_name_is_the_canonical_distribution_name() -> None:
    assert get_provider_info()["package-name"] == "airflow-provider-jobstatus"


def test_entry_point_is_registered() -> None:
    (ep,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_provider_jobstatus")
    ]
    assert ep.load() is get_provider_info


def test_connection_types_name_the_five_hooks() -> None:
    types = get_provider_info()["connection-types"]
    assert set(VENDORS) <= {t["connection-type"] for t in types}  # the fixed five, and any new one
    for entry in types:
        hook = _import(entry["hook-class-name"])
        assert hook.conn_type == entry["connection-type"]  # type: ignore[attr-defined]
        assert hook.default_conn_name == f"{entry['connection-type']}_default"  # type: ignore[attr-defined]
        assert hook.conn_name_attr == "conn_id"  # type: ignore[attr-defined]
        assert hook.hook_name == entry["hook-name"]  # type: ignore[attr-defined]
        assert hook.get_ui_field_behaviour() == entry["ui-field-behaviour"]  # type: ignore[attr-defined]
        behaviour = entry["ui-field-behaviour"]
        assert set(behaviour) <= {"hidden-fields", "relabeling", "placeholders"}
        assert behaviour["relabeling"]["password"] in {
            "API key",
            "Client secret",
            "API access secret",
            "Secret",
        }
        for field in entry["conn-fields"].values():
            assert field["label"] and field["schema"]["type"]


def test_vendor_specific_fields() -> None:
    types = {t["connection-type"]: t for t in get_provider_info()["connection-types"]}
    assert "project_id" in types["playment"]["conn-fields"]
    assert types["apidatatools"]["conn-fields"]["status_path"]["schema"]["default"] == "/jobs/{job_id}"
    assert types["nitro"]["ui-field-behaviour"]["relabeling"]["login"] == "Client ID"
    assert "login" in types["pdfco"]["ui-field-behaviour"]["hidden-fields"]
    assert "login" not in types["alteryx"]["ui-field-behaviour"]["hidden-fields"]


def test_every_listed_module_imports() -> None:
    info = get_provider_info()
    for section in ("hooks", "sensors", "triggers", "operators"):
        for item in info[section]:
            for module in item["python-modules"]:
                importlib.import_module(module)


@pytest.mark.parametrize("kind", ["operators", "sensors", "triggers", "hooks"])
def test_every_public_module_is_listed(kind: str) -> None:
    """A module added to ``operators/``, ``sensors/``, ``triggers/`` or ``hooks/`` (its name not
    starting with ``_``) is in provider info, as Airflow's ``providers`` commands show them."""
    folder = Path(airflow_provider_jobstatus.__file__).parent / kind
    on_disk = {
        f"airflow_provider_jobstatus.{kind}.{path.stem}"
        for path in folder.glob("*.py")
        if not path.name.startswith("_")
    }
    listed = {module for item in get_provider_info()[kind] for module in item["python-modules"]}
    assert on_disk, folder
    assert sorted(on_disk - listed) == [], f"public {kind} modules missing from provider info"
    assert sorted(listed - on_disk) == [], f"provider info lists {kind} modules that do not exist"


def test_the_run_operators_and_the_asset_watchers_are_listed() -> None:
    info = get_provider_info()
    assert "airflow_provider_jobstatus.operators.run" in info["operators"][0]["python-modules"]
    assert "airflow_provider_jobstatus.triggers.watchers" in info["triggers"][0]["python-modules"]


@pytest.mark.parametrize(
    ("vendor", "name"),
    [
        ("nitro", "NitroHook"),
        ("pdfco", "PdfCoHook"),
        ("alteryx", "AlteryxHook"),
        ("apidatatools", "ApiDataToolsHook"),
        ("playment", "PlaymentHook"),
    ],
)
def test_the_fixed_hook_names_are_the_registry_hooks(vendor: str, name: str) -> None:
    from airflow_provider_jobstatus.hooks import HOOKS

    fixed = _import(f"airflow_provider_jobstatus.hooks.{vendor}.{name}")
    assert fixed is HOOKS[vendor] is _import(f"airflow_provider_jobstatus.hooks.{name}")
    assert fixed("x").conn_id == "x" and fixed(conn_id="y").conn_id == "y"


def test_every_vendor_is_simulated() -> None:
    """Each vendor of the registry has a simulator module (tests and users' DAG tests need it)."""
    from airflow_provider_jobstatus.testing.simulator import VENDORS as SIMULATED
    from airflow_provider_jobstatus.vendors import VENDORS

    assert list(SIMULATED) == list(VENDORS)


def test_provider_info_validates_against_airflow_schema() -> None:
    import json
    from pathlib import Path

    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_pytest_plugin_is_registered(request: pytest.FixtureRequest) -> None:
    """Users get the ``jobstatus_simulator`` fixture just by installing the package."""
    (ep,) = [e for e in entry_points(group="pytest11") if e.name == "jobstatus_simulator"]
    assert request.config.pluginmanager.has_plugin("jobstatus_simulator")
    assert hasattr(ep.load(), "jobstatus_simulator")


def test_rate_limit_storage_is_a_provider_option() -> None:
    """``airflow config list`` shows ``[jobstatus] rate_limit_storage``; empty keeps budgets in-process."""
    option = get_provider_info()["config"]["jobstatus"]["options"]["rate_limit_storage"]
    assert option["default"] == "" and option["type"] == "string"
    assert option["example"].startswith("redis://")
