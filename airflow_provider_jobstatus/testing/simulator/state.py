"""The simulator's shared state: jobs, batches, tokens, configuration, request log.

Handlers run on the server's event loop thread; the in-process API may call in from other threads,
so everything that changes shared structures takes ``SimState.lock`` (cheap, uncontended).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import math
import random
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import catalog
from .catalog import (
    COMMON_OPTIONS,
    MAX_RESULT_BYTES,
    OUTCOMES_ALL,
    SimVendor,
    random_hex,
    random_uuid,
)
from .checks import SimError, check_int, check_number, check_str
from .content import content_key, sha256_of
from .credentials import merge_credentials
from .faults import FaultBoard
from .ratelimit import RateLimits
from .starts import StartBook

LOG_CAPACITY = 10_000


@dataclass(frozen=True)
class ResultFile:
    job_id: str
    index: int
    name: str
    content_type: str
    size: int
    sha256: str
    key: bytes
    token: str

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
        }


@dataclass
class Job:
    id: str
    vendor: str
    outcome: str
    polls: int | None
    seconds: float | None
    created: float
    link_ttl: float
    opts: dict[str, Any]
    results: list[ResultFile] = field(default_factory=list)
    batch_id: str | None = None
    polls_seen: int = 0
    terminal_at: float | None = None
    expired: bool = False

    def link_expires(self) -> int:
        """Epoch second after which the job's signed links stop working (fixed at completion)."""
        base = self.terminal_at if self.terminal_at is not None else time.time()
        return int(base + self.link_ttl)


@dataclass
class Batch:
    id: str
    project_id: str
    name: str
    page_size: int
    token_base: int
    job_ids: list[str] = field(default_factory=list)

    def page_token(self, page: int) -> str:
        return str(self.token_base + page * 1000)

    def page_of(self, token: str) -> int | None:
        """Page index of a token we issued, or None."""
        if not token.isdigit():
            return None
        diff = int(token) - self.token_base
        if diff <= 0 or diff % 1000:
            return None
        page = diff // 1000
        pages = max(1, math.ceil(len(self.job_ids) / self.page_size))
        return page if page < pages else None


class Observation(NamedTuple):
    terminal: bool
    #: index into the vendor's non-terminal phases (len(phases) when terminal)
    phase: int
    #: progress, 0..1
    fraction: float


class RequestLog:
    """Counters and the last LOG_CAPACITY requests. Appends are O(1); rendering happens on read."""

    def __init__(self) -> None:
        self.entries: deque[tuple[Any, ...]] = deque(maxlen=LOG_CAPACITY)
        self.counts: dict[str, int] = {}
        self.files_requests = 0
        self.files_with_credentials = 0
        self.files_rejected = 0

    def clear(self) -> None:
        self.entries.clear()
        self.counts.clear()
        self.files_requests = self.files_with_credentials = self.files_rejected = 0


class SimState:
    def __init__(
        self,
        *,
        seed: int = 0,
        token_ttl: float = 3600.0,
        link_ttl: float = 3600.0,
        nitro_token_style: str = "camel",
        credentials: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.credentials = merge_credentials(credentials)
        self._secret = hashlib.sha256(f"jobstatus-sim-secret:{seed}".encode()).digest()
        self._rng = random.Random(f"jobstatus-sim:{seed}")
        self._initial_config: dict[str, Any] = {}
        self.config: dict[str, Any] = {}
        self.configure(token_ttl=token_ttl, link_ttl=link_ttl, nitro_token_style=nitro_token_style)
        self._initial_config = dict(self.config)
        self.api_url = ""
        self.files_url = ""
        self.jobs: dict[str, Job] = {}
        self.batches: dict[str, Batch] = {}
        self.files: dict[str, ResultFile] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self._token_counter = 0
        self.faults = FaultBoard()
        self.rate_limits = RateLimits()
        self.starts = StartBook()
        self.log = RequestLog()
        self.pdfco_credits = 1_000_000
        self.declared = self.declare(None)
        self._default_batch: str | None = None
        #: set (on the server's loop) when the simulator stops: ends ``slow`` faults early
        self.stopping: asyncio.Event | None = None

    # -- configuration -------------------------------------------------------------------------
    def configure(self, **changes: Any) -> dict[str, Any]:
        known = {"token_ttl", "link_ttl", "nitro_token_style"}
        unknown = set(changes) - known
        if unknown:
            raise SimError(400, f"unknown config keys {sorted(unknown)}; known: {sorted(known)}")
        new = dict(self.config)
        if "token_ttl" in changes:
            new["token_ttl"] = check_number("token_ttl", changes["token_ttl"])
        if "link_ttl" in changes:
            new["link_ttl"] = check_number("link_ttl", changes["link_ttl"])
        if "nitro_token_style" in changes:
            style = changes["nitro_token_style"]
            if style not in ("camel", "snake"):
                raise SimError(400, f"nitro_token_style must be 'camel' or 'snake', got {style!r}")
            new["nitro_token_style"] = style
        with self.lock:
            self.config = new
        return dict(new)

    def reset(self) -> None:
        """Forget jobs, batches, faults, rate limits, the request log and config changes (tokens
        stay valid)."""
        with self.lock:
            self.jobs.clear()
            self.batches.clear()
            self.files.clear()
            self.faults.clear()
            self.rate_limits.clear()
            self.starts.reset()
            self.log.clear()
            self.config = dict(self._initial_config)
            self.pdfco_credits = 1_000_000
            self._default_batch = None

    # -- ids -----------------------------------------------------------------------------------
    def declare(self, profile: Mapping[str, Any] | None) -> Any:
        """Serve ``profile`` as the declared API (``jobapi``); None: the default profile. Kept
        across :meth:`reset`, like the credentials."""
        from .declared import DEFAULT_PROFILE, Declared

        declared = Declared(DEFAULT_PROFILE if profile is None else profile)
        with self.lock:
            self.declared = declared
        return declared

    def random_uuid(self) -> str:
        """A UUID from the seeded generator: the same seed and calls give the same ids."""
        return random_uuid(self._rng)

    def random_hex(self, n: int) -> str:
        return random_hex(self._rng, n)

    def _new_job_id(self, sim: SimVendor) -> str:
        while True:
            job_id = sim.new_job_id(self._rng)
            if job_id not in self.jobs:
                return job_id

    # -- tokens --------------------------------------------------------------------------------
    def issue_token(self, vendor: str) -> tuple[str, float]:
        """A new access token and its lifetime: the ``n``-th token's MAC in base64url, or what the
        vendor's ``token_shape`` makes of it (Nitro's JWT)."""
        shape = catalog.vendor(vendor).token_shape
        with self.lock:
            self._token_counter += 1
            n = self._token_counter
            ttl = float(self.config["token_ttl"])
            mac = hmac.new(self._secret, f"token:{vendor}:{n}".encode(), hashlib.sha256).digest()
            token = shape(self, mac, n) if shape else base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
            self.tokens[token] = (vendor, time.time() + ttl)
        return token, ttl

    def token_ok(self, vendor: str, token: str | None) -> bool:
        if not token:
            return False
        entry = self.tokens.get(token)
        return entry is not None and entry[0] == vendor and time.time() < entry[1]

    def expire_tokens(self) -> int:
        with self.lock:
            n = len(self.tokens)
            self.tokens.clear()
        return n

    # -- signed links --------------------------------------------------------------------------
    def _signature(self, token: str, expires: int) -> str:
        return hmac.new(self._secret, f"{token}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def private_url(self, rf: ResultFile) -> str:
        return f"{self.files_url}/files/{rf.token}"

    def signed_url(self, rf: ResultFile, expires: int) -> str:
        sig = self._signature(rf.token, expires)
        return f"{self.private_url(rf)}?X-Sim-Expires={expires}&X-Sim-Signature={sig}"

    def signature_ok(self, token: str, expires: int, signature: str) -> bool:
        return hmac.compare_digest(self._signature(token, expires), signature)

    # -- jobs ----------------------------------------------------------------------------------
    def _validate(
        self,
        vendor_name: Any,
        outcome: Any,
        polls: Any,
        seconds: Any,
        result_bytes: Any,
        opts: Mapping[str, Any],
    ) -> tuple[SimVendor, str, int | None, float | None, int, dict[str, Any]]:
        sim = catalog.vendor(vendor_name)
        if outcome not in OUTCOMES_ALL:
            raise SimError(400, f"unknown outcome {outcome!r}; known: {', '.join(OUTCOMES_ALL)}")
        if outcome not in sim.outcomes:
            offered = ", ".join(f"{o} ({word})" for o, word in sim.outcomes.items())
            raise SimError(
                400,
                f"{sim.display_name} has no {outcome!r} outcome; the simulator offers only what the "
                f"vendor really has: {offered}",
            )
        if polls is not None and seconds is not None:
            raise SimError(400, "give either polls or seconds, not both")
        if polls is not None:
            polls = check_int("polls", polls, 0)
        if seconds is not None:
            seconds = check_number("seconds", seconds)
        result_bytes = check_int("result_bytes", result_bytes, 0, MAX_RESULT_BYTES)
        allowed = COMMON_OPTIONS | sim.options
        unknown = set(opts) - allowed
        if unknown:
            raise SimError(
                400,
                f"unknown options {sorted(unknown)} for {sim.display_name}; known: {sorted(allowed)}",
            )
        clean: dict[str, Any] = {}
        clean["results"] = check_int("results", opts.get("results", 1), 1, sim.max_results)
        if "link_ttl" in opts:
            clean["link_ttl"] = check_number("link_ttl", opts["link_ttl"])
        if "content_type" in opts:
            clean["content_type"] = check_str("content_type", opts["content_type"])
        if "hold" in opts:
            if not isinstance(opts["hold"], bool):
                raise SimError(400, f"hold must be true or false, got {opts['hold']!r}")
            clean["hold"] = opts["hold"]
        clean.update(sim.clean_options(outcome, opts))
        return sim, outcome, polls, seconds, result_bytes, clean

    def _make_results(
        self, sim: SimVendor, job_id: str, result_bytes: int, opts: Mapping[str, Any]
    ) -> list[ResultFile]:
        count = int(opts.get("results", 1))
        files = []
        for index in range(count):
            name, content_type = sim.result_file(job_id, index)
            content_type = opts.get("content_type", content_type)
            key = content_key(self.seed, job_id, index)
            tag = hmac.new(self._secret, f"file:{job_id}:{index}".encode(), hashlib.sha256).hexdigest()[:24]
            files.append(
                ResultFile(
                    job_id,
                    index,
                    name,
                    content_type,
                    result_bytes,
                    sha256_of(key, result_bytes),
                    key,
                    f"{tag}/{name}",
                )
            )
        return files

    def _batch_of(self, sim: SimVendor, batch_id: str | None) -> Batch:
        """The batch a new job joins (creating the default batch, or a named one, on demand)."""
        if batch_id is None:
            if self._default_batch is None or self._default_batch not in self.batches:
                self._default_batch = self._new_batch(sim, "Default batch", 100).id
            return self.batches[self._default_batch]
        batch = self.batches.get(batch_id)
        if batch is None:
            batch = self._new_batch(sim, f"batch-{batch_id[:8]}", 100, batch_id)
        return batch

    def _new_batch(self, sim: SimVendor, name: str, page_size: int, batch_id: str | None = None) -> Batch:
        batch = Batch(
            id=batch_id or self.random_uuid(),
            project_id=self.credentials[sim.name].get("project_id", ""),
            name=name,
            page_size=page_size,
            token_base=time.time_ns() // 1000 * 1000,
        )
        self.batches[batch.id] = batch
        return batch

    def create_job(
        self,
        vendor: Any,
        outcome: Any = "succeeded",
        polls: Any = None,
        seconds: Any = None,
        result_bytes: Any = 1024,
        batch_id: Any = None,
        **opts: Any,
    ) -> dict[str, Any]:
        """Create a job; returns its id and the size and SHA-256 of its result file(s)."""
        sim, outcome, polls, seconds, result_bytes, clean = self._validate(
            vendor, outcome, polls, seconds, result_bytes, opts
        )
        if batch_id is not None:
            if not sim.batches:
                batched = " and ".join(v.display_name for v in catalog.vendors().values() if v.batches)
                raise SimError(400, f"batch_id applies to {batched or 'no'} jobs only")
            batch_id = check_str("batch_id", batch_id)
        with self.lock:
            job_id = self._new_job_id(sim)
            self.jobs[job_id] = _RESERVED  # hold the id while the results are hashed
            sim.add_ids(self, clean)
            link_ttl = clean.pop("link_ttl", self.config["link_ttl"])
        try:
            results = self._make_results(sim, job_id, result_bytes, clean)
        except BaseException:
            with self.lock:
                self.jobs.pop(job_id, None)
            raise
        job = Job(job_id, sim.name, outcome, polls, seconds, time.time(), link_ttl, clean, results)
        with self.lock:
            if sim.batches:
                batch = self._batch_of(sim, batch_id)
                job.batch_id = batch.id
                batch.job_ids.append(job_id)
                job.opts.setdefault(
                    "reference_id", f"{batch.name.replace(' ', '-').lower()}-{len(batch.job_ids):05d}"
                )
            for rf in results:
                self.files[rf.token] = rf
            self.jobs[job_id] = job
        return self.describe(job)

    def create_batch(
        self,
        jobs: Any,
        page_size: Any = 100,
        outcome: Any = "succeeded",
        polls: Any = None,
        seconds: Any = None,
        result_bytes: Any = 1024,
        name: Any = None,
        **opts: Any,
    ) -> dict[str, Any]:
        """A batch of ``jobs`` jobs of the vendor with batches (Playment); returns its id and the
        job ids in listing order."""
        sim = next((v for v in catalog.vendors().values() if v.batches), None)
        if sim is None:
            raise SimError(400, "no simulated vendor has batches")
        count = check_int("jobs", jobs, 0, 100_000)
        page_size = check_int("page_size", page_size, 1, 10_000)
        if "reference_id" in opts:
            raise SimError(400, "reference_id is set per job; batch jobs get <batch name>-<n>")
        # validate once up front so a bad spec fails before anything is created
        self._validate(sim.name, outcome, polls, seconds, result_bytes, opts)
        with self.lock:
            number = len(self.batches) + 1
            batch = self._new_batch(
                sim, check_str("name", name) if name is not None else f"batch-{number}", page_size
            )
        job_ids = [
            self.create_job(sim.name, outcome, polls, seconds, result_bytes, batch_id=batch.id, **opts)[
                "job_id"
            ]
            for _ in range(count)
        ]
        return {
            "batch_id": batch.id,
            "project_id": batch.project_id,
            "name": batch.name,
            "page_size": page_size,
            "job_ids": job_ids,
        }

    def start_job(
        self, vendor: str, batch_id: str | None = None, **opts: Any
    ) -> tuple[dict[str, Any], Job | None]:
        """A start call: the next plan for ``vendor`` and the job it made (None when the plan
        refuses the start). ``opts`` are what the start call itself carried (Playment's ids)."""
        plan = self.starts.next_plan(vendor)
        if plan.get("fault") not in (None, "lost_answer"):
            return plan, None
        polls = plan.get("polls", 2 if plan.get("seconds") is None else None)
        info = self.create_job(
            vendor,
            plan.get("outcome", "succeeded"),
            polls,
            plan.get("seconds"),
            plan.get("result_bytes", 1024),
            batch_id,
            **{**plan.get("opts", {}), **opts},
        )
        job = self.get_job(info["job_id"])
        assert job is not None
        self.starts.count_created(vendor, job.opts.get("reference_id"))
        return plan, job

    def find_reference(self, vendor: str, reference_id: str) -> Job | None:
        """The job of ``vendor`` created with ``reference_id`` (Playment keeps them unique)."""
        with self.lock:
            for job in self.jobs.values():
                if (
                    isinstance(job, Job)
                    and job.vendor == vendor
                    and job.opts.get("reference_id") == reference_id
                ):
                    return job
        return None

    def cancel(self, job: Job) -> bool:
        """Cancel a job that has not ended; False when it already had."""
        if self.observe(job, advance=False).terminal:
            return False
        with self.lock:
            job.outcome = "canceled"
            self._finish(job, time.time())
        self.starts.count_canceled(job.vendor, job.opts.get("reference_id"))
        return True

    def describe(self, job: Job) -> dict[str, Any]:
        first = job.results[0]
        out: dict[str, Any] = {
            "job_id": job.id,
            "vendor": job.vendor,
            "outcome": job.outcome,
            "sha256": first.sha256,
            "size": first.size,
            "results": [rf.describe() for rf in job.results],
        }
        if job.batch_id is not None:
            out["batch_id"] = job.batch_id
        if "reference_id" in job.opts:
            out["reference_id"] = job.opts["reference_id"]
        return out

    def job_info(self, job_id: str) -> dict[str, Any]:
        job = self.get_job(job_id)
        if job is None:
            raise SimError(404, f"no job {job_id!r}")
        obs = self.observe(job, advance=False)
        return {
            **self.describe(job),
            "canceled": job.outcome == "canceled" and job.terminal_at is not None,
            "polls": job.polls,
            "seconds": job.seconds,
            "polls_seen": job.polls_seen,
            "terminal": obs.terminal,
            "expired": job.expired,
            "created": job.created,
            "terminal_at": job.terminal_at,
        }

    def get_job(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        return job if isinstance(job, Job) else None

    def expire(self, job_id: str) -> None:
        job = self.get_job(job_id)
        if job is None:
            raise SimError(404, f"no job {job_id!r}")
        with self.lock:
            job.expired = True

    def observe(self, job: Job, advance: bool) -> Observation:
        """Where the job is now. ``advance``: this is a status answer the client will see, so it
        counts as one of the job's ``polls``."""
        phases = len(catalog.vendor(job.vendor).phases)
        with self.lock:
            if job.terminal_at is None:
                if job.opts.get("hold"):
                    return Observation(False, phases - 1, 0.5)
                if job.polls is not None:
                    if advance:
                        job.polls_seen += 1
                    seen = job.polls_seen
                    if job.polls > 0 and seen <= job.polls:
                        # the i-th of N non-terminal answers; the last ones show the last phase
                        i = max(seen - 1, 0)
                        index = phases - 1 - ((job.polls - 1 - i) * phases) // job.polls
                        return Observation(False, index, (i + 1) / (job.polls + 1))
                    self._finish(job, time.time())
                elif job.seconds is not None:
                    fraction = (time.time() - job.created) / job.seconds if job.seconds else 1.0
                    if fraction < 1.0:
                        return Observation(False, min(phases - 1, int(fraction * phases)), fraction)
                    self._finish(job, job.created + job.seconds)
                else:
                    self._finish(job, job.created)
        return Observation(True, phases, 1.0)

    def workflow_jobs(self, workflow_id: str) -> list[Job]:
        """A workflow's jobs (Alteryx), oldest first."""
        with self.lock:
            jobs = [j for j in self.jobs.values() if isinstance(j, Job)]
        return sorted((j for j in jobs if j.opts.get("workflow_id") == workflow_id), key=lambda j: j.created)

    def finish(
        self,
        workflow_id: Any = None,
        batch_id: Any = None,
        job_ids: Any = None,
        count: Any = None,
    ) -> dict[str, Any]:
        """Finish now (with their outcome) the unfinished jobs of a workflow or batch, or the
        given jobs; ``count`` finishes only the oldest that many. Returns the ids finished."""
        if sum(x is not None for x in (workflow_id, batch_id, job_ids)) != 1:
            raise SimError(400, "give exactly one of workflow_id, batch_id or job_ids")
        if count is not None:
            count = check_int("count", count, 0)
        if workflow_id is not None:
            jobs = self.workflow_jobs(check_str("workflow_id", workflow_id))
        elif batch_id is not None:
            batch = self.batches.get(check_str("batch_id", batch_id))
            if batch is None:
                raise SimError(404, f"no batch {batch_id!r}")
            jobs = [j for j in (self.get_job(i) for i in batch.job_ids) if j is not None]
        else:
            if not isinstance(job_ids, list) or not all(isinstance(i, str) for i in job_ids):
                raise SimError(400, "job_ids must be a list of job ids")
            jobs = []
            for job_id in job_ids:
                job = self.get_job(job_id)
                if job is None:
                    raise SimError(404, f"no job {job_id!r}")
                jobs.append(job)
        finished: list[str] = []
        now = time.time()
        with self.lock:
            for job in jobs:
                if count is not None and len(finished) >= count:
                    break
                if job.terminal_at is None:
                    job.opts["hold"] = False
                    self._finish(job, now)
                    finished.append(job.id)
        return {"finished": finished}

    def _finish(self, job: Job, when: float) -> None:
        job.terminal_at = when
        catalog.vendor(job.vendor).on_finish(self, job)

    # -- request log ---------------------------------------------------------------------------
    def record(
        self,
        origin: str,
        vendor: str | None,
        route: str,
        method: str,
        path: str,
        status: int,
        auth_headers: tuple[str, ...],
        fault: str | None,
    ) -> None:
        entry = (time.time(), origin, vendor, route, method, path, status, auth_headers, fault)
        log = self.log
        with self.lock:
            log.entries.append(entry)
            if origin == "files":
                log.files_requests += 1
                if auth_headers:
                    log.files_with_credentials += 1
                if status >= 400:
                    log.files_rejected += 1
            else:
                key = f"{vendor}.{route}"
                log.counts[key] = log.counts.get(key, 0) + 1

    def requests_snapshot(self, limit: int | None = None, include_log: bool = True) -> dict[str, Any]:
        log = self.log
        with self.lock:
            counts = dict(log.counts)
            files = {
                "requests": log.files_requests,
                "with_credentials": log.files_with_credentials,
                "rejected": log.files_rejected,
            }
            entries = list(log.entries) if include_log else []
        if limit is not None:
            entries = entries[-limit:] if limit > 0 else []
        keys = ("t", "origin", "vendor", "route", "method", "path", "status", "auth_headers", "fault")
        rendered = [dict(zip(keys, e, strict=True)) for e in entries]
        for item in rendered:
            item["auth_headers"] = list(item["auth_headers"])
        return {"counts": counts, "total": sum(counts.values()), "files": files, "log": rendered}

    def clear_requests(self) -> None:
        with self.lock:
            self.log.clear()


class _Reserved:
    """Placeholder for a job id whose results are still being hashed."""


_RESERVED: Any = _Reserved()
