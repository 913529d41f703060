"""The provider registers without installing anything extra: provider info names the five hooks
and every class it lists imports and carries the attributes Airflow reads."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

import pytest

from airflow_provider_jobstatus import get_provider_info

VENDORS = ["nitro", "pdfco", "alteryx", "apidatatools", "playment", "jobapi"]


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


def test_connection_types_name_the_six_hooks() -> None:
    types = get_provider_info()["connection-types"]
    assert sorted(t["connection-type"] for t in types) == sorted(VENDORS)
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
    assert types["jobapi"]["hook-name"] == "Job API (declared)"
    assert "host" not in types["jobapi"]["ui-field-behaviour"]["hidden-fields"]


def test_every_listed_module_imports() -> None:
    info = get_provider_info()
    for section in ("hooks", "sensors", "triggers", "operators"):
        for item in info[section]:
            for module in item["python-modules"]:
                importlib.import_module(module)


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
