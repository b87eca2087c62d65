"""Marketplace adapters: one per platform, each speaking that platform's own open-platform API
(its method names, parameters, signing, envelopes, paging and error codes) and handing over
`MarketOrder`s (services/ingest/domain/marketplace.py).

The pull job (services/ingest/service_layer/pulling.py) asks an adapter for the orders modified
in a time window; the adapter pages through the platform's increment list, fetches details where
the list is not enough, and raises one of the errors below when the platform says no. Where it
points (the platform, our simulator, a replay server) is the shop's `endpoint`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.ingest.domain.marketplace import MarketOrder, Unreadable


class PullError(Exception):
    """The platform did not answer usefully; the pull of this shop backs off and retries."""

    def __init__(self, message: str, retry_after_s: float | None = None, code: str = ""):
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.code = code  # the platform's own error code, for the log and the shop's status


class RateLimited(PullError):
    """The platform's flow control (JD 'isv.api-call-limited', PDD 'API调用频率超限', Taobao
    error 7 / isv.*-limited)."""


class PlatformRefused(PullError):
    """An error envelope that will not pass by itself (bad credentials, bad parameters): the
    shop's status says so; retries are spaced out."""


class Unreachable(PullError):
    """No answer, a timeout, a 5xx or a body that is not the platform's envelope."""


@dataclass(frozen=True)
class ShopAccess:
    platform: str  # jd | pdd | tmall
    shop: str  # the shop's key in the tenant file
    endpoint: str  # base URL of the platform's gateway (or the simulator)
    app_key: str
    app_secret: str
    access_token: str  # the seller's session / access token
    timeout_s: float = 10.0


class MarketplaceClient(Protocol):
    platform: str
    # The longest window one increment query may span (the platforms cap it).
    max_window: timedelta

    def changed_orders(self, start: datetime, end: datetime) -> Iterator[MarketOrder | Unreadable]:
        """Every order whose modification time is in [start, end), page by page (the same order
        may come twice when pages shift: the rules make the repeat a no-op). A record the adapter
        cannot read comes as `Unreadable` with its raw payload: it goes to review, never away.
        Raises a PullError when the platform says no; what was yielded before stays yielded."""
        ...
