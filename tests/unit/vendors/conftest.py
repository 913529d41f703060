"""Helpers for the sans-IO vendor tests: documented example bodies and canned answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    JobNotFoundError,
    JobStatusError,
    MalformedResponseError,
    TransientVendorError,
    VendorRequestError,
)
from airflow_provider_jobstatus.vendors import ApiResponse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"


def load_fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def make_response(
    status: int = 200, body: Any = b"", headers: Mapping[str, str] | None = None
) -> ApiResponse:
    """An answer; ``body`` may be bytes, text, or anything JSON-serialisable."""
    if isinstance(body, str):
        raw = body.encode()
    elif isinstance(body, bytes):
        raw = body
    else:
        raw = json.dumps(body).encode()
    return ApiResponse(status, {k.lower(): v for k, v in (headers or {}).items()}, raw)


@pytest.fixture
def load_fixture() -> Callable[[str], bytes]:
    return load_fixture_bytes


@pytest.fixture
def fixture_json() -> Callable[[str], Any]:
    return lambda name: json.loads(load_fixture_bytes(name))


@pytest.fixture
def response() -> Callable[..., ApiResponse]:
    return make_response


@dataclass(frozen=True)
class BadAnswer:
    label: str
    resp: ApiResponse
    error: type[JobStatusError]


_HTML = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"

BAD_ANSWERS = [
    BadAnswer("invalid JSON", make_response(200, b'{"status": '), MalformedResponseError),
    BadAnswer(
        "HTML page with 200", make_response(200, _HTML, {"Content-Type": "text/html"}), MalformedResponseError
    ),
    BadAnswer("empty body", make_response(200, b""), MalformedResponseError),
    BadAnswer("not UTF-8", make_response(200, b'{"status": "\xff"}'), MalformedResponseError),
    BadAnswer("JSON list", make_response(200, []), MalformedResponseError),
    BadAnswer("JSON string", make_response(200, "running"), MalformedResponseError),
    BadAnswer("JSON null", make_response(200, b"null"), MalformedResponseError),
    BadAnswer(
        "HTML page with 502", make_response(502, _HTML, {"Content-Type": "text/html"}), TransientVendorError
    ),
    BadAnswer("503", make_response(503, b""), TransientVendorError),
    BadAnswer("429", make_response(429, b"", {"Retry-After": "7"}), TransientVendorError),
    BadAnswer("408", make_response(408, b""), TransientVendorError),
    BadAnswer("401", make_response(401, b""), AuthenticationError),
    BadAnswer("403", make_response(403, b""), AuthenticationError),
    BadAnswer("404", make_response(404, b""), JobNotFoundError),
    BadAnswer("422", make_response(422, b""), VendorRequestError),
]


@pytest.fixture(params=BAD_ANSWERS, ids=[b.label for b in BAD_ANSWERS])
def bad_answer(request: pytest.FixtureRequest) -> BadAnswer:
    """Answers no vendor may read as a status; each test file checks its vendor's error for each."""
    return request.param  # type: ignore[no-any-return]
