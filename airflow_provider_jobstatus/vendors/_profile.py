"""The declaration of a job API (a ``jobapi`` connection's ``profile``), checked field by field.

Every mistake is found when the connection is read, never in the middle of a wait: an unknown or
missing field, a JMESPath that does not compile, a path without ``{job_id}``, a raw state listed
twice. :func:`read_profile` names the field in dotted form (``profile.status.states``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from airflow_provider_jobstatus.errors import ConfigurationError

#: the name messages use before a profile has a readable ``name``
DECLARED = "Job API (declared)"
STATE_NAMES = ("queued", "running", "succeeded", "failed", "canceled")

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token
FIELD = re.compile(r"\{([^{}]*)\}")


class FieldProblem(ValueError):
    """A check of several fields that blames one of them (pydantic would name their parent)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def _jmespath(text: str) -> str:
    try:
        jmespath.compile(text)
    except JMESPathError as exc:
        said = getattr(exc, "message", None) or getattr(exc, "msg", "")
        at = getattr(exc, "lex_position", None)
        where = f" at position {at}" if isinstance(at, int) else ""
        raise ValueError(f"{text!r} is not a JMESPath expression: {said}{where}") from None
    return text


def _fields_of(template: str) -> list[str]:
    """The ``{names}`` in a path template; a stray brace is a mistake, not text."""
    if FIELD.sub("", template).count("{") or FIELD.sub("", template).count("}"):
        raise ValueError(f"{template!r} has an unmatched brace")
    return FIELD.findall(template)


def _path(template: str) -> str:
    if not template.startswith("/") or template.startswith("//"):
        raise ValueError(f"{template!r} must be a path under the base URL, starting with '/'")
    _fields_of(template)
    return template


def _job_path(template: str) -> str:
    _path(template)
    if _fields_of(template) != ["job_id"]:
        raise ValueError(f"{template!r} must contain {{job_id}} once and no other {{field}}")
    return template


def _header_name(name: str) -> str:
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid HTTP header name")
    return name


def _no_line_break(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("contains a line break")
    return value


JMESPath = Annotated[str, AfterValidator(_jmespath)]
Path = Annotated[str, AfterValidator(_path)]
JobPath = Annotated[str, AfterValidator(_job_path)]
HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[str, AfterValidator(_no_line_break)]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Auth(_Part):
    """How the connection's secret is sent (to the connection's own origin only)."""

    scheme: Literal["bearer", "header", "basic", "none"]
    header: HeaderName | None = None
    prefix: HeaderValue = ""

    @model_validator(mode="after")
    def _header_for_header_scheme(self) -> Auth:
        if self.scheme == "header" and self.header is None:
            raise FieldProblem("header", "scheme 'header' needs the header's name (e.g. 'x-api-key')")
        if self.scheme != "header" and (self.header is not None or self.prefix):
            raise FieldProblem(
                "header" if self.header is not None else "prefix",
                f"goes only with scheme 'header', not {self.scheme!r}",
            )
        return self


class Start(_Part):
    method: Method = "POST"
    path: Path
    body: Literal["json", "form"] = "json"
    job_id: JMESPath


class Status(_Part):
    method: Method = "GET"
    path: JobPath
    state: JMESPath
    states: dict[Literal["queued", "running", "succeeded", "failed", "canceled"], list[str]]
    message: JMESPath | None = None
    retry_after: JMESPath | None = None
    not_found: Literal["missing", "running"] = "missing"

    @model_validator(mode="after")
    def _each_raw_value_once(self) -> Status:
        if not self.states.get("succeeded"):
            raise FieldProblem("states", "list at least one raw value for 'succeeded'")
        seen: dict[str, str] = {}
        for state, raws in self.states.items():
            for raw in raws:
                if raw in seen and seen[raw] != state:
                    raise FieldProblem("states", f"{raw!r} is listed under both {seen[raw]!r} and {state!r}")
                seen[raw] = state
        return self


class Results(_Part):
    files: JMESPath
    url: JMESPath | None = None
    url_template: Path | None = None
    name: JMESPath | None = None
    size: JMESPath | None = None

    @model_validator(mode="after")
    def _one_way_to_the_url(self) -> Results:
        if self.url is not None and self.url_template is not None:
            raise FieldProblem("url_template", "give 'url' or 'url_template', not both")
        return self


class Cancel(_Part):
    method: Method = "POST"
    path: JobPath


class Profile(_Part):
    """A declared job API: ``start`` (optional), ``status``, ``results`` and ``cancel`` (optional)."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    auth: Auth
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    start: Start | None = None
    status: Status
    results: Results | None = None
    cancel: Cancel | None = None
    job_url: str | None = None

    @model_validator(mode="after")
    def _checks(self) -> Profile:
        if self.auth.scheme != "none":
            own = (self.auth.header or "Authorization").lower()
            if own in {name.lower() for name in self.headers}:
                raise FieldProblem("headers", f"must not set {own!r}: 'auth' sends it")
        url = self.job_url
        if url is not None and (
            not url.startswith(("https://", "http://", "/")) or FIELD.findall(url) != ["job_id"]
        ):
            raise FieldProblem(
                "job_url",
                "must be an http(s) URL or a path with {job_id} and no other {field}, "
                "e.g. 'https://app.example.com/jobs/{job_id}'",
            )
        return self


_KNOWN = {
    "profile": list(Profile.model_fields),
    "auth": list(Auth.model_fields),
    "start": list(Start.model_fields),
    "status": list(Status.model_fields),
    "results": list(Results.model_fields),
    "cancel": list(Cancel.model_fields),
}


def read_profile(raw: Any) -> Profile:
    """A connection's ``profile`` extra (an object, or a string holding one), checked; a
    :class:`ConfigurationError` naming each wrong field otherwise (the hook adds the connection)."""
    name = DECLARED
    if raw is None or raw == "":
        raise ConfigurationError(
            name, None, "extra 'profile' is missing: a jobapi connection declares its API there"
        )
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ConfigurationError(name, None, f"profile: not valid JSON ({exc})") from None
    if not isinstance(raw, Mapping):
        raise ConfigurationError(name, None, "profile: must be a JSON object")
    if isinstance(raw.get("name"), str) and raw["name"].strip():
        name = raw["name"].strip()
    try:
        return Profile.model_validate(dict(raw))
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors(include_url=False)]
        raise ConfigurationError(name, None, "; ".join(problems[:5])) from None


def _problem(error: Mapping[str, Any]) -> str:
    """One pydantic error as ``profile.<field>: what is wrong``."""
    loc = [str(part) for part in error["loc"] if not str(part).startswith("function-")]
    # pydantic names the branch of an "X or null" field: that says nothing to the user
    loc = [part for part in loc if part not in ("constrained-str", "str", "list[str]", "[key]")]
    problem = error.get("ctx", {}).get("error")
    if isinstance(problem, FieldProblem):
        loc.append(problem.field)
    field = ".".join(["profile", *loc])
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = loc[-2] if len(loc) > 1 else "profile"
        return f"{field}: unknown field; the fields here are {', '.join(_KNOWN.get(parent, []))}"
    if kind == "missing":
        return f"{field}: required field is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{field}: {message}"
