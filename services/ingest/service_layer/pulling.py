"""Pulling a tenant's marketplace shops on their schedules, with a stored checkpoint per shop.

A pull of a shop covers [checkpoint - overlap, now - settle), in windows no longer than the
platform allows. The checkpoint moves to a window's end only once every record of that window is
stored, so a restart mid-pull takes the unfinished window again (no gap) and the records it
already stored come back as no-ops (no duplicate). The overlap takes again what the platform
indexed late. A shop that fails (rate limit, error answer, unreachable) backs off on its own:
failures double its wait up to an hour, a platform's retry-after is honoured, and the tenant's
other shops are pulled as usual.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from services.chassis.errors import DomainError, FailedPrecondition, NotFound, Unavailable
from services.chassis.tenant_config import Shop
from services.ingest.adapters import metrics
from services.ingest.adapters.market_store import STORE_REFUSED
from services.ingest.adapters.marketplaces import MarketplaceClient, PlatformRefused, PullError, RateLimited
from services.ingest.domain.marketplace import MarketOrder, Unreadable
from services.ingest.domain.report import RunCounts
from services.ingest.service_layer import market_intake
from services.ingest.service_layer.desk import Clock, TenantDesk, utc_now
from services.ingest.service_layer.market_intake import UowFactory
from services.ingest.service_layer.ports import CustomerBook, OrderDesk

log = logging.getLogger(__name__)
FIRST_LOOKBACK = timedelta(days=1)  # a new shop's first pull reaches this far back
SETTLE = timedelta(seconds=5)  # the platform's last seconds may still be indexed
LEASE = timedelta(minutes=10)  # a replica that dies mid-pull frees the shop after this
MAX_BACKOFF_S = 3600.0


class Marketplaces(Protocol):
    def client(self, shop_key: str, shop: Shop) -> MarketplaceClient: ...


@dataclass(frozen=True)
class PullResult:
    shop: str
    run_id: str
    counts: RunCounts
    error: str = ""


@dataclass
class Puller:
    uow: UowFactory
    orders: OrderDesk
    customers: CustomerBook
    marketplaces: Marketplaces
    clock: Clock = utc_now

    def pull_due(self, tenant) -> list[PullResult]:
        """Every enabled shop of the tenant whose next pull is due (the scheduled job)."""
        desk = TenantDesk(tenant, self.customers)
        results = []
        for key, shop in tenant.shops.items():
            if not shop.enabled:
                continue
            try:
                result = self.pull(tenant, key, desk=desk)
            except FailedPrecondition:
                continue  # not due, or another replica is pulling it
            except Exception:  # one shop's surprise never stops the others
                log.exception("ingest: pulling shop %s failed", key)
                continue
            results.append(result)
        return results

    def pull(self, tenant, key: str, *, desk: TenantDesk | None = None, force: bool = False) -> PullResult:
        shop = tenant.shops.get(key)
        if shop is None:
            raise NotFound(f"shop {key!r} is not in the tenant file's [shops]")
        if not shop.enabled:
            raise FailedPrecondition(f"shop {key} is disabled in the tenant file (enabled = false)")
        desk = desk or TenantDesk(tenant, self.customers)
        now = self.clock()
        with self.uow() as tx:
            lease = tx.market.claim_shop(key, shop.platform, now, LEASE, force=force)
            checkpoint = tx.market.checkpoint(key)
            tx.commit()
        if lease is None or checkpoint is None:
            raise FailedPrecondition(
                f"shop {key} is being pulled right now" if force else f"shop {key} is not due"
            )
        start = (checkpoint.pulled_until or now - FIRST_LOOKBACK) - timedelta(seconds=shop.overlap_s)
        end = now - SETTLE
        day = now.astimezone(tenant.line.tz).date()
        with self.uow() as tx:
            run_id = tx.runs.start("marketplace", key, day, now, window_start=start, window_end=end)
            tx.commit()
        pull = _Pull(key, shop, desk, run_id, lease)
        error, retry_after, result = "", None, "failed"
        try:
            client = self.marketplaces.client(key, shop)
            self._pull_windows(client, pull, start, end)
            result = "ok"
        except PullError as exc:
            error, retry_after = _describe(exc), exc.retry_after_s
            result = {RateLimited: "rate_limited", PlatformRefused: "refused"}.get(type(exc), "unreachable")
            log.warning("ingest: shop %s: %s", key, error)
        except LeaseLost as exc:
            error = str(exc)
            log.warning("ingest: %s", exc)
        except (Unavailable, DomainError) as exc:  # the order or customer service said no for now
            error = f"服务暂不可用 a service is unavailable: {exc}"[:300]
            log.warning("ingest: shop %s: %s", key, error)
        except Exception as exc:  # a surprise still counts as a failed pull: backed off, shown
            error = f"内部错误 unexpected error: {type(exc).__name__}: {exc}"[:300]
            log.exception("ingest: shop %s: pull failed", key)
        finally:
            finished = self.clock()
            metrics.PULLS.labels(tenant.tenant_id, key, shop.platform, result).observe(
                (finished - now).total_seconds()
            )
            metrics.count(tenant.tenant_id, "marketplace", pull.counts)
            wait = shop.pull_every_s
            if error:
                failures = checkpoint.failures + 1
                wait = max(retry_after or 0.0, min(shop.pull_every_s * 2**failures, MAX_BACKOFF_S))
            with self.uow() as tx:
                tx.market.finish_pull(key, pull.lease, finished, finished + timedelta(seconds=wait), error)
                tx.runs.add(run_id, RunCounts(), finished_at=finished, error=error[:300])
                tx.commit()
        return PullResult(key, run_id, pull.counts, error)

    def _pull_windows(self, client: MarketplaceClient, pull: _Pull, start: datetime, end: datetime) -> None:
        """Window by window; the pull's counts hold what was done even when a window stops half
        way. Each finished window moves the checkpoint and renews the lease: a pull that lost its
        lease (it ran past it and another replica took the shop) stops there."""
        while start < end:
            window_end = min(start + client.max_window, end)
            for record in client.changed_orders(start, window_end):
                pull.counts.add(self._take(record, pull))
            renewed = self.clock() + LEASE
            with self.uow() as tx:
                if not tx.market.advance(pull.key, window_end, pull.lease, renewed):
                    raise LeaseLost(f"shop {pull.key}: another replica took the pull over; this one stops")
                tx.commit()
            pull.lease = renewed
            start = window_end

    def _take(self, record: MarketOrder | Unreadable, pull: _Pull) -> RunCounts:
        now = self.clock()
        try:
            return market_intake.take(record, pull.shop, pull.desk, self.uow, self.orders, now, pull.run_id)
        except STORE_REFUSED as exc:
            if isinstance(record, Unreadable):
                raise
            # A record that cannot be stored as read (text a database refuses): to review, whole,
            # instead of stopping the shop on it for good.
            why = f"cannot be stored: {type(exc).__name__}: {str(exc)[:120]}"
            unreadable = Unreadable(record.platform, record.shop, record.platform_order_id, why, record.raw)
            return market_intake.take(
                unreadable, pull.shop, pull.desk, self.uow, self.orders, now, pull.run_id
            )


class LeaseLost(Exception):
    """The pull ran past its lease and another replica took the shop over."""


@dataclass
class _Pull:
    key: str
    shop: Shop
    desk: TenantDesk
    run_id: str
    lease: datetime
    counts: RunCounts = field(default_factory=RunCounts)


def _describe(exc: PullError) -> str:
    kind = "限流 rate limited" if isinstance(exc, RateLimited) else type(exc).__name__
    code = f" [{exc.code}]" if exc.code else ""
    return f"{kind}{code}: {exc}"[:300]
