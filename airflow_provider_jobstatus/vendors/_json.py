"""Reading vendor JSON: typed field access, yes/no options and text that every encoder accepts."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from airflow_provider_jobstatus.errors import ConfigurationError, MalformedResponseError
from airflow_provider_jobstatus.status import MAX_TEXT_BYTES

T = TypeVar("T")


def field_of(vendor: str, job_id: str | None, data: Any, key: str, kind: type[T] | tuple[type, ...]) -> T:
    """``data[key]`` checked for type; a clear :class:`MalformedResponseError` when not."""
    if not isinstance(data, dict):
        raise MalformedResponseError(vendor, job_id, f"expected a JSON object, got {type_name(data)}")
    if key not in data:
        raise MalformedResponseError(vendor, job_id, f"field {key!r} missing from the answer")
    value = data[key]
    if not is_kind(value, kind):
        raise MalformedResponseError(
            vendor, job_id, f"field {key!r} should be {kind_name(kind)}, got {type_name(value)}"
        )
    return cast("T", value)


def id_of(vendor: str, listing_id: str | None, data: Any, key: str = "id") -> str:
    """A listed job's id: a string with something in it, no longer than the text events carry. A
    blank id names no job, so the answer that carries one is malformed (never a row, never a job
    to announce)."""
    value = field_of(vendor, listing_id, data, key, str)
    if not value.strip():
        raise MalformedResponseError(vendor, listing_id, f"a listed job has a blank {key!r} ({value!r})")
    if len(value) > MAX_TEXT_BYTES // 4 and len(value.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise MalformedResponseError(
            vendor, listing_id, f"a listed job has an {key!r} of {len(value)} characters: no job has one"
        )
    return value


def optional_field(
    vendor: str, job_id: str | None, data: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...]
) -> T | None:
    """``data.get(key)`` checked for type when present and not null."""
    value = data.get(key)
    if value is None:
        return None
    if not is_kind(value, kind):
        raise MalformedResponseError(
            vendor, job_id, f"field {key!r} should be {kind_name(kind)}, got {type_name(value)}"
        )
    return cast("T", value)


def is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    """``isinstance``, except that JSON ``true``/``false`` is not a number, a fraction (``2.0``
    included) is not an integer, and neither NaN, an infinity nor an integer too large for a float
    is a number (none of them can travel in JSON events or index a list)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, float) and float not in kinds:
        return False
    if isinstance(value, (int, float)) and (int in kinds or float in kinds):
        try:
            return math.isfinite(float(value))
        except OverflowError:
            return False
    return isinstance(value, kinds)


def type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(type_name(k() if k is not type(None) else None) for k in kinds)


def join_text(*parts: Any) -> str | None:
    """The non-empty strings among ``parts`` joined with ": " (e.g. an error code and its message)."""
    text = ": ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return text or None


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def bool_option(vendor: str, options: Mapping[str, Any], key: str, default: bool = False) -> bool:
    """A yes/no option; connection extras may hold it as JSON ``true`` or as the text ``"true"``."""
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigurationError(vendor, None, f"option {key!r} should be true or false, got {value!r}")


#: a JSON ``\uD800``-``\uDFFF`` escape: it can decode to a lone surrogate, text that no UTF-8
#: encoder (event serialization, logs, XCom) accepts
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


#: JSON in UTF-16/32 (whose escapes the byte search above cannot see) starts with a BOM or has a
#: NUL among its first four bytes
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _without_lone_surrogates(value: Any) -> Any:
    """The decoded JSON with lone surrogates replaced by U+FFFD (walked only when one may be there)."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def load_json(body: bytes) -> Any:
    """``json.loads`` with lone surrogates replaced (walked only when one may be there)."""
    data = json.loads(body)
    if _SURROGATE_ESCAPE.search(body) or b"\x00" in body[:4] or body[:2] in _UTF16_BOMS:
        data = _without_lone_surrogates(data)
    return data
