"""What every sans-IO vendor module provides: requests out, answers in, the contract's errors.

A vendor module builds :class:`ApiRequest` objects and reads :class:`ApiResponse` objects; it never
does I/O and never imports Airflow. The hook sends the requests (adding credentials only for the
connection's own origin) and hands the answers back here.
"""

from __future__ import annotations

import base64
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import quote

from airflow_provider_jobstatus.errors import (
    AuthenticationError,
    ConfigurationError,
    JobNotFoundError,
    MalformedResponseError,
    TransientVendorError,
    VendorRequestError,
)
from airflow_provider_jobstatus.status import BatchJob, BatchPage, JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors._form import ConnectionForm
from airflow_provider_jobstatus.vendors._json import field_of, load_json, type_name

#: Largest status/token/listing body a hook will read (the contract's default).
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request, described. ``url`` is a path under the connection's base URL (starting
    with ``/``) or an absolute URL; absolute URLs on another origin never get credentials."""

    method: str
    url: str = field(repr=False)  # may be a pre-signed URL
    params: Mapping[str, str] | None = None
    json: Any = field(default=None, repr=False)
    form: Mapping[str, str] | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Add the vendor's credentials (token or API key) when the URL is on the connection's origin.
    authenticated: bool = True
    #: HTTP Basic credentials, for OAuth2 token endpoints that want them.
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    #: multipart parts, as httpx takes them: ``{"file": (name, binary file object, content type)}``
    #: or a list of ``(field, part)`` pairs when parts share a field name (Nitro's ``files``);
    #: sent with ``form`` as the other fields, streamed (sync path only: uploads run on workers)
    files: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class ApiResponse:
    """One HTTP answer: status, lower-cased headers and the (size-capped) body."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Credentials:
    """What the connection holds: ``login`` (client id) and ``secret`` (API key or client secret)."""

    login: str | None
    secret: str
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # never show the secret
        return f"Credentials(login={self.login!r}, secret='***', extras={sorted(self.extras)!r})"


@dataclass(frozen=True)
class TokenGrant:
    """An access token and how long the vendor says it lives."""

    access_token: str
    expires_in: float | None

    def __repr__(self) -> str:
        return f"TokenGrant(access_token='***', expires_in={self.expires_in!r})"


@dataclass(frozen=True)
class OffsetListing:
    """A listing paged by ``offset``/``limit`` (an Alteryx workflow's jobs): how to ask for a page
    and read it. It ends at a page shorter than ``page_size``; the hook reads it within the
    connection's page cap."""

    #: what is listed, as messages name it ("workflow"), and its id
    subject: str
    listing_id: str
    page_size: int
    request: Callable[[int, int], ApiRequest]  # (offset, limit) -> the page's request
    parse: Callable[[ApiResponse], list[BatchJob]]


@dataclass(frozen=True)
class ResultRequest:
    """How to fetch one result: the request, the file name to write and what we know of it."""

    request: ApiRequest
    name: str
    result: ResultFile
    #: Follow redirects (Playment's attachment API redirects to a signed URL).
    follow_redirects: bool = False


class VendorApi(ABC):
    """One vendor's protocol. Subclasses are stateless; one instance per module is enough.

    A vendor module's ``API`` is the vendor's one declaration: the connection type, the hook class,
    the connection form and provider info are all made from it (see :mod:`.vendors`).
    """

    #: connection type and short name, e.g. ``"pdfco"``
    name: ClassVar[str]
    #: the name users know, used in every message (a declared API's is its profile's ``name``)
    display_name: str
    #: the name of the hook class made for the connection type, e.g. ``"PdfCoHook"``
    hook_class_name: ClassVar[str]
    #: what Airflow's connection form shows for the connection type
    form: ClassVar[ConnectionForm] = ConnectionForm()
    #: the public API's base URL, used when the connection's host is empty (None: must be set)
    default_base_url: ClassVar[str | None]
    #: whether the vendor wants a client id (login) besides the secret
    needs_login: ClassVar[bool] = False
    #: whether the connection's password (the secret) must be set
    needs_secret: bool = True
    #: whether auth goes through a token endpoint (Nitro, Alteryx) rather than a static key
    uses_token: ClassVar[bool] = False
    #: whether the vendor has a batch listing
    has_batches: ClassVar[bool] = False
    #: options for a check that tells "no such job" from "still running" (PDF.co ``force``): a wait
    #: makes one before its deadline, the download operator one before refusing a running job;
    #: an answer of "no such job" (:class:`JobNotFoundError`) then fails at once
    final_check_options: ClassVar[dict[str, Any]] = {}
    #: connection extras the vendor cannot work without: name -> what it holds (for the message)
    required_extras: ClassVar[Mapping[str, str]] = {}

    @property
    def hook_name(self) -> str:
        """The connection type's name in Airflow's connection form."""
        return self.form.title or self.display_name

    @property
    def default_conn_id(self) -> str:
        """The connection id a hook uses when given none, e.g. ``"pdfco_default"``."""
        return f"{self.name}_default"

    #: the connection extra that declares the API (a ``jobapi`` connection's ``profile``); None
    #: for a vendor whose API is the same for every account
    declared_by: ClassVar[str | None] = None

    def for_connection(self, extras: Mapping[str, Any]) -> VendorApi:
        """The protocol for one connection: this one, for a vendor whose API is the same for every
        account; a vendor whose API a connection declares builds one from the connection's extras."""
        return self

    def name_in(self, status: JobStatus) -> str:
        """The name messages about ``status`` use (a declared API's status carries its own)."""
        return self.display_name

    # -- auth -----------------------------------------------------------------------------------
    def token_request(self, creds: Credentials) -> ApiRequest:
        raise NotImplementedError(f"{self.display_name} has no token endpoint")

    def parse_token(self, resp: ApiResponse) -> TokenGrant:
        raise NotImplementedError(f"{self.display_name} has no token endpoint")

    @abstractmethod
    def auth_headers(self, creds: Credentials, token: str | None) -> dict[str, str]:
        """Headers that authenticate a request to the vendor's own origin."""

    # -- status ---------------------------------------------------------------------------------
    @abstractmethod
    def status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest:
        """The request that asks for one job's status."""

    @abstractmethod
    def parse_status(self, job_id: str, resp: ApiResponse, options: Mapping[str, Any]) -> JobStatus:
        """Read a status answer. Raises one of :mod:`airflow_provider_jobstatus.errors` when the
        answer is not a status; an unknown status string is ``JobState.UNKNOWN``, never success."""

    def fallback_status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest | None:
        """A second documented status path to try once when the first answers 404 (APIDataTools)."""
        return None

    # -- results --------------------------------------------------------------------------------
    @abstractmethod
    def result_requests(
        self, status: JobStatus, selector: Mapping[str, Any], options: Mapping[str, Any]
    ) -> list[ResultRequest]:
        """Requests that fetch the results of a succeeded job (``selector`` picks some of them)."""

    def results_expired(self, status: JobStatus, now: datetime) -> bool:
        """Whether the status says its result links are already dead (PDF.co says until when)."""
        return False

    # -- batches --------------------------------------------------------------------------------
    def batch_page_request(
        self, batch_id: str, page_token: str | None, options: Mapping[str, Any]
    ) -> ApiRequest:
        raise NotImplementedError(f"{self.display_name} has no batch listing")

    def parse_batch_page(self, batch_id: str, resp: ApiResponse) -> BatchPage:
        raise NotImplementedError(f"{self.display_name} has no batch listing")

    # -- starting and cancelling jobs -----------------------------------------------------------
    def parse_start(self, resp: ApiResponse) -> str:
        """The new job's id from a start answer. A refused start raises (never an id); so does an
        answer that cannot be read, since the job may then exist without us knowing its id."""
        raise NotImplementedError(f"{self.display_name} has no start call here")

    def cancel_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest | None:
        """The request that cancels a job, or None where the vendor documents no cancel call."""
        return None

    def parse_cancel(self, job_id: str, resp: ApiResponse) -> None:
        self.check_http(job_id, resp)

    def start_refused(self, resp: ApiResponse) -> None:
        """A non-2xx start answer as the contract's error, worded as a refused start."""
        code = resp.status_code
        if 200 <= code < 300 or code in (401, 408, 429) or code >= 500:
            self.check_http(None, resp)
            return
        said = self._error_text(resp)
        raise VendorRequestError(
            self.display_name, None, f"refused to start the job (HTTP {code}){said}", status_code=code
        )

    def started_id(self, data: Mapping[str, Any], key: str) -> str:
        """The job id field of a start answer, or a clear error that the job may exist anyway."""
        job_id = data.get(key)
        if not isinstance(job_id, str) or not job_id.strip():
            raise MalformedResponseError(
                self.display_name,
                None,
                f"the start answer has no {key!r} string (got {type_name(job_id)}); "
                "a job may have been created",
            )
        return job_id.strip()

    # -- shared helpers -------------------------------------------------------------------------
    def required_extra(self, options: Mapping[str, Any], name: str) -> str:
        """A required extra's text, or a :class:`ConfigurationError` that says what to set (the
        hook checks every required extra when it reads the options, naming the connection)."""
        value = options.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        wrong = "is missing" if value is None else "is empty" if isinstance(value, str) else f"is {value!r}"
        raise ConfigurationError(
            self.display_name,
            None,
            f"extra {name!r} ({self.required_extras.get(name, 'required')}) {wrong}: set it as text "
            f'in the connection\'s Extra field, e.g. {{"{name}": "<{name}>"}}',
        )

    def error_message(self, data: Any) -> str | None:
        """The vendor's own words from an error body, when it has any."""
        return None

    def rate_limited(self, resp: ApiResponse) -> bool:
        """Whether an answer says the account is over its request rate: it pauses the account."""
        return resp.status_code == 429

    def check_http(self, job_id: str | None, resp: ApiResponse) -> None:
        """Turn a non-2xx answer into the contract's error; return quietly on 2xx."""
        code = resp.status_code
        if 200 <= code < 300:
            return
        said = self._error_text(resp)
        if code in (401, 403):
            raise AuthenticationError(self.display_name, job_id, f"credentials refused (HTTP {code}){said}")
        if code == 404:
            raise JobNotFoundError(self.display_name, job_id, f"not found (HTTP 404){said}")
        if code in (408, 429) or code >= 500:
            raise TransientVendorError(
                self.display_name,
                job_id,
                f"HTTP {code}{said}",
                status_code=code,
                retry_after=retry_after_seconds(resp.headers.get("retry-after")),
            )
        raise VendorRequestError(
            self.display_name, job_id, f"request refused (HTTP {code}){said}", status_code=code
        )

    def _error_text(self, resp: ApiResponse) -> str:
        try:
            data = json.loads(resp.body[:65536]) if resp.body else None
        except (ValueError, RecursionError):
            return ""
        text = self.error_message(data)
        return f": {text}" if text else ""

    def decode_json(self, job_id: str | None, resp: ApiResponse) -> Any:
        """Parse a JSON body, or raise a clear :class:`MalformedResponseError`."""
        body = resp.body
        if not body.strip():
            raise MalformedResponseError(self.display_name, job_id, f"empty answer (HTTP {resp.status_code})")
        head = body.lstrip()[:1]
        if head == b"<":
            raise MalformedResponseError(
                self.display_name,
                job_id,
                f"expected JSON but got an HTML/XML page (HTTP {resp.status_code}, "
                f"content type {resp.content_type or 'none'!r})",
            )
        try:
            return load_json(body)
        except RecursionError:
            raise MalformedResponseError(self.display_name, job_id, "JSON nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise MalformedResponseError(
                self.display_name,
                job_id,
                f"invalid JSON (HTTP {resp.status_code}): {exc.msg} at position {exc.pos}",
            ) from None
        except ValueError:  # bytes that are not UTF-8/16/32 text
            raise MalformedResponseError(
                self.display_name, job_id, f"invalid JSON (HTTP {resp.status_code}): not valid text"
            ) from None

    def decode_object(self, job_id: str | None, resp: ApiResponse) -> dict[str, Any]:
        """Parse a JSON body that must be an object (every vendor answers with one)."""
        data = self.decode_json(job_id, resp)
        if not isinstance(data, dict):
            raise MalformedResponseError(
                self.display_name, job_id, f"expected a JSON object, got {type_name(data)}"
            )
        return data

    def read_token(
        self, resp: ApiResponse, token_keys: Sequence[str], expiry_keys: Sequence[str]
    ) -> TokenGrant:
        """Read an OAuth2-style token answer; RFC 6749 says a refused client gets 400 or 401."""
        if resp.status_code == 400:
            said = self._error_text(resp)
            raise AuthenticationError(self.display_name, None, f"token request refused (HTTP 400){said}")
        self.check_http(None, resp)
        data = self.decode_object(None, resp)
        token = next((data[k] for k in token_keys if data.get(k) is not None), None)
        if not isinstance(token, str) or not token.strip():
            raise MalformedResponseError(
                self.display_name, None, f"token answer has no {' or '.join(map(repr, token_keys))} string"
            )
        if "\r" in token or "\n" in token:  # it goes into a header: never let it inject another
            raise MalformedResponseError(
                self.display_name, None, "token answer has a line break in its token"
            )
        key = next((k for k in expiry_keys if data.get(k) is not None), None)
        expires = None if key is None else field_of(self.display_name, None, data, key, (int, float))
        return TokenGrant(token, None if expires is None else float(expires))

    def status_of(
        self, job_id: str, state: JobState, raw_status: str | None, body: Any, **fields: Any
    ) -> JobStatus:
        """A :class:`JobStatus` for this vendor, keeping the parsed body as ``raw``."""
        return JobStatus(
            vendor=self.name, job_id=job_id, state=state, raw_status=raw_status, raw=body, **fields
        )

    def unknown_status(self, job_id: str, raw_status: str, body: Any, **fields: Any) -> JobStatus:
        """A status string we do not know: never success, the raw value kept for the user."""
        message = f"unrecognised status {raw_status!r}"
        return self.status_of(job_id, JobState.UNKNOWN, raw_status, body, message=message, **fields)


def retry_after_seconds(value: str | None) -> float | None:
    """Read a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def basic_authorization(user: str, password: str) -> str:
    """An HTTP Basic ``Authorization`` value (RFC 7617: UTF-8 ``user:password`` in base64)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def path_segment(vendor: str, job_id: str | None, value: str) -> str:
    """URL-encode one path segment so an id with ``/``, ``..``, ``?`` or ``#`` cannot reach another path."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(vendor, job_id, "the job id is empty")
    if value in (".", ".."):
        raise ConfigurationError(vendor, job_id, f"{value!r} is not a valid id")
    return quote(value, safe="")
