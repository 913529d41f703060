"""docs/declared-api.md holds: its two example profiles are valid declarations, and each mistake's
message in its table is what a connection with that mistake says, word for word."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_jobstatus.hooks import JobApiHook
from airflow_provider_jobstatus.vendors.jobapi import declared_api
from tests.unit.hooks.test_hooks import set_conn
from tests.unit.vendors.test_jobapi import ASSEMBLYAI

PAGE = (Path(__file__).resolve().parents[3] / "docs" / "declared-api.md").read_text()


def test_the_example_profiles_are_valid_declarations() -> None:
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", PAGE, re.S)]
    names = [declared_api(block["profile"]).display_name for block in blocks]
    assert names == ["AssemblyAI", "Replicate"]
    assert blocks[0]["profile"] == ASSEMBLYAI  # the example, as the tests use it


MISTAKES: list[Callable[[dict[str, Any]], Any]] = [
    lambda p: p.update(stat={}),
    lambda p: p["status"].pop("state"),
    lambda p: p["status"]["states"].update(done=["x"]),
    lambda p: p["status"]["states"].update(failed=["completed"]),
    lambda p: p["status"].update(path="/v2/transcript"),
    lambda p: p["status"].update(state="status[?"),
    lambda p: p.update(auth={"scheme": "token"}),
    lambda p: p.update(auth={"scheme": "header"}),
    lambda p: p.clear(),  # no profile at all
]


@pytest.mark.parametrize("change", MISTAKES)
def test_each_mistake_says_what_the_page_says(
    change: Callable[[dict[str, Any]], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = copy.deepcopy(ASSEMBLYAI)
    change(profile)
    extra = {"profile": profile} if profile else {}
    set_conn(monkeypatch, "my_api", "jobapi", host="https://api.assemblyai.com", password="k", extra=extra)
    ok, message = JobApiHook("my_api").test_connection()
    assert not ok
    assert f"| `{message}` |" in PAGE, message
