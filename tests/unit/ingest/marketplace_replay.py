"""Replaying recorded platform pages (tests/fixtures/marketplaces/<platform>/) to an adapter over
httpx.MockTransport, and remembering what the adapter sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

import httpx

from services.ingest.adapters.marketplaces import ShopAccess

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "marketplaces"
# 2026-11-25 14:00-14:30 Beijing time, the window the recorded pages answer
START = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
END = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
CLOCK = datetime(2026, 11, 25, 6, 31, 7, tzinfo=UTC)


def fixture(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / name).read_bytes()


def access(platform: str, endpoint: str = "", timeout_s: float = 5.0) -> ShopAccess:
    return ShopAccess(
        platform=platform,
        shop=f"{platform}-shop",
        endpoint=endpoint or f"https://gateway.test/{platform}",
        app_key=f"{platform}-key",
        app_secret=f"{platform}-secret",
        access_token=f"{platform}-token",
        timeout_s=timeout_s,
    )


@dataclass
class Replay:
    """`route(params)` says which fixture (or an httpx.Response) answers a request."""

    platform: str
    route: Callable[[dict[str, str]], str | httpx.Response]
    sent: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.url.query.decode()))
        params.update(parse_qsl(request.content.decode(), keep_blank_values=True))
        self.sent.append(params)
        answer = self.route(params)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, content=fixture(self.platform, answer))

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def jd_page(params: dict[str, str]) -> int:
    return int(json.loads(params["360buy_param_json"])["page"])
