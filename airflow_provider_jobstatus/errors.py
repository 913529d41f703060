"""The errors a vendor answer can turn into, one class per row of the behaviour contract.

No Airflow import here: the sans-IO vendor modules raise these, and the sensor and operators turn
them into Airflow's own exceptions. Every message names the vendor, the job and what was wrong,
and never carries a credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class JobStatusError(Exception):
    """Base class: something about a vendor job that the caller must hear about."""

    #: Whether a wait keeps going (with backoff) when it meets this error.
    transient: bool = False
    #: what ``job_id`` identifies: a job, or (on batch listings) a batch
    subject: str = "job"
    #: False only when the request provably never reached the vendor (connect refused, DNS, TLS
    #: handshake, any fault while getting the token it needed): a start request may then be sent
    #: again without making a second job.
    sent: bool = True

    def __init__(self, vendor: str, job_id: str | None, detail: str) -> None:
        self.vendor = vendor
        self.job_id = job_id
        self.detail = detail
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"{self.vendor}" if self.job_id is None else f"{self.vendor} {self.subject} {self.job_id!r}"
        return f"{where}: {self.detail}"


@contextmanager
def about_batch() -> Iterator[None]:
    """Errors raised inside carry a batch id where a job id usually goes: they say "batch"."""
    try:
        yield
    except JobStatusError as exc:
        exc.subject = "batch"
        exc.args = (str(exc),)
        raise


class MalformedResponseError(JobStatusError):
    """The answer could not be understood (bad JSON, an HTML page, a missing or mistyped field).

    Proxies and load balancers produce these, so a wait treats them as transient.
    """

    transient = True


class TransientVendorError(JobStatusError):
    """A fault that may pass: connection error, timeout, reset, 5xx, 429."""

    transient = True

    def __init__(
        self,
        vendor: str,
        job_id: str | None,
        detail: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        sent: bool = True,
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        self.sent = sent
        super().__init__(vendor, job_id, detail)


class AuthenticationError(JobStatusError):
    """401/403 even after a fresh token: the credentials are wrong; waiting will not help."""


class JobNotFoundError(JobStatusError):
    """404 on a status endpoint. Vendors can be eventually consistent, so waits allow a grace period."""


class VendorRequestError(JobStatusError):
    """Another 4xx: the vendor refused the request itself."""

    def __init__(
        self, vendor: str, job_id: str | None, detail: str, *, status_code: int | None = None
    ) -> None:
        self.status_code = status_code
        super().__init__(vendor, job_id, detail)


class DuplicateJobError(VendorRequestError):
    """The vendor already has a job with this idempotency key (Playment ``FS_0001`` for a
    ``reference_id``): an earlier start got through, so the job is to be adopted, not made again."""


class ResultExpiredError(JobStatusError):
    """The job's result is gone (Nitro 410, an expired pre-signed link)."""


class ConfigurationError(JobStatusError):
    """The Airflow connection or the task's arguments are wrong; the message names the field to fix."""


class UnsafeRedirectError(JobStatusError):
    """A redirect pointed somewhere we refuse to go (another scheme, a loop, too many hops)."""


class ListingTooLongError(JobStatusError):
    """A listing went on past its page cap: a vendor that pages forever, or a listing larger than
    the connection's ``max_pages`` allows. Reading it again would end the same way."""
