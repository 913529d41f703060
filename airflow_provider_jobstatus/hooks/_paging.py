"""The one rule for reading a listing page by page (batch pages, a workflow's jobs), sync or async.

A vendor decides when its listing ends (no next token, a short page), so a hostile or broken one
could page us forever: every listing is capped (:data:`DEFAULT_MAX_PAGES`, the connection extra
``max_pages``), and the tokens seen are kept as small digests so memory stays flat however long
the tokens are.
"""

from __future__ import annotations

import hashlib

from airflow_provider_jobstatus.errors import JobStatusError, ListingTooLongError, VendorRequestError

#: pages one listing may have before reading it is an error (connection extra ``max_pages``)
DEFAULT_MAX_PAGES = 1000


class Pager:
    """One listing being read: counts its pages, refuses a repeated token and a page past the cap.

    :param vendor: the vendor's display name, for messages.
    :param subject: what is listed (``"batch"``, ``"workflow"``) and ``listing_id`` its id.
    :param where: the connection, as messages name it.
    :param cap: the most pages read before the listing is an error (the connection's ``max_pages``).
    :param stop_after: the caller's own limit (the batch operator's ``max_pages``): reading stops
        there quietly, a partial listing the caller asked for, and the cap gives way to it.
    """

    def __init__(
        self,
        vendor: str,
        subject: str,
        listing_id: str,
        where: str,
        cap: int,
        stop_after: int | None = None,
    ) -> None:
        self.vendor = vendor
        self.subject = subject
        self.listing_id = listing_id
        self.where = where
        self.cap = cap
        self.stop_after = stop_after
        self.pages = 0
        self._seen: set[bytes] = set()

    def next_token(self, token: str | None, empty: bool) -> str | None:
        """After a page with ``token`` as its next page token: the token to ask for next, or None
        when the listing has ended. No token, an empty token or an empty page ends it (the stop
        rule for undocumented ends); a token seen before is an error, not an endless loop."""
        self.pages += 1
        if not token or empty or self._stopped():
            return None
        key = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        if key in self._seen:
            raise self._error(
                VendorRequestError,
                f"the listing repeated page token {token[:64]!r} after {self.pages} pages; "
                f"stopping to avoid a loop ({self.where})",
            )
        self._seen.add(key)
        self.check_room()
        return token

    def another(self, full: bool) -> bool:
        """After a page of an offset-paged listing: whether to read the next one (the last page
        read was ``full``); a listing past the cap is an error."""
        self.pages += 1
        if not full or self._stopped():
            return False
        self.check_room()
        return True

    def check_room(self) -> None:
        if self.stop_after is None and self.pages >= self.cap:
            raise self._error(
                ListingTooLongError,
                f"the listing goes on past {self.cap} pages (each announcing another); stopped "
                f"reading it ({self.where}). If it really is that long, raise the connection extra "
                f'"max_pages" (default {DEFAULT_MAX_PAGES})',
            )

    def _error(self, kind: type[JobStatusError], detail: str) -> JobStatusError:
        exc = kind(self.vendor, self.listing_id, detail)
        exc.subject = self.subject
        exc.args = (str(exc),)
        return exc

    def _stopped(self) -> bool:
        return self.stop_after is not None and self.pages >= self.stop_after
