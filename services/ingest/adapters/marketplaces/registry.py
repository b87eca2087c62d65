"""Which adapter pulls a shop, where it points, and with which credentials.

A shop's `endpoint` in the tenant file is the platform gateway's full URL; without one, the shop
is pulled from OMS_MARKETPLACE_URL (the marketplace simulator in development) at the path that
platform's gateway has. The app secret and the seller's token come from the environment variable
the shop names (`credentials_env`, "<secret>:<token>"): never from the tenant file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from services.chassis.settings import Settings
from services.chassis.tenant_config import Shop
from services.ingest.adapters.marketplaces import MarketplaceClient, PlatformRefused, ShopAccess
from services.ingest.adapters.marketplaces.jd import JdClient
from services.ingest.adapters.marketplaces.pdd import PddClient
from services.ingest.adapters.marketplaces.tmall import TmallClient

ADAPTERS = {"jd": JdClient, "pdd": PddClient, "tmall": TmallClient}
# The path of each platform's gateway (api.jd.com/routerjson, gw-api.pinduoduo.com/api/router,
# eco.taobao.com/router/rest), under the simulator's own prefix per platform.
GATEWAY_PATHS = {"jd": "/jd/routerjson", "pdd": "/pdd/api/router", "tmall": "/tmall/router/rest"}


class Marketplaces:
    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None):
        self._base = settings.marketplace_url
        self._timeout = settings.marketplace_timeout_s
        self._environ = os.environ if environ is None else environ
        self._http = httpx.Client(timeout=self._timeout, follow_redirects=False)

    def client(self, shop_key: str, shop: Shop) -> MarketplaceClient:
        credentials = self._environ.get(shop.credentials_env, "")
        secret, _, token = credentials.partition(":")
        if not secret:
            raise PlatformRefused(
                f"{shop.credentials_env} is not set: it holds the shop's '<app secret>:<token>'"
            )
        endpoint = shop.endpoint or (f"{self._base}{GATEWAY_PATHS[shop.platform]}" if self._base else "")
        if not endpoint:
            raise PlatformRefused("no endpoint: set the shop's `endpoint` or OMS_MARKETPLACE_URL")
        access = ShopAccess(shop.platform, shop_key, endpoint, shop.app_key, secret, token, self._timeout)
        return ADAPTERS[shop.platform](access, self._http)

    def close(self) -> None:
        self._http.close()
