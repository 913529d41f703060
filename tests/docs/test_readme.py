"""The README is the front door: short, its code is the docs' tested examples verbatim, and its
links lead to files that exist."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
EXAMPLES = (ROOT / "docs" / "examples" / "dags" / "docs_examples.py").read_text()


def test_readme_is_short() -> None:
    assert len(README.splitlines()) <= 200


def test_every_python_example_is_a_tested_one_verbatim() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) == 4
    tested = {
        textwrap.dedent(part) for part in re.findall(r"# \[START \w+\]\n(.*?)\s*# \[END", EXAMPLES, re.S)
    }
    for block in blocks:
        assert textwrap.dedent(block).strip() in {t.strip() for t in tested}, block


def test_pulls_take_the_job_id_key() -> None:
    pulls = re.findall(r"xcom_pull\(([^)]*)\)", README)
    assert pulls and all("key='job_id'" in p or 'key="job_id"' in p for p in pulls), pulls


def test_links_lead_to_files() -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
