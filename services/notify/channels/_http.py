"""What the HTTP channels share: one POST with a timeout, and the HTTP side of the answer.

No URL or secret ever reaches a detail text (it goes into the delivery log): a WeCom or DingTalk
webhook URL carries the robot's key in its query, so every value of the query is redacted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from services.notify.channels.base import DeliveryResult

MAX_DETAIL = 300  # characters of a platform's answer kept in the log


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    json: Mapping[str, Any] | None
    retry_after_s: float | None


class HttpChannel:
    """The plumbing of a channel that POSTs JSON: its own httpx client (no shared global one),
    a clock for signatures, and `close`."""

    def __init__(
        self,
        name: str,
        url: str,
        timeout_s: float,
        secrets: Iterable[str | None] = (),
        client: httpx.Client | None = None,
        now: Callable[[], float] = time.time,
    ):
        self._name = name
        self._url = url
        self._timeout_s = timeout_s
        self._secrets = [s for s in (*secrets, *url_secrets(url)) if s]
        # Redirects are not followed: a webhook that answers 3xx is misconfigured, and following it
        # would hand the signed request to another host.
        self._client = client or httpx.Client(follow_redirects=False)
        self._now = now

    @property
    def name(self) -> str:
        return self._name

    def close(self) -> None:
        self._client.close()

    def _post(
        self, url: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> Answer | DeliveryResult:
        try:
            response = self._client.post(
                url,
                content=body,
                headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
                timeout=self._timeout_s,
            )
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return DeliveryResult("rejected", self._redact(f"bad webhook URL: {exc}"))
        except httpx.ConnectTimeout:
            return DeliveryResult("failed", "timeout connecting (not sent)")
        except httpx.TimeoutException as exc:
            # The request may have arrived: a retry can then show the message twice (see the doc).
            return DeliveryResult("failed", f"timeout ({type(exc).__name__}); the endpoint may have it")
        except httpx.HTTPError as exc:
            return DeliveryResult("failed", self._redact(f"unreachable: {type(exc).__name__}: {exc}"))
        return Answer(
            status=response.status_code,
            text=response.text[:MAX_DETAIL],
            json=_json_object(response.content),
            retry_after_s=retry_after(response.headers.get("Retry-After"), self._now()),
        )

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text[:MAX_DETAIL]


def http_outcome(answer: Answer) -> DeliveryResult | None:
    """The outcome the HTTP status alone decides, or None for a 2xx (the body decides)."""
    status = answer.status
    if 200 <= status < 300:
        return None
    detail = f"HTTP {status}: {answer.text}"[:MAX_DETAIL]
    if status in (408, 425, 429) or status >= 500:
        return DeliveryResult("failed", detail, status=status, retry_after_s=answer.retry_after_s)
    return DeliveryResult("rejected", detail, status=status)


def url_secrets(url: str) -> list[str]:
    """Every query value of `url` (a robot's key / access_token)."""
    return [value for _, value in parse_qsl(urlsplit(url).query) if value]


def retry_after(header: str | None, now: float) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from `now`."""
    if not header:
        return None
    try:
        return max(float(header), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(header).timestamp() - now, 0.0)
    except (TypeError, ValueError):
        return None


def dumps(body: Mapping[str, Any]) -> bytes:
    """Compact JSON in UTF-8: Chinese as itself (a third of the bytes of \\u escapes, which
    matters under the platforms' byte limits)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _json_object(content: bytes) -> Mapping[str, Any] | None:
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def robot_outcome(
    answer: Answer,
    code: int | None,
    message: str,
    *,
    rate_limited: Mapping[int, float],
    transient: Iterable[int] = (),
) -> DeliveryResult:
    """The outcome of a group robot's answer: its own code first (the robots answer HTTP 200 for
    most refusals), then the HTTP status. `rate_limited` maps a code to the wait we assume when
    the platform names none (the robots send no Retry-After)."""
    detail = f"{code}: {message}"[:MAX_DETAIL] if code is not None else ""
    if code == 0 and 200 <= answer.status < 300:
        return DeliveryResult("sent", detail or "ok", status=answer.status, code=code)
    if code is not None and code in rate_limited:
        wait = answer.retry_after_s if answer.retry_after_s is not None else rate_limited[code]
        return DeliveryResult("failed", f"rate limited {detail}", answer.status, code, wait)
    if code is not None and code in set(transient):
        return DeliveryResult("failed", detail, status=answer.status, code=code)
    if code is not None and code != 0:
        # A wrong key or signature, a missing keyword, a malformed body: the same again is refused.
        return DeliveryResult("rejected", detail, status=answer.status, code=code)
    decided = http_outcome(answer)
    if decided is not None:
        return decided
    # 2xx without the platform's answer: a proxy or captive portal, not the platform.
    return DeliveryResult("failed", f"unexpected answer: {answer.text}"[:MAX_DETAIL], status=answer.status)
