"""Result files: safe names, selectors, and results behind pre-signed URLs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from airflow_provider_jobstatus.errors import ConfigurationError, JobStatusError, MalformedResponseError
from airflow_provider_jobstatus.status import JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors._json import is_kind
from airflow_provider_jobstatus.vendors._protocol import ApiRequest, ResultRequest

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()+=,@-]+")


def safe_file_name(name: str | None, default: str) -> str:
    """One harmless path segment from a vendor-supplied name: the last component (either slash),
    odd characters replaced, no leading dots, no traversal; ``default`` when nothing usable is left."""
    text = unicodedata.normalize("NFKC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE_NAME.sub("_", text).strip(" .")
    if not text or set(text) <= {"_", "."}:
        return default
    return text[:200]


def url_file_name(url: str | None, default: str = "result") -> str:
    """A file name from a URL's path (never its query: a signature lives there)."""
    try:
        parts = urlsplit(url or "")
    except ValueError:  # a garbled URL (an unclosed "[", say): the download will say so
        return default
    if not (parts.scheme and parts.netloc):  # a placeholder such as "<string>", not a URL
        return default
    return safe_file_name(unquote(parts.path.rsplit("/", 1)[-1]), default)


def unique_names(names: Sequence[str]) -> list[str]:
    """Make names distinct (``a.pdf``, ``a-2.pdf``) so results saved side by side never overwrite."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{stem}-{n}{dot}{ext}"
        seen.add(candidate)
        out.append(candidate)
    return out


def select_results(
    vendor: str, job_id: str, results: Sequence[ResultFile], selector: Mapping[str, Any]
) -> list[ResultFile]:
    """Apply a ``{"index": int}`` or ``{"name": str}`` selector; no selector means every result."""
    unknown = sorted(set(selector) - {"index", "name"})
    if unknown:
        raise ConfigurationError(vendor, job_id, f"unknown result selector {unknown}; use 'index' or 'name'")
    picked = list(results)
    if "index" in selector:
        index = selector["index"]
        if not is_kind(index, int) or not 0 <= index < len(results):
            raise ConfigurationError(
                vendor,
                job_id,
                f"result index {index!r} is out of range: the job has {len(results)} result(s)",
            )
        picked = [results[index]]
    if "name" in selector:
        wanted = selector["name"]
        picked = [r for r in picked if r.name == wanted]
        if not picked:
            names = [r.name for r in results]
            raise ConfigurationError(vendor, job_id, f"no result named {wanted!r}; the job has {names}")
    return picked


def require_succeeded(vendor: str, status: JobStatus) -> None:
    """Results exist only for a succeeded job; anything else is a clear error, not an empty download."""
    if status.state is not JobState.SUCCEEDED:
        raise JobStatusError(
            vendor, status.job_id, f"the job is {status.state.value}: there is no result to fetch"
        )
    if not status.results:
        raise JobStatusError(vendor, status.job_id, "the job succeeded but its status lists no result")


def signed_url_requests(vendor: str, status: JobStatus, selector: Mapping[str, Any]) -> list[ResultRequest]:
    """Results behind pre-signed URLs on another host (PDF.co, APIDataTools): a plain GET that
    carries no credential, since the signature in the URL is the credential."""
    require_succeeded(vendor, status)
    picked = select_results(vendor, status.job_id, status.results, selector)
    return [
        ResultRequest(
            ApiRequest("GET", download_url(vendor, status.job_id, r.url), authenticated=False),
            r.name or "result",
            r,
        )
        for r in picked
    ]


def download_url(vendor: str, job_id: str, url: str | None) -> str:
    """A result URL the vendor gave us, checked to be absolute http(s) before anyone fetches it."""
    try:
        parts = urlsplit(url or "")
        readable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        readable = False
    if not readable:
        shown = (url or "").split("?", 1)[0][:80]  # never echo a signature
        raise MalformedResponseError(vendor, job_id, f"result URL {shown!r} is not an absolute http(s) URL")
    return url or ""
