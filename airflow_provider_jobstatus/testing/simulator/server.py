"""``Simulator``: both origins served by uvicorn on a background thread, plus the in-process API."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import socket
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import uvicorn

from .app import build_api_app, build_files_app
from .catalog import vendor, vendors
from .faults import FaultSpec
from .ratelimit import RateLimit
from .state import SimState

logger = logging.getLogger(__name__)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class Simulator:
    """A real HTTP server that speaks the five vendors' protocols, for tests, demos and benchmarks.

    ``port``/``files_port`` 0 pick free ports. Start with :meth:`start` (or ``with Simulator() as sim``);
    the servers run on a daemon thread with their own event loop.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        files_port: int = 0,
        token_ttl: float = 3600.0,
        seed: int = 0,
        credentials: Mapping[str, Mapping[str, str]] | None = None,
        *,
        link_ttl: float = 3600.0,
        nitro_token_style: str = "camel",
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ) -> None:
        self.host = host
        #: serve https with this certificate (e.g. one from a private CA, to test ``verify``)
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.port = port
        self.files_port = files_port
        self.state = SimState(
            seed=seed,
            token_ttl=token_ttl,
            link_ttl=link_ttl,
            nitro_token_style=nitro_token_style,
            credentials=credentials,
        )
        self._thread: threading.Thread | None = None
        self._servers: list[uvicorn.Server] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._url = ""
        self._files_url = ""

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Simulator:
        """Bind both ports and serve; returns once both servers are listening."""
        if self._thread is not None:
            return self
        api_sock = _bind(self.host, self.port)
        try:
            files_sock = _bind(self.host, self.files_port)
        except OSError:
            api_sock.close()
            raise
        self.port = api_sock.getsockname()[1]
        self.files_port = files_sock.getsockname()[1]
        scheme = "https" if self.ssl_certfile else "http"
        self._url = f"{scheme}://{_url_host(self.host)}:{self.port}"
        self._files_url = f"{scheme}://{_url_host(self.host)}:{self.files_port}"
        self.state.api_url = self._url
        self.state.files_url = self._files_url
        common: dict[str, Any] = {
            "http": "auto",  # uvicorn's fastest installed parser
            "ws": "none",
            "lifespan": "off",
            "access_log": False,
            "log_level": "warning",
            "log_config": None,
            "timeout_keep_alive": 75,
            "timeout_graceful_shutdown": 2,
            "backlog": 4096,
            "server_header": False,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
        }
        self._servers = [
            uvicorn.Server(uvicorn.Config(build_api_app(self.state, self.info), **common)),
            uvicorn.Server(uvicorn.Config(build_files_app(self.state), **common)),
        ]
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=([api_sock], [files_sock]), name="jobstatus-simulator", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            error = self._error
            self.stop()
            raise RuntimeError(f"the simulator did not start: {error!r}")
        return self

    def _run(self, api_socks: list[socket.socket], files_socks: list[socket.socket]) -> None:
        loop = _new_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(api_socks, files_socks))
        except BaseException as exc:  # SystemExit from a uvicorn startup failure included
            self._error = exc
            logger.exception("jobstatus simulator stopped with an error")
        finally:
            self._ready.set()
            for sock in (*api_socks, *files_socks):
                sock.close()
            loop.close()

    async def _serve(self, api_socks: list[socket.socket], files_socks: list[socket.socket]) -> None:
        api, files = self._servers
        self._loop = asyncio.get_running_loop()
        self.state.stopping = asyncio.Event()
        tasks = [
            asyncio.ensure_future(api.serve(sockets=api_socks)),
            asyncio.ensure_future(files.serve(sockets=files_socks)),
        ]
        while not (api.started and files.started):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.002)
        if api.started and files.started:
            self._ready.set()
        await asyncio.gather(*tasks)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop both servers (open connections get ``timeout_graceful_shutdown``, 2 s)."""
        loop, stopping = self._loop, self.state.stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have closed meanwhile
                loop.call_soon_threadsafe(stopping.set)
        for server in self._servers:
            server.should_exit = True
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------
    def _require_started(self) -> None:
        if not self._url:
            raise RuntimeError("the simulator is not started; call start() first")

    @property
    def url(self) -> str:
        """The API origin, e.g. ``http://127.0.0.1:8700``."""
        self._require_started()
        return self._url

    @property
    def files_url(self) -> str:
        """The files origin (signed result URLs), e.g. ``http://127.0.0.1:8701``."""
        self._require_started()
        return self._files_url

    def base_url(self, name: str) -> str:
        """A vendor's base URL, e.g. ``http://127.0.0.1:8700/alteryx/webapi``."""
        return self.url + vendor(name).prefix

    @property
    def vendor_urls(self) -> dict[str, str]:
        return {name: self.base_url(name) for name in vendors()}

    @property
    def credentials(self) -> dict[str, dict[str, str]]:
        """The credentials this simulator accepts, per vendor (a copy)."""
        return {vendor: dict(fields) for vendor, fields in self.state.credentials.items()}

    def info(self) -> dict[str, Any]:
        """What the CLI prints and ``GET /_sim`` answers."""
        return {
            "url": self.url,
            "files_url": self.files_url,
            "vendors": self.vendor_urls,
            "control": f"{self.url}/_sim",
            "config": dict(self.state.config),
        }

    # -- control -------------------------------------------------------------------------------
    def create_job(
        self,
        vendor: str,
        outcome: str = "succeeded",
        polls: int | None = None,
        seconds: float | None = None,
        result_bytes: int = 1024,
        batch_id: str | None = None,
        **vendor_opts: Any,
    ) -> dict[str, Any]:
        """Create a job (see the control API ``POST /_sim/jobs``); ValueError on a bad spec."""
        return self.state.create_job(vendor, outcome, polls, seconds, result_bytes, batch_id, **vendor_opts)

    def create_batch(
        self,
        jobs: int,
        page_size: int = 100,
        outcome: str = "succeeded",
        polls: int | None = None,
        seconds: float | None = None,
        result_bytes: int = 1024,
        name: str | None = None,
        **vendor_opts: Any,
    ) -> dict[str, Any]:
        """Create a Playment batch of ``jobs`` jobs: ``{"batch_id", "job_ids", ...}``."""
        return self.state.create_batch(
            jobs, page_size, outcome, polls, seconds, result_bytes, name, **vendor_opts
        )

    def finish(
        self,
        *,
        workflow_id: str | None = None,
        batch_id: str | None = None,
        job_ids: list[str] | None = None,
        count: int | None = None,
    ) -> list[str]:
        """Finish now the unfinished (e.g. ``hold=True``) jobs of an Alteryx workflow or a
        Playment batch, or the given jobs (``count``: only the oldest that many); their ids."""
        done = self.state.finish(workflow_id, batch_id, job_ids, count)
        return list(done["finished"])

    def job(self, job_id: str) -> dict[str, Any]:
        """What the simulator knows of a job (polls seen, terminal or not, ...)."""
        return self.state.job_info(job_id)

    def plan_starts(self, vendor: str, *plans: dict[str, Any]) -> None:
        """What the next start calls of ``vendor`` do (see :mod:`.starts`): outcome, polls or
        seconds, result_bytes, a start ``fault``; the queue is used up in order."""
        self.state.starts.plan(vendor, list(plans))

    def clear_start_plans(self) -> None:
        """Forget the queued start plans: the next starts make the default job again."""
        self.state.starts.clear_plans()

    def starts(self) -> dict[str, Any]:
        """Start calls, created and canceled jobs per vendor and per Playment reference_id."""
        return self.state.starts.snapshot()

    def set_faults(self, vendor: str, **spec: Any) -> None:
        """Inject faults for ``vendor`` (or ``"*"``); see :class:`FaultSpec` for the keys."""
        self.state.faults.set(vendor, FaultSpec.from_dict(spec))

    def clear_faults(self, vendor: str | None = None) -> None:
        self.state.faults.clear(vendor)

    def set_rate_limit(self, vendor: str, per_second: int, retry_after: int = 1) -> None:
        """Serve ``vendor`` (or ``"*"``) at most ``per_second`` requests a second per API key (a
        sliding window); more are answered 429 with ``Retry-After: retry_after``."""
        limit = RateLimit.from_dict({"per_second": per_second, "retry_after": retry_after})
        self.state.rate_limits.set(vendor, limit)

    def clear_rate_limits(self, vendor: str | None = None) -> None:
        self.state.rate_limits.clear(vendor)

    def requests(self, limit: int | None = None, include_log: bool = True) -> dict[str, Any]:
        """Counters per ``<vendor>.<route>``, files-origin counters and the request log."""
        return self.state.requests_snapshot(limit, include_log)

    def clear_requests(self) -> None:
        self.state.clear_requests()

    def expire(self, job_id: str) -> None:
        """Expire a job's results: its signed links stop working (Nitro answers 410)."""
        self.state.expire(job_id)

    def expire_tokens(self) -> int:
        """Invalidate every access token issued so far (the next call gets a 401)."""
        return self.state.expire_tokens()

    @property
    def profile(self) -> dict[str, Any]:
        """The profile of the declared API (``jobapi``) the simulator serves (a copy)."""
        return copy.deepcopy(self.state.declared.profile)

    def declare(self, profile: Mapping[str, Any] | None = None) -> None:
        """Serve ``profile`` (a ``jobapi`` connection's declaration) under ``base_url("jobapi")``;
        None goes back to the default one. A profile the simulator cannot answer is a ValueError."""
        self.state.declare(profile)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change ``token_ttl``, ``link_ttl`` or ``nitro_token_style`` at runtime."""
        return self.state.configure(**changes)

    def reset(self) -> None:
        """Forget jobs, batches, faults, rate limits, the request log and config changes (tokens
        stay valid)."""
        self.state.reset()
