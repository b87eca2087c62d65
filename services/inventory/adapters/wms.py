"""The plant's WMS over HTTP (the contract: docs/wms-adapter.md), as the `Wms` port.

A slow or absent WMS never holds a caller: each call gets min(our timeout, what is left of the
caller's gRPC deadline), and a circuit breaker (pybreaker, one per adapter) answers at once for a
while after repeated failures instead of letting every approval wait out its timeout. Whatever
goes wrong in reaching the WMS is a `WmsUnavailable` (UNAVAILABLE) saying what to retry; what the
WMS refuses is InvalidArgument / NotFound / FailedPrecondition with its message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import httpx
import pybreaker
from prometheus_client import Gauge, Histogram

from services.chassis import deadlines
from services.chassis.errors import FailedPrecondition, Internal, InvalidArgument, NotFound
from services.chassis.settings import MissingSetting, Settings
from services.chassis.tenants import Tenant
from services.inventory.service_layer.plant import warehouse_of
from services.inventory.service_layer.ports import (
    Wms,
    WmsLine,
    WmsReservation,
    WmsStock,
    WmsUnavailable,
)

log = logging.getLogger(__name__)
# httpx logs every request at INFO: one line per WMS call drowns the service's log. Failures are
# logged here and every call is counted in oms_wms_request_seconds.
logging.getLogger("httpx").setLevel(logging.WARNING)

WMS_LATENCY = Histogram(
    "oms_wms_request_seconds",
    "Calls to the plant's WMS by operation and outcome "
    "(ok, rejected = 4xx, error = 5xx, timeout, unreachable, open = not sent, breaker open)",
    ["operation", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
BREAKER_STATE = Gauge(
    "oms_wms_breaker_state", "Circuit breaker to the WMS: 0 closed, 1 half-open, 2 open", ["wms"]
)
STATE_VALUE = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_HALF_OPEN: 1, pybreaker.STATE_OPEN: 2}

# Left of the caller's deadline for answering it: a call cut to the deadline gives up this much
# earlier, so the caller hears our UNAVAILABLE rather than its own DEADLINE_EXCEEDED.
DEADLINE_MARGIN_S = 0.05
# Characters of one stock query's URL query: proxies in front of a WMS refuse URLs past ~8 KB
# (and httpx past 64 KB), while 200 material names of 128 Chinese characters encode to ~230 KB.
MAX_QUERY = 6000
DOWN = "仓储系统暂不可用 WMS unavailable"
REFUSED = "仓储系统拒绝 WMS refused"


class _Failure(Exception):
    """The WMS failed this call (counted by the breaker)."""

    def __init__(self, outcome: str, detail: str, maybe_applied: bool):
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.maybe_applied = maybe_applied


class _CallerDeadline(_Failure):
    """No answer within what was left of the caller's deadline, shorter than our own timeout:
    that says little about the WMS, so the breaker does not count it."""


def new_breaker(fail_max: int = 5, reset_timeout_s: float = 10.0) -> pybreaker.CircuitBreaker:
    # throw_new_error_on_trip=False: the call that opens the breaker reports its own cause
    return pybreaker.CircuitBreaker(
        fail_max=fail_max, reset_timeout=reset_timeout_s, throw_new_error_on_trip=False, name="wms"
    )


class _BreakerGauge(pybreaker.CircuitBreakerListener):
    def __init__(self, label: str):
        self.label = label

    def state_change(self, cb, old_state, new_state) -> None:
        BREAKER_STATE.labels(self.label).set(STATE_VALUE.get(new_state.name, 2))
        level = logging.INFO if new_state.name == pybreaker.STATE_CLOSED else logging.WARNING
        log.log(level, "WMS %s: circuit breaker %s", self.label, new_state.name)


class HttpWms(Wms):
    def __init__(
        self,
        base_url: str,
        timeout_s: float = 2.0,
        breaker: pybreaker.CircuitBreaker | None = None,
        *,
        token: str = "",
        transport: httpx.BaseTransport | None = None,
    ):
        split = urlsplit(base_url)
        if split.scheme not in ("http", "https") or not split.netloc:
            raise ValueError(f"the WMS URL must be http(s)://host[:port][/path], not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        # host:port names the WMS in metrics and logs (never user:password@ from the URL)
        self.label = f"{split.hostname}:{split.port}" if split.port else str(split.hostname)
        self.breaker = breaker or new_breaker()
        self.breaker.add_excluded_exception(_CallerDeadline)
        self.breaker.add_listener(_BreakerGauge(self.label))
        BREAKER_STATE.labels(self.label).set(STATE_VALUE.get(self.breaker.current_state, 2))
        headers = {"Accept": "application/json", "User-Agent": "zhongshu-oms-inventory"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    @property
    def breaker_state(self) -> str:
        return str(self.breaker.current_state)

    # -- the port ---------------------------------------------------------------------------

    def stock(self, warehouse: str, materials: Iterable[str]) -> dict[str, WmsStock]:
        wanted = list(dict.fromkeys(materials))
        items: list[Any] = []
        for names in _by_query_length(wanted):
            body = self._call(
                "stock",
                "GET",
                f"{_wh(warehouse)}/stock",
                what=f"read stock of warehouse {warehouse}",
                params={"material": names},
            )
            items.extend(_items(body))
        out = {}
        for item in items:
            try:
                stock = WmsStock(
                    str(item["material"]),
                    str(item["unit"]),
                    float(item["on_hand"]),
                    str(item.get("location") or ""),
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise _not_understood(f"a stock item lacks or garbles {exc}") from None
            if stock.material in wanted:
                out[stock.material] = stock
        return out

    def put_reservation(
        self, warehouse: str, reservation_id: str, order_no: str, lines: Sequence[WmsLine], hard_lock: bool
    ) -> None:
        self._call(
            "put_reservation",
            "PUT",
            f"{_wh(warehouse)}/reservations/{quote(reservation_id, safe='')}",
            what=f"reserve materials ({reservation_id}, order {order_no})",
            body={
                "order_no": order_no,
                "hard_lock": hard_lock,
                "lines": [{"material": x.material, "unit": x.unit, "quantity": x.quantity} for x in lines],
            },
        )

    def release(self, warehouse: str, reservation_id: str) -> None:
        self._call(
            "release",
            "DELETE",
            f"{_wh(warehouse)}/reservations/{quote(reservation_id, safe='')}",
            what=f"release reservation {reservation_id}",
        )

    def issue(self, warehouse: str, reservation_id: str) -> None:
        self._call(
            "issue",
            "POST",
            f"{_wh(warehouse)}/reservations/{quote(reservation_id, safe='')}/issue",
            what=f"issue reservation {reservation_id} to the shop floor",
        )

    def reservation(self, warehouse: str, reservation_id: str) -> WmsReservation | None:
        try:
            body = self._call(
                "reservation",
                "GET",
                f"{_wh(warehouse)}/reservations/{quote(reservation_id, safe='')}",
                what=f"read reservation {reservation_id}",
            )
        except NotFound:
            return None
        return _reservation(body)

    def reservations(self, warehouse: str, state: str = "") -> list[WmsReservation]:
        body = self._call(
            "reservations",
            "GET",
            f"{_wh(warehouse)}/reservations",
            what=f"list reservations of warehouse {warehouse}",
            params={"state": [state]} if state else None,
        )
        return [_reservation(item) for item in _items(body)]

    def seed_stock(self, warehouse: str, stocks: Iterable[WmsStock]) -> None:
        for s in stocks:
            self._call(
                "seed_stock",
                "PUT",
                f"{_wh(warehouse)}/stock/{quote(s.material, safe='')}",
                what=f"set stock of {s.material}",
                body={"unit": s.unit, "on_hand": s.on_hand, "location": s.location},
            )

    # -- one call ---------------------------------------------------------------------------

    def _budget(self, operation: str, what: str) -> tuple[float, bool]:
        """Seconds this call may take, and whether the caller's deadline (not our timeout) set it."""
        left = deadlines.remaining()
        if left is None or left - DEADLINE_MARGIN_S >= self.timeout_s:
            return self.timeout_s, False
        left -= DEADLINE_MARGIN_S
        if left <= 0:
            WMS_LATENCY.labels(operation, "timeout").observe(0)
            raise WmsUnavailable(
                f"{DOWN} (no time left of the caller's deadline to {what}); nothing was sent, retry"
            )
        return left, True

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, list[str]] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        budget, cut = self._budget(operation, what)
        write = method != "GET"
        started = time.monotonic()
        failure: _Failure | None = None
        response: httpx.Response | None = None
        outcome = "ok"
        try:
            # `calling()` rather than `call()`: pybreaker's call() holds the breaker's lock while the
            # function runs, which would put every WMS request of the process in one queue.
            with self.breaker.calling():
                try:
                    response = self._client.request(method, path, params=params, json=body, timeout=budget)
                except httpx.TimeoutException as exc:
                    sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
                    kind = _CallerDeadline if cut else _Failure
                    whose = "what was left of the caller's deadline" if cut else "OMS_WMS_TIMEOUT_S"
                    failure = kind("timeout", f"no answer within {budget:.2f} s, {whose}", write and sent)
                except httpx.ConnectError as exc:
                    failure = _Failure("unreachable", f"cannot connect: {_reason(exc)}", False)
                except httpx.TransportError as exc:
                    failure = _Failure("unreachable", f"connection failed: {_reason(exc)}", write)
                else:
                    status = response.status_code
                    if status >= 500 or status == 429:
                        # 503 and 429 mean nothing was applied (the contract); another 5xx may be half done
                        failure = _Failure(
                            "error",
                            f"HTTP {status}: {_message(response)}",
                            write and status not in (503, 429),
                        )
                if failure is not None:
                    raise failure
        except pybreaker.CircuitBreakerError:
            if failure is None:  # not sent at all
                outcome = "open"
                raise WmsUnavailable(
                    f"{DOWN} (circuit breaker open: {self.label} failed repeatedly, calls are held back "
                    f"for up to {self.breaker.reset_timeout:g} s) — could not {what}; nothing was sent, "
                    "retry later"
                ) from None
        except _Failure:
            pass
        finally:
            if failure is not None:
                outcome = failure.outcome
            elif response is not None and response.status_code >= 400:
                outcome = "rejected"
            WMS_LATENCY.labels(operation, outcome).observe(time.monotonic() - started)
        if failure is not None:
            log.warning("WMS %s: %s %s failed (%s): %s", self.label, method, path, operation, failure.detail)
            if failure.maybe_applied:
                advice = "it may or may not have been applied: repeating the request is safe, retry"
            else:
                advice = "nothing was changed, retry" if write else "retry"
            raise WmsUnavailable(
                f"{DOWN} ({self.base_url}: {failure.detail}) — could not {what}; {advice}",
                maybe_applied=failure.maybe_applied,
            )
        assert response is not None
        if response.status_code >= 400:
            raise _refusal(response, what)
        try:
            return response.json()
        except ValueError:
            raise _not_understood(f"the answer to {what} is not JSON") from None


class UnconfiguredWms(Wms):
    """No WMS configured (OMS_WMS_URL empty, a lone inventory process in dev): every call says so."""

    def _fail(self, *_args: Any, **_kwargs: Any) -> Any:
        raise WmsUnavailable(
            "仓储系统未配置 no WMS configured: set OMS_WMS_URL to the plant's WMS (docs/wms-adapter.md), "
            "or start `python -m services.wms_simulator` and point OMS_WMS_URL at it"
        )

    stock = put_reservation = release = issue = reservation = reservations = seed_stock = _fail


def build_wms(settings: Settings) -> Wms:
    """The WMS adapter from settings (OMS_WMS_URL, OMS_WMS_TIMEOUT_S, OMS_WMS_BREAKER_*)."""
    if not settings.wms_url:
        if settings.production:
            raise MissingSetting(
                "OMS_WMS_URL is required (OMS_ENV=production has no defaults for it): the plant's WMS "
                "the inventory service reserves materials in (docs/wms-adapter.md)"
            )
        return UnconfiguredWms()
    try:
        return HttpWms(
            settings.wms_url,
            settings.wms_timeout_s,
            new_breaker(settings.wms_breaker_failures, settings.wms_breaker_reset_s),
            token=settings.wms_token,
        )
    except ValueError as exc:
        from services.chassis.settings import InvalidSetting

        raise InvalidSetting(f"OMS_WMS_URL: {exc}") from None


def seed_demo_materials(wms: Wms, tenant: Tenant) -> None:
    """The tenant's [[demo.materials]] into its warehouse, only if the WMS knows none of them yet
    (a restart, or a second line sharing the warehouse, must not reset counted stock)."""
    materials = tenant.demo.materials
    if not materials:
        return
    warehouse = warehouse_of(tenant.tenant_id, tenant)
    if wms.stock(warehouse, [m.material for m in materials]):
        return
    wms.seed_stock(warehouse, [WmsStock(m.material, m.unit, float(m.on_hand), m.location) for m in materials])
    log.info("WMS warehouse %s: %d demo materials seeded", warehouse, len(materials))


def _wh(warehouse: str) -> str:
    return f"/v1/warehouses/{quote(warehouse, safe='')}"


def _not_understood(what: str) -> Internal:
    """The WMS answered, but not as docs/wms-adapter.md says: no retry helps."""
    return Internal(f"仓储系统应答无法识别 WMS answer not understood: {what} (docs/wms-adapter.md)")


def _by_query_length(names: list[str]) -> Iterator[list[str]]:
    """The names in order, in as few stock queries as keep each URL query under MAX_QUERY (one
    name, at most 128 characters, always fits)."""
    chunk: list[str] = []
    size = 0
    for name in names:
        cost = len("&material=") + len(quote_plus(name))
        if chunk and size + cost > MAX_QUERY:
            yield chunk
            chunk, size = [], 0
        chunk.append(name)
        size += cost
    if chunk:
        yield chunk


def _items(body: Any) -> list[dict[str, Any]]:
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise _not_understood("no items list")
    return items


def _reservation(body: Any) -> WmsReservation:
    try:
        return WmsReservation(
            reservation_id=str(body["id"]),
            order_no=str(body.get("order_no", "")),
            hard_lock=bool(body.get("hard_lock", False)),
            state=str(body["state"]),
            lines=tuple(
                WmsLine(str(x["material"]), str(x["unit"]), float(x["quantity"])) for x in body["lines"]
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _not_understood(f"a reservation lacks or garbles {exc}") from None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return "connection refused" if "refused" in text.lower() else text


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:500]
    return response.reason_phrase


def _refusal(response: httpx.Response, what: str) -> Exception:
    status, message = response.status_code, _message(response)
    text = f"{REFUSED} ({what}): {message}"
    if status == 404:
        return NotFound(text)
    if status == 409:
        return FailedPrecondition(text)
    if status in (400, 413, 422):
        return InvalidArgument(text)
    if status in (401, 403):
        return Internal(f"{REFUSED}: HTTP {status} to {what} — check OMS_WMS_TOKEN ({message})")
    return Internal(f"{REFUSED}: HTTP {status} to {what} ({message}); see docs/wms-adapter.md")
