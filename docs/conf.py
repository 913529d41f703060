"""Sphinx configuration: Markdown pages (MyST), the API reference from the docstrings (autodoc).

`make docs` builds it with warnings as errors. Every code example is included from a file the tests
run (`literalinclude`), so no example can drift from the code."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_jobstatus import __version__  # noqa: E402

project = "airflow-provider-jobstatus"
author = "airflow-provider-jobstatus contributors"
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "examples", "screenshots", "Thumbs.db", ".DS_Store"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

html_theme = "alabaster"
html_title = f"airflow-provider-jobstatus {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Airflow's own types in our signatures and docstrings are not part of this site
nitpicky = False


class _EmptyGlobIsFine(logging.Filter):
    """The index's toctree picks up any further top-level page with a glob; when there is none,
    that is not an error (Sphinx warns without a warning type, so suppress_warnings cannot)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "didn't match any documents" not in record.getMessage()


def setup(app: Any) -> None:
    logging.getLogger("sphinx.sphinx.directives.other").addFilter(_EmptyGlobIsFine())
