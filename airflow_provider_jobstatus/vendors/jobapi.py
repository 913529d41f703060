"""A job API declared in a connection (type ``jobapi``): its ``profile`` says how to start, ask,
read, collect and cancel; this module turns a checked profile into the sans-IO protocol.

Every value read from an answer is a JMESPath expression. A raw state listed under none of the
five states is ``unknown`` (the contract's unknown status), never success.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jmespath
from jmespath import visitor

from airflow_provider_jobstatus.errors import ConfigurationError, MalformedResponseError
from airflow_provider_jobstatus.status import JobState, JobStatus, ResultFile
from airflow_provider_jobstatus.vendors._form import ConnectionForm, text_field
from airflow_provider_jobstatus.vendors._json import is_kind, type_name
from airflow_provider_jobstatus.vendors._profile import DECLARED, FIELD, Profile, read_profile
from airflow_provider_jobstatus.vendors._protocol import (
    ApiRequest,
    ApiResponse,
    Credentials,
    ResultRequest,
    VendorApi,
    basic_authorization,
    path_segment,
)
from airflow_provider_jobstatus.vendors._results import (
    download_url,
    require_succeeded,
    safe_file_name,
    select_results,
    unique_names,
    url_file_name,
)

#: longest vendor message kept (events and XCom carry it)
_MESSAGE_CHARS = 2000


class JobApi(VendorApi):
    """One declared API; made by :func:`declared_api`, one instance per distinct profile."""

    name = "jobapi"
    display_name = DECLARED
    hook_class_name = "JobApiHook"
    default_base_url = None
    declared_by = "profile"

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.display_name = profile.name
        self.needs_secret = profile.auth.scheme in ("bearer", "header")
        status, results, start = profile.status, profile.results, profile.start
        self._states = {raw: JobState(state) for state, raws in status.states.items() for raw in raws}
        # one interpreter for every read: ``search()`` would make one per call (most of its cost)
        self._read = visitor.TreeInterpreter().visit
        self._state = jmespath.compile(status.state).parsed
        self._message = _compiled(status.message)
        self._retry_after = _compiled(status.retry_after)
        self._job_id = _compiled(start.job_id if start else None)
        self._files = _compiled(results.files if results else None)
        self._url = _compiled(results.url if results else None)
        self._name = _compiled(results.name if results else None)
        self._size = _compiled(results.size if results else None)

    def __repr__(self) -> str:
        return f"JobApi({self.display_name!r})"

    def _find(self, expression: Any, data: Any) -> Any:
        return None if expression is None else self._read(expression, data)

    # -- auth -----------------------------------------------------------------------------------
    def auth_headers(self, creds: Credentials, token: str | None) -> dict[str, str]:
        """The fixed headers and the secret, for the connection's own origin only."""
        auth = self.profile.auth
        headers = dict(self.profile.headers)
        if auth.scheme == "bearer":
            headers["Authorization"] = f"Bearer {creds.secret}"
        elif auth.scheme == "header" and auth.header:
            headers[auth.header] = auth.prefix + creds.secret
        elif auth.scheme == "basic":
            headers["Authorization"] = basic_authorization(creds.login or "", creds.secret)
        return headers

    # -- start ----------------------------------------------------------------------------------
    def start_request(self, payload: Any) -> ApiRequest:
        """The declared start call with ``payload`` as its body (JSON, or a flat form)."""
        start = self.profile.start
        if start is None:
            raise ConfigurationError(
                self.display_name,
                None,
                "the profile declares no 'start': this API can be waited on and collected from, "
                "not started; add profile.start",
            )
        if start.body == "json":
            return ApiRequest(start.method, start.path, json=payload)
        return ApiRequest(start.method, start.path, form=self._form(payload))

    def _form(self, payload: Any) -> dict[str, str]:
        if payload is None:
            return {}
        if not isinstance(payload, Mapping) or not all(
            isinstance(v, (str, int, float, bool)) for v in payload.values()
        ):
            raise ConfigurationError(
                self.display_name,
                None,
                "profile.start.body is 'form': the payload must be a flat object of texts and numbers",
            )
        return {str(k): _text(v) for k, v in payload.items()}

    def parse_start(self, resp: ApiResponse) -> str:
        self.start_refused(resp)
        data = self.decode_json(None, resp)
        found = self._find(self._job_id, data)
        if is_kind(found, int):
            return str(found)
        if not isinstance(found, str) or not found.strip():
            raise MalformedResponseError(
                self.display_name,
                None,
                f"profile.start.job_id {self.profile.start.job_id if self.profile.start else ''!r} "
                f"found {type_name(found)} in the start answer, not an id; a job may have been created",
            )
        return found.strip()

    # -- status ---------------------------------------------------------------------------------
    def status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest:
        return self._call(self.profile.status.method, self.profile.status.path, job_id)

    def _call(self, method: str, template: str, job_id: str) -> ApiRequest:
        return ApiRequest(
            method, template.replace("{job_id}", path_segment(self.display_name, job_id, job_id))
        )

    def parse_status(self, job_id: str, resp: ApiResponse, options: Mapping[str, Any]) -> JobStatus:
        if resp.status_code == 404 and self.profile.status.not_found == "running":
            return self.status_of(
                job_id, JobState.RUNNING, None, None, message="not ready yet (HTTP 404, not_found: running)"
            )
        self.check_http(job_id, resp)
        data = self.decode_json(job_id, resp)
        found = self._read(self._state, data)
        if is_kind(found, int):
            found = str(found)
        if not isinstance(found, str):
            raise MalformedResponseError(
                self.display_name,
                job_id,
                f"profile.status.state {self.profile.status.state!r} found {type_name(found)} "
                "in the answer, not a state",
            )
        extra: dict[str, Any] = {"message": self._message_of(data)}
        if self._retry_after is not None:
            extra["retry_after"] = self._seconds(job_id, data)
        state = self._states.get(found)
        if state is None:
            return self.status_of(
                job_id,
                JobState.UNKNOWN,
                found,
                data,
                **{**extra, "message": f"unrecognised status {found!r}"},
            )
        if state is JobState.FAILED:
            extra["message"] = extra["message"] or "the job failed"
        if state is JobState.SUCCEEDED:
            extra["results"] = self._results(job_id, data)
        return self.status_of(job_id, state, found, data, **extra)

    def status_of(
        self, job_id: str, state: JobState, raw_status: str | None, body: Any, **fields: Any
    ) -> JobStatus:
        """Statuses carry the profile's name (``details["api"]``): every message shows it."""
        details = {"api": self.display_name}
        return JobStatus(
            vendor=self.name,
            job_id=job_id,
            state=state,
            raw_status=raw_status,
            raw=body,
            details=details,
            **fields,
        )

    def _message_of(self, data: Any) -> str | None:
        found = self._find(self._message, data)
        if found is None or found == "":
            return None
        text = found if isinstance(found, str) else json.dumps(found, separators=(",", ":"), default=str)
        return text[:_MESSAGE_CHARS]

    def _seconds(self, job_id: str, data: Any) -> float | None:
        found = self._find(self._retry_after, data)
        if found is None:
            return None
        if not is_kind(found, (int, float)):
            raise MalformedResponseError(
                self.display_name,
                job_id,
                f"profile.status.retry_after found {type_name(found)} in the answer, not seconds",
            )
        return max(0.0, float(found))

    def error_message(self, data: Any) -> str | None:
        return self._message_of(data) if data is not None else None

    # -- results --------------------------------------------------------------------------------
    def _results(self, job_id: str, data: Any) -> list[ResultFile]:
        if self._files is None:
            return []
        found = self._find(self._files, data)
        if found is None or found == []:
            return []
        if isinstance(found, str):
            found = [found]
        if not isinstance(found, list):
            raise self._wrong(job_id, "files", found, "a URL, a list of URLs or a list of objects")
        files = [self._file(job_id, item) for item in found]
        names = unique_names([f.name or "result" for f in files])
        return [f.model_copy(update={"name": n}) for f, n in zip(files, names, strict=True)]

    def _file(self, job_id: str, item: Any) -> ResultFile:
        if isinstance(item, str):
            url = self._url_of(job_id, item)
            return ResultFile(url=url, name=url_file_name(self._absolute(url)))
        if not isinstance(item, dict):
            raise self._wrong(job_id, "files", item, "a URL or an object")
        results = self.profile.results
        template = results.url_template if results else None
        if template is not None:
            url = self._fill(job_id, template, item)
        else:
            found = self._find(self._url, item)
            if not isinstance(found, str) or not found:
                raise self._wrong(job_id, "url", found, "a URL")
            url = self._url_of(job_id, found)
        name = self._find(self._name, item)
        if name is not None and not isinstance(name, str):
            raise self._wrong(job_id, "name", name, "a text")
        size = self._find(self._size, item)
        if size is not None and not (is_kind(size, int) and size >= 0):
            raise self._wrong(job_id, "size", size, "a number of bytes")
        named = safe_file_name(name, "result") if name else url_file_name(self._absolute(url))
        return ResultFile(url=url, name=named, size=size)

    def _fill(self, job_id: str, template: str, item: Mapping[str, Any]) -> str:
        def value(field: str) -> str:
            found = item.get(field)
            if is_kind(found, int):
                found = str(found)
            if not isinstance(found, str) or not found:
                raise self._wrong(job_id, "url_template", found, f"a text for {{{field}}}")
            return path_segment(self.display_name, job_id, found)

        return FIELD.sub(lambda match: value(match.group(1)), template)

    def _url_of(self, job_id: str, url: str) -> str:
        """An absolute http(s) URL, or a path under the base URL (``/files/1``)."""
        if url.startswith("/") and not url.startswith("//"):
            return url
        return download_url(self.display_name, job_id, url)

    @staticmethod
    def _absolute(url: str) -> str:
        return "http://base" + url if url.startswith("/") else url

    def _wrong(self, job_id: str, field: str, found: Any, wanted: str) -> MalformedResponseError:
        return MalformedResponseError(
            self.display_name,
            job_id,
            f"profile.results.{field} found {type_name(found)} in the answer, not {wanted}",
        )

    def result_requests(
        self, status: JobStatus, selector: Mapping[str, Any], options: Mapping[str, Any]
    ) -> list[ResultRequest]:
        """Each result by GET: credentials go with it on the connection's own origin only, and
        redirects are followed without them."""
        require_succeeded(self.display_name, status)
        picked = select_results(self.display_name, status.job_id, status.results, selector)
        return [
            ResultRequest(ApiRequest("GET", r.url or ""), r.name or "result", r, follow_redirects=True)
            for r in picked
        ]

    # -- cancel and the job's page -----------------------------------------------------------------
    def cancel_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest | None:
        cancel = self.profile.cancel
        return None if cancel is None else self._call(cancel.method, cancel.path, job_id)

    def job_url(self, base_url: str, job_id: str) -> str | None:
        """The job's page at the vendor (``job_url``), for the task's extra link."""
        template = self.profile.job_url
        if template is None:
            return None
        url = template.replace("{job_id}", path_segment(self.display_name, job_id, job_id))
        return base_url + url if url.startswith("/") else url


def declared_api(raw_profile: Any) -> JobApi:
    """The protocol a ``profile`` declares (checked now; one object per profile)."""
    if raw_profile is None:
        raw_profile = ""
    if not isinstance(raw_profile, str):
        try:
            raw_profile = json.dumps(raw_profile, sort_keys=True)
        except (TypeError, ValueError):  # not from JSON: checked as it is, not kept
            return JobApi(read_profile(raw_profile))
    return _api(raw_profile)


@lru_cache(maxsize=256)
def _api(text: str) -> JobApi:
    return JobApi(read_profile(text))


class Undeclared(VendorApi):
    """The ``jobapi`` connection type itself: each connection's protocol is the one its
    ``profile`` declares (:meth:`for_connection`), read with the connection."""

    name = "jobapi"
    display_name = DECLARED
    hook_class_name = "JobApiHook"
    default_base_url = None
    declared_by = "profile"
    needs_secret = False
    form = ConnectionForm(
        title=DECLARED,
        password_label="Secret",
        password_placeholder="the API key or token (none for auth scheme 'none')",
        login_label="User name or client id",
        optional_login=True,
        host_placeholder="https://api.example.com",
        fields={
            "profile": text_field(
                "Profile",
                "The API's declaration as JSON: name, auth, headers, start, status, results, cancel, "
                "job_url (see the provider's 'Your own job API' page).",
            )
        },
    )

    def name_in(self, status: JobStatus) -> str:
        api = status.details.get("api")
        return api if isinstance(api, str) and api else self.display_name

    def for_connection(self, extras: Mapping[str, Any]) -> JobApi:
        return declared_api(extras.get(self.declared_by or ""))

    def _unread(self) -> ConfigurationError:
        return ConfigurationError(DECLARED, None, "the connection's profile was not read")

    def auth_headers(self, creds: Credentials, token: str | None) -> dict[str, str]:
        raise self._unread()

    def status_request(self, job_id: str, options: Mapping[str, Any]) -> ApiRequest:
        raise self._unread()

    def parse_status(self, job_id: str, resp: ApiResponse, options: Mapping[str, Any]) -> JobStatus:
        raise self._unread()

    def result_requests(
        self, status: JobStatus, selector: Mapping[str, Any], options: Mapping[str, Any]
    ) -> list[ResultRequest]:
        raise self._unread()


API = Undeclared()


def _compiled(expression: str | None) -> Any:
    """The expression's syntax tree (what the interpreter walks), or None."""
    return jmespath.compile(expression).parsed if expression is not None else None


def _text(value: str | int | float | bool) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


__all__ = ["API", "DECLARED", "JobApi", "Undeclared", "declared_api"]
