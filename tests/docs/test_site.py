"""The documentation site: it builds with warnings as errors (as `make docs` does), and in headless
Chromium every internal link of every page leads to a page that loads (and, with a ``#fragment``,
to an element of that id), and every image loads."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from tests.e2e.browser import CHROMIUM_ARGS, ensure_chromium, require_playwright
from tests.routed import serving

ROOT = Path(__file__).resolve().parents[2]
#: pages other helpers add; the index's glob picks them up when they exist
FIXED_PAGES = {"index", "quickstart", "testing", "simulator", "api", "changelog", "sensor"}

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-q",
            "-W",
            "--keep-going",
            "-b",
            "html",
            str(ROOT / "docs"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(functools.partial(Quiet, directory=str(site))) as url:
        yield url


def test_the_site_has_its_pages(site: Path) -> None:
    pages = {str(p.relative_to(site).with_suffix("")) for p in site.rglob("*.html")}
    assert pages >= FIXED_PAGES
    assert pages >= {f"connections/{v}" for v in ("nitro", "pdfco", "alteryx", "apidatatools", "playment")}
    assert pages >= {"operators/run", "operators/download", "operators/batch"}
    api = (site / "api.html").read_text()
    for documented in (
        "sensors.job_status.JobStatusSensor",
        "operators.run.PdfCoRunJobOperator",
        "operators.download.DownloadJobResultOperator",
        "operators.batch.BatchJobsToXComOperator",
        "testing.simulator.Simulator",
    ):
        assert f'id="airflow_provider_jobstatus.{documented}"' in api, documented


def test_every_internal_link_works_in_chromium(served: str) -> None:
    require_playwright()
    chromium = ensure_chromium()
    from playwright.sync_api import sync_playwright

    broken: list[str] = []
    ids: dict[str, set[str]] = {}  # page -> the ids of its elements
    fragments: list[tuple[str, str, str]] = []  # (page, link target, fragment)
    queue = [(f"{served}/index.html", "the start")]
    links_followed = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True, timeout=120_000
        )
        try:
            page = browser.new_page()
            while queue:
                url, linked_from = queue.pop()
                if url in ids:
                    continue
                response = page.goto(url)
                ids[url] = set()
                if response is None or response.status != 200:
                    answer = response.status if response else "no answer"
                    broken.append(f"{linked_from}: link to {url} answers HTTP {answer}")
                    continue
                ids[url] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
                images = page.eval_on_selector_all(
                    "img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
                )
                broken += [f"{url}: image {src} does not load" for src in images]
                hrefs: list[str] = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
                for href in hrefs:
                    if urlsplit(href).netloc != urlsplit(served).netloc:
                        continue  # another site: not ours to check
                    links_followed += 1
                    target, fragment = urldefrag(href)
                    if fragment:
                        fragments.append((url, target, unquote(fragment)))
                    if target not in ids:
                        queue.append((target, url))
        finally:
            browser.close()
    broken += [
        f"{url}: {target}#{fragment} has no element of that id"
        for url, target, fragment in fragments
        if target in ids and fragment not in ids[target]
    ]
    assert not broken, "\n".join(broken)
    assert len(ids) >= 20 and links_followed > 100, (len(ids), links_followed)
