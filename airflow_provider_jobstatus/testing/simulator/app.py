"""The two ASGI apps: the API origin (five vendors + control API) and the files origin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Router

from . import control
from .files import FilesApp
from .state import SimState
from .vendors import all_routes


def build_api_app(state: SimState, info: Callable[[], dict[str, Any]]) -> Router:
    return Router(routes=[*control.routes(state, info), *all_routes(state)])


def build_files_app(state: SimState) -> FilesApp:
    return FilesApp(state)
