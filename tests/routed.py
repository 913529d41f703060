"""A real HTTP server on 127.0.0.1 that answers with a routing function ``httpx.Request -> httpx.Response``.

The sync tests route through ``httpx.MockTransport``; the async path has no such seam (aiohttp is
tested through its real client), so the same routes are served here over real sockets.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Route = Callable[[httpx.Request], httpx.Response]


@contextmanager
def routed(route: Route) -> Iterator[str]:
    """Serve ``route`` until the block ends; yields the base URL (``http://127.0.0.1:PORT``)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            host = self.headers.get("host") or f"127.0.0.1:{self.server.server_address[1]}"
            request = httpx.Request(
                self.command, f"http://{host}{self.path}", headers=list(self.headers.items()), content=body
            )
            resp = route(request)
            resp.read()
            self.send_response(resp.status_code)
            for name, value in resp.headers.multi_items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(resp.content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.content)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        yield url


@contextmanager
def serving(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve with ``handler`` on a free port of 127.0.0.1 until the block ends; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def served(hook: Any, url: str) -> Any:
    """The same hook and connection, its base URL pointed at ``url`` (a :func:`routed` server)."""
    hook._settings = dataclasses.replace(hook.settings(), base_url=url)
    return hook
