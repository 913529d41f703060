"""Our five connection types in Airflow's own UI, in a real browser.

A real Airflow (API server and the other components, see LocalAirflow) runs with this provider
installed; headless Chromium (Debian's package, driven by Playwright) logs in, opens Admin →
Connections → Add Connection, picks each of our types and reads the form: our labels, placeholders
and extra fields are there, hidden fields are not. Then it saves a PDF.co and a Nitro connection
pointing at the vendor simulator and presses Test: the right credentials report success, wrong
ones a failure that names the credential problem.

The expected texts are written out here rather than read from ``connection_types.py``: a typo
there, or a UI that stops rendering it, fails this test.

Screenshots go to this run's temporary directory (the path is printed); ``docs/screenshots/`` gets
the same files when they are missing there or with ``JOBSTATUS_UPDATE_SCREENSHOTS=1``, so a normal
``make test`` leaves the committed ones alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_jobstatus.testing.simulator import Simulator
from dev.local_airflow import LocalAirflow
from tests.e2e.browser import (
    CHROMIUM_ARGS,
    PORT_BUG_MESSAGE,
    STEP_TIMEOUT,
    ConnectionsUI,
    FormField,
    ensure_chromium,
    require_playwright,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(480, method="thread")]

ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
MAX_SCREENSHOT_BYTES = 300_000
TIMEOUT_LABEL = "HTTP timeout (seconds)"
#: the HTTP client settings every type shows, in the form's order
CLIENT_EXTRAS = {
    "element_timeout": TIMEOUT_LABEL,
    "element_verify": "Verify TLS",
    "element_cert": "Client certificate",
    "element_key": "Client certificate key",
    "element_proxy": "Proxy URL",
    "element_trust_env": "Use proxy and CA environment variables",
}


@dataclass(frozen=True)
class Expected:
    """What the form must show for one connection type."""

    hook_name: str
    #: standard field name -> (label, placeholder); exactly these are visible, in this order
    standard: dict[str, tuple[str, str]]
    #: extra field name (the form's ``element_<key>``) -> label; exactly these, in this order
    extras: dict[str, str]


def _standard(host: str, password: tuple[str, str], login: tuple[str, str] | None = None) -> dict[str, Any]:
    fields: dict[str, tuple[str, str]] = {"description": ("Description", ""), "host": ("API base URL", host)}
    if login:
        fields["login"] = login
    fields["password"] = password
    return fields


EXPECTED: dict[str, Expected] = {
    "nitro": Expected(
        "Nitro PDF Services",
        _standard(
            "https://api.gonitro.dev",
            ("Client secret", "clientSecret"),
            login=("Client ID", "Client ID from the vendor's console"),
        ),
        CLIENT_EXTRAS,
    ),
    "pdfco": Expected(
        "PDF.co",
        _standard("https://api.pdf.co", ("API key", "x-api-key from the PDF.co dashboard")),
        CLIENT_EXTRAS,
    ),
    "alteryx": Expected(
        "Alteryx Server",
        _standard(
            "https://alteryx.example.com/webapi",
            ("API access secret", "API access secret"),
            login=("API access key", "API access key from the vendor's console"),
        ),
        CLIENT_EXTRAS,
    ),
    "apidatatools": Expected(
        "APIDataTools",
        _standard("https://api.apidatatools.com", ("API key", "x-api-key")),
        {"element_status_path": "Status path", **CLIENT_EXTRAS},
    ),
    "playment": Expected(
        "Playment (GT Studio)",
        _standard("https://api.playment.io", ("API key", "x-api-key from the GT Studio dashboard")),
        {"element_project_id": "Project ID", **CLIENT_EXTRAS},
    ),
}
#: Airflow's standard connection attributes; whatever a type does not list above must be hidden
STANDARD_ATTRIBUTES = ("description", "host", "schema", "login", "password", "port")


# -- fixtures ----------------------------------------------------------------------------------------


class Screenshots:
    """Where screenshots go: always this run's directory; docs/screenshots when missing or asked."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.update_docs = os.environ.get("JOBSTATUS_UPDATE_SCREENSHOTS", "") not in ("", "0")

    def paths(self, name: str) -> list[Path]:
        paths = [self.run_dir / name]
        docs = DOCS_SCREENSHOTS / name
        if self.update_docs or not docs.exists():
            paths.append(docs)
        return paths

    def check(self, name: str) -> None:
        for path in self.paths(name):
            size = path.stat().st_size
            assert 0 < size < MAX_SCREENSHOT_BYTES, f"{path}: {size} bytes (limit {MAX_SCREENSHOT_BYTES})"


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Before Airflow starts: a missing browser fails in seconds, with what to install."""
    require_playwright()
    return ensure_chromium()


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


@pytest.fixture(scope="module")
def airflow(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAirflow]:
    home = tmp_path_factory.mktemp("airflow_ui")
    dags = home / "dags"
    dags.mkdir()
    with LocalAirflow(home, dags, parallelism=1, serve_logs=False) as af:
        yield af


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    shots = Screenshots(tmp_path_factory.mktemp("screenshots"))
    print(f"\nconnection UI screenshots: {shots.run_dir}")
    return shots


@pytest.fixture(scope="module")
def browser_page(chromium: Path, airflow: LocalAirflow) -> Iterator[ConnectionsUI]:
    """One logged-in browser page for the module (logging in once keeps the test short)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=STEP_TIMEOUT)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True, timeout=120_000
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT)
            ui = ConnectionsUI(page, airflow.url)
            ui.login(airflow.username, airflow.password)
            yield ui
        finally:
            browser.close()


@pytest.fixture
def ui(
    browser_page: ConnectionsUI, screenshots: Screenshots, request: pytest.FixtureRequest
) -> Iterator[ConnectionsUI]:
    """The Connections page, reached through the Admin menu; the page's last state is saved as
    ``last-<test>.png`` in the run's screenshot directory (look there when a test fails)."""
    browser_page.open_connections()
    yield browser_page
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    with contextlib.suppress(Exception):  # a dead browser has already failed the test
        browser_page.screenshot([screenshots.run_dir / f"last-{name}.png"])


def _wrong(value: str) -> str:
    return f"{value}-wrong"


# -- the form ----------------------------------------------------------------------------------------


def test_picker_offers_our_five_types(ui: ConnectionsUI) -> None:
    ui.open_add_form()
    for vendor, expected in EXPECTED.items():
        offered = ui.type_options(expected.hook_name)
        assert expected.hook_name in offered, f"{vendor}: {expected.hook_name!r} not offered: {offered}"
    ui.close_form()


@pytest.mark.parametrize("vendor", list(EXPECTED))
def test_form_shows_our_fields(vendor: str, ui: ConnectionsUI, screenshots: Screenshots) -> None:
    expected = EXPECTED[vendor]
    ui.open_add_form()
    ui.pick_type(expected.hook_name)
    form = ui.dialog()

    ui.expand("Standard Fields")  # the accordion shows one section at a time
    fields = ui.fields()
    standard = [f for f in fields if f.section == "Standard Fields"]
    shown = {f.name: (f.label, f.placeholder or "") for f in standard if f.visible}
    assert shown == expected.standard, f"{vendor}: standard fields {_describe(standard)}"
    assert list(shown) == list(expected.standard), f"{vendor}: field order {list(shown)}"

    hidden = [name for name in STANDARD_ATTRIBUTES if name not in expected.standard]
    assert "schema" in hidden and "port" in hidden
    leaked = [f for f in fields if f.name in hidden and f.visible]
    assert not leaked, f"{vendor}: fields that should be hidden are shown: {_describe(leaked)}"

    password = next(f for f in standard if f.name == "password")
    assert password.type == "password", f"{vendor}: the secret is not a password input: {password}"
    name = f"connection-form-{vendor}.png"
    ui.screenshot(screenshots.paths(name), element=form)
    screenshots.check(name)

    ui.expand("Extra Fields")
    extras = [f for f in ui.fields() if f.section == "Extra Fields" and f.visible]
    assert {f.name: f.label for f in extras} == expected.extras, f"{vendor}: extra fields {_describe(extras)}"
    assert [f.name for f in extras] == list(expected.extras), f"{vendor}: extra field order"
    for extra in extras:
        assert extra.helper, f"{vendor}: extra field {extra.label!r} has no description"
    if set(expected.extras) != set(CLIENT_EXTRAS):  # a type with extra fields of its own
        name = f"connection-form-{vendor}-extra-fields.png"
        ui.screenshot(screenshots.paths(name), element=form)
        screenshots.check(name)
    ui.close_form()


def _describe(fields: list[FormField]) -> str:
    return json.dumps(
        [
            {"name": f.name, "label": f.label, "placeholder": f.placeholder, "visible": f.visible}
            for f in fields
        ]
    )


# -- save and Test -----------------------------------------------------------------------------------


def test_pdfco_save_and_test(
    ui: ConnectionsUI, airflow: LocalAirflow, simulator: Simulator, screenshots: Screenshots
) -> None:
    conn_id = "ui_pdfco"
    key = simulator.credentials["pdfco"]["api_key"]
    dialog = ui.open_add_form()
    dialog.get_by_label("Connection ID").fill(conn_id)
    ui.pick_type("PDF.co")
    dialog.get_by_label("API base URL", exact=True).fill(simulator.base_url("pdfco"))
    dialog.get_by_label("API key", exact=True).fill(key)
    ui.save()

    stored = airflow.api("GET", f"/api/v2/connections/{conn_id}")
    assert stored["conn_type"] == "pdfco" and stored["host"] == simulator.base_url("pdfco"), stored
    assert stored["login"] is None and stored["port"] is None and stored["schema"] is None, stored
    # the form saves every field's default (empty ones as null): the hook reads null as "not set"
    defaults = {"timeout": 30, "verify": "true", "cert": None, "key": None, "proxy": None, "trust_env": True}
    assert json.loads(stored["extra"]) == defaults, stored

    accepted = ui.press_test(conn_id)
    assert accepted.status_code == 200, accepted
    assert accepted.answer == {"status": True, "message": "PDF.co: credentials accepted"}, accepted
    assert accepted.toast.kind == "success" and accepted.toast.title == "Test Connection Successful", accepted
    assert accepted.toast.description == "PDF.co: credentials accepted", accepted
    ui.screenshot(screenshots.paths("connection-test-success.png"))
    screenshots.check("connection-test-success.png")
    _check_workaround(ui, conn_id)

    dialog = ui.edit(conn_id)
    dialog.get_by_label("API key", exact=True).fill(_wrong(key))
    ui.save()
    refused = ui.press_test(conn_id)
    assert refused.status_code == 200 and refused.answer["status"] is False, refused
    assert refused.toast.kind == "error" and refused.toast.title == "Test Connection Failed", refused
    assert re.match(r"PDF\.co\b.*: credentials refused \(HTTP 401\)", refused.toast.description), refused
    assert refused.toast.description == refused.answer["message"], refused
    assert key not in refused.toast.description and PORT_BUG_MESSAGE not in refused.toast.description
    ui.screenshot(screenshots.paths("connection-test-failure.png"))
    screenshots.check("connection-test-failure.png")


def test_nitro_save_and_test(ui: ConnectionsUI, simulator: Simulator) -> None:
    """A token vendor: Test asks Nitro's token endpoint with the client id and secret."""
    conn_id = "ui_nitro"
    creds = simulator.credentials["nitro"]
    dialog = ui.open_add_form()
    dialog.get_by_label("Connection ID").fill(conn_id)
    ui.pick_type("Nitro PDF Services")
    dialog.get_by_label("API base URL", exact=True).fill(simulator.base_url("nitro"))
    dialog.get_by_label("Client ID", exact=True).fill(creds["client_id"])
    dialog.get_by_label("Client secret", exact=True).fill(creds["client_secret"])
    ui.save()

    accepted = ui.press_test(conn_id)
    assert accepted.toast.kind == "success", accepted
    assert accepted.toast.description == "Nitro PDF Services: credentials accepted (token issued)", accepted
    _check_workaround(ui, conn_id)

    dialog = ui.edit(conn_id)
    dialog.get_by_label("Client secret", exact=True).fill(_wrong(creds["client_secret"]))
    ui.save()
    refused = ui.press_test(conn_id)
    assert refused.toast.kind == "error" and refused.toast.title == "Test Connection Failed", refused
    assert refused.toast.description.startswith("Nitro PDF Services: credentials refused (HTTP 401)"), refused
    assert creds["client_secret"] not in refused.toast.description, refused


def _check_workaround(ui: ConnectionsUI, conn_id: str) -> None:
    """If the browser had to work around Airflow's port-0 bug, it changed only that field."""
    if not ui.port_workaround:
        return
    sent = [body for body in ui.rewritten if body.get("connection_id") == conn_id]
    assert sent, f"the workaround is on but rewrote no request for {conn_id}"
    assert all(body["port"] == 0 and body["password"] == "***" for body in sent), sent
