"""What the three platform adapters share: the client's skeleton (construction, the pull loop and
the error-envelope check), request signing, one HTTP call that turns transport failures into
PullErrors, a JSON decoder that keeps decimal numbers exact, backward paging and small readers
for record fields.

The platforms' own shapes (method names, envelopes, error codes) stay in jd.py, pdd.py and
tmall.py; docs/marketplaces.md says where each came from.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar

import httpx

from services.ingest.adapters.marketplaces import PullError, RateLimited, ShopAccess, Unreachable
from services.ingest.domain.marketplace import BadRecord, MarketOrder, Unreadable, fen, order_id_text


class ExactFloat(float):
    """A JSON number with a fraction, kept with its text: PDD sends amounts in yuan as JSON numbers
    (59.80), and a float must never decide a fen. `raw` still serialises as a number."""

    text: str

    def __new__(cls, text: str) -> ExactFloat:
        value = super().__new__(cls, text)
        value.text = text
        return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON a platform sends")


def decode_json(body: bytes) -> Any:
    """Strict UTF-8 JSON; integers stay exact Python ints (a Tmall tid above 2^53 included),
    fractions become ExactFloat, NaN/Infinity are refused."""
    return json.loads(body.decode("utf-8"), parse_float=ExactFloat, parse_constant=_no_constant)


def md5_sign(secret: str, params: Mapping[str, str]) -> str:
    """secret + key1value1key2value2... (keys sorted) + secret, MD5, upper-case hex: the scheme of
    JD (routerjson), PDD (api/router) and Taobao TOP with sign_method=md5."""
    joined = "".join(f"{key}{params[key]}" for key in sorted(params))
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest().upper()


def hmac_md5_sign(secret: str, params: Mapping[str, str]) -> str:
    """Taobao TOP with sign_method=hmac: HMAC-MD5 keyed by the secret over the sorted pairs."""
    joined = "".join(f"{key}{params[key]}" for key in sorted(params))
    return hmac.new(secret.encode(), joined.encode(), hashlib.md5).hexdigest().upper()


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


_BAN_SECONDS = re.compile(r"(\d+)\s*(?:more\s+)?seconds", re.IGNORECASE)


def ban_seconds(*texts: object) -> float | None:
    """TOP's flow control says 'This ban will last for 12 more seconds': back off that long."""
    for text in texts:
        found = _BAN_SECONDS.search(str(text or ""))
        if found:
            return float(found.group(1))
    return None


def post(
    http: httpx.Client,
    url: str,
    *,
    timeout_s: float,
    data: Mapping[str, str],
    params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One form POST to a platform gateway, its body decoded. No answer, a timeout, a 5xx or a body
    that is not a JSON object is Unreachable; an HTTP 429 is RateLimited. Error envelopes are the
    caller's to read: they come with HTTP 200 on all three platforms."""
    try:
        response = http.post(url, data=dict(data), params=dict(params or {}), timeout=timeout_s)
    except httpx.TimeoutException as exc:
        raise Unreachable(f"{url}: no answer within {timeout_s:g} s ({type(exc).__name__})") from None
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise Unreachable(f"{url}: {type(exc).__name__}: {exc}") from None
    if response.status_code == 429:
        raise RateLimited(f"{url}: HTTP 429", retry_after(response), code="429")
    if response.status_code >= 500:
        raise Unreachable(f"{url}: HTTP {response.status_code}", retry_after(response))
    try:
        body = decode_json(response.content)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Unreachable(f"{url}: HTTP {response.status_code} with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise Unreachable(f"{url}: HTTP {response.status_code} with JSON that is not an object")
    return body


def envelope(body: Mapping[str, Any], key: str, url: str) -> dict[str, Any]:
    """The success object under `key`, or Unreachable: a body with neither it nor the platform's
    error envelope is not the platform speaking."""
    found = body.get(key)
    if not isinstance(found, dict):
        raise Unreachable(f"{url}: the answer has neither {key!r} nor an error envelope")
    return found


def windows(start: datetime, end: datetime, longest: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut into spans no longer than the platform allows for one query."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the window must be given in aware datetimes")
    while start < end:
        stop = min(end, start + longest)
        yield start, stop
        start = stop


Page = tuple[int, list[Any]]  # (the platform's total count, this page's records)


# Pages one window may have: 2,000 pages of 50 is 100,000 orders changed in a day in one shop.
MAX_PAGES = 2000


def backward_pages(fetch: Callable[[int], Page], page_size: int, url: str) -> Iterator[list[Any]]:
    """Page 1 tells the total; then the pages go from the last one back to the first, as JD, PDD
    and Taobao all advise: an order that changes while we page leaves the window and moves every
    later one a place forward, so reading backwards shows such an order twice, never not at all.
    Page 1 is read again at the end (its first answer may be stale by then) unless it was all."""
    total, first = fetch(1)
    if total < 0:
        raise Unreachable(f"{url}: a negative total count ({total})")
    last = max(1, math.ceil(total / page_size))
    if last > MAX_PAGES:  # a total no shop has in one window: a broken or hostile answer
        raise Unreachable(f"{url}: a total of {total} orders in one window ({last} pages) is not believable")
    if last == 1:
        yield first
        return
    for page in range(last, 0, -1):
        yield fetch(page)[1]


def count(value: Any, what: str, url: str) -> int:
    """A total count: a whole number (or its digits as text, as some gateways send numbers)."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unreachable(f"{url}: {what} {value!r} is not a whole number")
    return value


def records(value: Any, what: str, url: str) -> list[Any]:
    """A page's list (absent means empty, as the platforms leave empty lists out)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unreachable(f"{url}: {what} is not a list")
    return value


# Readers for one record: each raises BadRecord (or KeyError/TypeError, caught the same way).

READ_ERRORS = (BadRecord, KeyError, TypeError, ValueError, AttributeError, IndexError)


def obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRecord(f"{what}: not an object")
    return value


def text(value: Any, what: str) -> str:
    """A text field exactly as received (no trimming: names and addresses go out byte for byte)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadRecord(f"{what}: {value!r} is not text")


def money(value: Any, what: str) -> int:
    """Yuan as a decimal string, an integer or an exact JSON number -> fen, exactly."""
    if isinstance(value, ExactFloat):
        value = value.text
    return fen(value, what)


def quantity(value: Any, what: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadRecord(f"{what}: {value!r} is not a positive whole number")
    return value


def unreadable(platform: str, shop: str, raw: Any, reason: object, id_key: str) -> Unreadable:
    """A record that could not be read, whole, with its id when even that much is readable."""
    record = raw if isinstance(raw, Mapping) else {"record": raw}
    try:
        order_id = order_id_text(record.get(id_key))
    except BadRecord:
        order_id = ""
    return Unreadable(platform, shop, order_id, str(reason) or type(reason).__name__, record)


def utc_now() -> datetime:
    """The clock by default: named, as both the base's and Tmall's own constructor default to it."""
    return datetime.now(UTC)


class PlatformClient:
    """The part of an adapter that does not depend on the platform: where it points, the pull loop
    (window -> pages from the last back -> each record read, or kept as Unreadable) and the
    error_response check all three gateways answer with. A platform's subclass brings its own API
    knowledge: how one page is asked for (`_page`), how a request is signed and sent (`_send`),
    what its error envelope means (`_refused`) and how a record becomes a MarketOrder (`order`)."""

    platform: ClassVar[str]
    max_window: ClassVar[timedelta]  # the longest span one increment query may cover
    default_endpoint: ClassVar[str]  # the platform's own gateway, for a shop without an endpoint
    id_key: ClassVar[str]  # the record's order id, for an Unreadable that still says which order

    def __init__(
        self,
        access: ShopAccess,
        http: httpx.Client,
        *,
        page_size: int = 50,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.access = access
        self.http = http
        self.page_size = page_size
        self.clock = clock
        self.url = access.endpoint or self.default_endpoint

    def changed_orders(self, start: datetime, end: datetime) -> Iterator[MarketOrder | Unreadable]:
        for since, until in windows(start, end, self.max_window):
            for page in backward_pages(partial(self._page, since, until), self.page_size, self.url):
                for raw in page:
                    yield self._read(raw)

    def call(self, method: str, response_key: str, business: Mapping[str, Any]) -> dict[str, Any]:
        """One signed call; its success object under `response_key`. The three gateways all answer
        a refusal with HTTP 200 and an `error_response` object, each with its own fields."""
        body = self._send(method, business)
        error = body.get("error_response")
        if isinstance(error, dict):
            raise self._refused(method, error)
        return envelope(body, response_key, self.url)

    def _post(self, data: Mapping[str, str], params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return post(self.http, self.url, timeout_s=self.access.timeout_s, data=data, params=params)

    def _read(self, raw: Any) -> MarketOrder | Unreadable:
        """One listed record: the order, or the record kept whole for review. Tmall's list holds
        only tids, so it reads each trade in full here instead."""
        try:
            return self.order(raw)
        except READ_ERRORS as exc:
            return self._unreadable(raw, exc)

    def _unreadable(self, raw: Any, reason: object) -> Unreadable:
        return unreadable(self.platform, self.access.shop, raw, reason, self.id_key)

    # --- what each platform supplies ---

    def _page(self, since: datetime, until: datetime, page: int) -> Page:
        """One page of the increment list for [since, until): (the total count, its records)."""
        raise NotImplementedError

    def _send(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        """The request signed the platform's way and posted (see `_post`), its body decoded."""
        raise NotImplementedError

    def _refused(self, method: str, error: Mapping[str, Any]) -> PullError:
        """The platform's error_response as the PullError it means."""
        raise NotImplementedError

    def order(self, raw: Any) -> MarketOrder:
        """One record as a MarketOrder, or READ_ERRORS when it cannot be read."""
        raise NotImplementedError


__all__ = [
    "READ_ERRORS",
    "ExactFloat",
    "PlatformClient",
    "PullError",
    "backward_pages",
    "ban_seconds",
    "count",
    "decode_json",
    "envelope",
    "hmac_md5_sign",
    "md5_sign",
    "money",
    "obj",
    "post",
    "quantity",
    "records",
    "text",
    "unreadable",
    "utc_now",
    "windows",
]
