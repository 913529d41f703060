"""Headless Chromium driving Airflow 3.3's React UI, for the connection-form test.

The browser is Debian's ``chromium`` (installed with apt-get when missing) driven by Playwright's
Python package; ``playwright install`` (its own browser download) is never used. Anything missing
fails the test with a message that says what to install: nothing skips.

The selectors were found by reading the DOM of Airflow 3.3.2's UI: the connection form is a Chakra
dialog whose fields are ``[data-scope=field][data-part=root]`` groups (a ``label`` and an ``input`` /
``textarea`` with the connection attribute as ``name``; extra fields are ``element_<key>``) inside
the accordion sections "Standard Fields" and "Extra Fields"; the type picker is a react-select
combobox labelled "Connection Type" whose options are the hook names; results of the Test button are
Chakra toasts (``[data-scope=toast][data-part=root]``) that close after two seconds unless the
pointer rests on them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Route

CHROMIUM = Path(os.environ.get("JOBSTATUS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
#: Debian packages: the browser, and the fonts its Recommends would bring (we skip Recommends)
APT_PACKAGES = ("chromium", "fonts-liberation")
APT_TIMEOUT = 900
#: milliseconds for one UI step (a 2-core machine that also runs Airflow's four components)
STEP_TIMEOUT = 30_000

TEST_ROUTE = "**/api/v2/connections/test"
#: what Airflow 3.3.2 answers when its own UI tests a saved connection that has no port
PORT_BUG_MESSAGE = "The host or port to test differs from the stored connection"
PORT_BUG_NOTE = (
    "Airflow's Test button sends port 0 for a saved connection without a port (`Number(null)`) and "
    f"POST /api/v2/connections/test answers 400 {PORT_BUG_MESSAGE!r}; fixed upstream by "
    "apache/airflow#73298. This test rewrote that 0 to null in the browser to test the rest."
)


# -- installing the browser ---------------------------------------------------------------------------


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args], capture_output=True, text=True, env=env, timeout=APT_TIMEOUT, check=False
    )


def ensure_chromium() -> Path:
    """The Chromium binary; runs ``apt-get update`` and ``apt-get install chromium`` if it is missing.
    Fails the test (never skips) when that is impossible."""
    if CHROMIUM.exists():
        return CHROMIUM
    how = (
        f"{CHROMIUM} is missing and could not be installed: run `apt-get update && apt-get install -y "
        f"{' '.join(APT_PACKAGES)}` as root (Debian's packages), or point JOBSTATUS_CHROMIUM at a Chromium"
    )
    if shutil.which("apt-get") is None:
        pytest.fail(f"{how}. There is no apt-get on this machine.", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail(f"{how}. Installing needs root; this test runs as uid {os.geteuid()}.", pytrace=False)
    install = ("install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES)
    try:
        for step in (("update", "-q"), install):
            done = _apt(*step)
            if done.returncode != 0:
                output = (done.stdout + done.stderr)[-2000:]
                pytest.fail(
                    f"{how}. `apt-get {' '.join(step)}` exited {done.returncode}:\n{output}", pytrace=False
                )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{how}. apt-get took longer than {APT_TIMEOUT} s.", pytrace=False)
    if not CHROMIUM.exists():
        pytest.fail(f"{how}. apt-get succeeded but {CHROMIUM} is still missing.", pytrace=False)
    return CHROMIUM


def require_playwright() -> None:
    """Fail (not skip) with the fix when Playwright's Python package is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f"Playwright's Python package is missing ({exc}): `pip install -e '.[test]'` "
            "(it is in the test extra; its browser download, `playwright install`, is not needed)",
            pytrace=False,
        )


# -- reading the UI ----------------------------------------------------------------------------------

#: every field group of the dialog: label, control name/type/placeholder, helper text, section
_READ_FIELDS = """
dialog => Array.from(dialog.querySelectorAll('[data-scope="field"][data-part="root"]')).map(root => {
  const label = root.querySelector('label');
  const control = root.querySelector('input[name], textarea[name]');
  const helper = root.querySelector('[data-part="helper-text"]');
  const item = root.closest('[data-scope="accordion"][data-part="item"]');
  const trigger = item && item.querySelector('[data-part="item-trigger"]');
  return {
    label: label ? label.textContent.replace('*', '').trim() : null,
    name: control ? control.getAttribute('name') : null,
    type: control ? control.getAttribute('type') : null,
    placeholder: control ? control.getAttribute('placeholder') : null,
    helper: helper ? helper.textContent.trim() : null,
    section: trigger ? trigger.textContent.trim() : null,
    visible: root.getClientRects().length > 0,
  };
})
"""


@dataclass(frozen=True)
class FormField:
    """One field group of the connection form, as the browser shows it."""

    label: str | None
    name: str | None
    type: str | None
    placeholder: str | None
    helper: str | None
    section: str | None
    visible: bool


@dataclass(frozen=True)
class Toast:
    """One notification the UI showed."""

    kind: str  # "success" / "error" (Chakra's data-type)
    title: str
    description: str


@dataclass
class Outcome:
    """What pressing Test did: the API's answer and the toast the user saw."""

    status_code: int
    answer: dict[str, Any]
    toast: Toast


@dataclass
class ConnectionsUI:
    """Airflow's Admin → Connections page in one logged-in browser page."""

    page: Page
    base_url: str
    #: set once Airflow's port-0 bug was met and the browser started rewriting that field
    port_workaround: bool = False
    #: request bodies the workaround rewrote (what the UI sent)
    rewritten: list[dict[str, Any]] = field(default_factory=list)
    #: the toast the user saw when Airflow refused the UI's request for that bug
    port_bug_toast: Toast | None = None

    # -- navigation --------------------------------------------------------------------------------
    def login(self, username: str, password: str) -> None:
        page = self.page
        page.goto(f"{self.base_url}/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{self.base_url}/", timeout=STEP_TIMEOUT)

    def open_connections(self) -> None:
        """The Admin menu → Connections, as a user would (from a fresh page if a form is open)."""
        from playwright.sync_api import expect

        page = self.page
        if self.dialog().count() or not page.url.startswith(self.base_url):  # a test left a form open
            page.goto(f"{self.base_url}/")
        page.get_by_role("button", name="Admin").click()
        page.get_by_role("menuitem", name="Connections").click()
        page.wait_for_url(re.compile(r".*/connections$"), timeout=STEP_TIMEOUT)
        expect(page.get_by_role("button", name="Add Connection")).to_be_visible()

    # -- the form ----------------------------------------------------------------------------------
    def dialog(self) -> Locator:
        return self.page.get_by_role("dialog")

    def open_add_form(self) -> Locator:
        from playwright.sync_api import expect

        self.page.get_by_role("button", name="Add Connection").click()
        dialog = self.dialog()
        expect(dialog.get_by_role("heading", name="Add Connection")).to_be_visible()
        return dialog

    def type_options(self, search: str) -> list[str]:
        """The connection types the picker offers after typing ``search``."""
        combobox = self.page.get_by_role("combobox", name="Connection Type")
        combobox.fill(search)
        options = self.page.get_by_role("option")
        options.first.wait_for(timeout=STEP_TIMEOUT)
        names = [text.strip() for text in options.all_inner_texts()]
        combobox.fill("")  # not Escape: with the menu closed, Escape closes the dialog
        return names

    def pick_type(self, hook_name: str) -> None:
        from playwright.sync_api import expect

        combobox = self.page.get_by_role("combobox", name="Connection Type")
        combobox.fill(hook_name)
        self.page.get_by_role("option", name=hook_name, exact=True).click()
        dialog = self.dialog()
        picker = dialog.locator('[data-part="root"]').filter(has=self.page.get_by_text("Connection Type"))
        expect(picker.first).to_contain_text(hook_name)
        expect(dialog.get_by_text("Standard Fields", exact=True)).to_be_visible()

    def expand(self, section: str) -> None:
        """Open an accordion section ("Extra Fields") if it is closed."""
        trigger = self.dialog().get_by_role("button", name=section, exact=True)
        if trigger.get_attribute("aria-expanded") != "true":
            trigger.click()
        self.page.wait_for_function(
            """name => [...document.querySelectorAll('[data-part="item-trigger"]')]
                 .some(t => t.textContent.trim() === name && t.getAttribute('aria-expanded') === 'true')""",
            arg=section,
            timeout=STEP_TIMEOUT,
        )

    def fields(self) -> list[FormField]:
        return [FormField(**item) for item in self.dialog().evaluate(_READ_FIELDS)]

    def save(self) -> None:
        from playwright.sync_api import expect

        dialog = self.dialog()
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden(timeout=STEP_TIMEOUT)

    def close_form(self) -> None:
        from playwright.sync_api import expect

        self.dialog().get_by_role("button", name="Close").click()
        expect(self.dialog()).to_be_hidden(timeout=STEP_TIMEOUT)

    # -- the list ----------------------------------------------------------------------------------
    def row(self, conn_id: str) -> Locator:
        return self.page.get_by_role("row").filter(
            has=self.page.get_by_role("cell", name=conn_id, exact=True)
        )

    def edit(self, conn_id: str) -> Locator:
        from playwright.sync_api import expect

        self.row(conn_id).get_by_role("button", name="Edit Connection").click()
        dialog = self.dialog()
        expect(dialog.get_by_text("Standard Fields", exact=True)).to_be_visible()
        return dialog

    # -- toasts ------------------------------------------------------------------------------------
    def toasts(self) -> Locator:
        return self.page.locator('[data-scope="toast"][data-part="root"]')

    def wait_toasts_gone(self) -> None:
        """Move the pointer off the toasts (resting on one pauses it) and wait for them to close."""
        from playwright.sync_api import expect

        self.page.mouse.move(400, 120)
        expect(self.toasts()).to_have_count(0, timeout=STEP_TIMEOUT)

    def _toast(self, title_prefix: str) -> Toast:
        """The toast whose title starts with ``title_prefix``, held open by resting the pointer on it."""
        toast = self.toasts().filter(has_text=title_prefix).first
        toast.wait_for(timeout=STEP_TIMEOUT)
        toast.hover()
        return Toast(
            kind=toast.get_attribute("data-type") or "",
            title=toast.locator('[data-part="title"]').inner_text().strip(),
            description=toast.locator('[data-part="description"]').inner_text().strip(),
        )

    # -- the Test button ---------------------------------------------------------------------------
    def press_test(self, conn_id: str) -> Outcome:
        """Press the row's Test button; the API's answer and the toast the user saw. When Airflow
        refuses the UI's own request for its port-0 bug (see PORT_BUG_NOTE), rewrite that one
        field from then on, warn, and press again."""
        outcome = self._press_test(conn_id)
        refused = outcome.status_code == 400 and PORT_BUG_MESSAGE in str(outcome.answer.get("detail"))
        if refused and not self.port_workaround:
            self.port_workaround = True
            self.port_bug_toast = outcome.toast
            self.page.route(TEST_ROUTE, self._port_zero_as_unset)
            seen = f"{outcome.toast.title}: {outcome.toast.description}"
            warnings.warn(f"{PORT_BUG_NOTE} The user saw {seen!r}.", stacklevel=2)
            self.wait_toasts_gone()
            outcome = self._press_test(conn_id)
        return outcome

    def _press_test(self, conn_id: str) -> Outcome:
        self.wait_toasts_gone()
        with self.page.expect_response(
            lambda r: r.url.endswith("/api/v2/connections/test") and r.request.method == "POST",
            timeout=STEP_TIMEOUT * 2,
        ) as answered:
            self.row(conn_id).get_by_role("button", name="Test Connection").click()
        response = answered.value
        try:
            answer = response.json()
        except ValueError:
            answer = {"text": response.text()}
        return Outcome(response.status, answer, self._toast("Test Connection"))

    def _port_zero_as_unset(self, route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        if body.get("port") == 0:
            self.rewritten.append(dict(body))
            body["port"] = None
        route.continue_(post_data=json.dumps(body))

    # -- screenshots -------------------------------------------------------------------------------
    def screenshot(self, paths: list[Path], element: Locator | None = None) -> None:
        """One PNG, written to every path (run artifacts, and docs/screenshots when asked)."""
        data = element.screenshot(animations="disabled") if element else self.page.screenshot()
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
