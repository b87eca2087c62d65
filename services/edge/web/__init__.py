"""The edge's web pages: plain HTML and a little JavaScript, every file served by the edge itself
(no CDN, no build step), the data fetched from the same HTTP/JSON API with the session cookies
(services/edge/session.py).

    /           sign-in (登录), then to the portal (a customer's account) or the board (staff)
    /portal     客户门户 a customer's own orders: state, stage, due date, batches; prices if the
                tier may see them
    /board      生产看板 the big screen: work orders by stage, at-risk and overdue highlighted, live
    /sales      销售下单 the sales form for a phone: works offline, sends when back online, once
    /desk       接单台 the order desk: orders, one whole (versions, diffs, audit), approval, change
                requests with their impact, the review queue
    /sw.js      its service worker (the form's files, cached for offline use)
    /static/…   the pages' scripts and style

Every page answers with a Content-Security-Policy that admits only this origin's scripts (no
inline script, no eval), is never framed by another site, and sends no referrer.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

HERE = Path(__file__).parent
PAGES = {
    "/": "signin.html",
    "/portal": "portal.html",
    "/board": "board.html",
    "/sales": "sales.html",
    "/desk": "desk.html",
}
TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
}
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class Pages:
    """The files, read once at start (a page never reads the disk per request)."""

    def __init__(self, tenants: list[dict[str, str]]):
        self.files: dict[str, tuple[bytes, bytes]] = {}
        for path, name in PAGES.items():
            self.files[path] = ((HERE / name).read_bytes(), TYPES[".html"])
        for file in sorted((HERE / "static").iterdir()):
            if file.suffix in TYPES:
                self.files[f"/static/{file.name}"] = (file.read_bytes(), TYPES[file.suffix])
        # a service worker controls the pages under its own path: the form's is served from the root
        self.files["/sw.js"] = self.files.pop("/static/sw.js")
        # the business lines this release serves, for the sign-in page's choice
        self.files["/auth/tenants"] = (json.dumps(tenants, ensure_ascii=False).encode(), b"application/json")

    def serves(self, path: str) -> bool:
        return path in self.files

    async def send(self, path: str, head_only: bool, send: Send) -> None:
        body, content_type = self.files[path]
        fresh = path in PAGES or path.startswith("/auth/") or path == "/sw.js"  # asked again each time
        cache = b"no-cache" if fresh else b"max-age=300"
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", cache),
            *SECURITY_HEADERS,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head_only else body})


def tenant_choices(tenant_ids: tuple[str, ...]) -> list[dict[str, str]]:
    """{"id", "name"} of each business line served, named from its tenant file."""
    from services.chassis.tenants import load_tenants

    return [
        {"id": t.tenant_id, "name": f"{t.name_zh} {t.name_en}".strip()}
        for t in load_tenants(tenant_ids).values()
    ]
