"""The tenants' own shops in the simulator, for development and tests: each shop of each tenant
file is registered under "<tenant>.<shop>" with development credentials, and those credentials
are what the shop's `credentials_env` variable holds when nobody set it (never in production: a
real shop names a real gateway and its secret comes from a Kubernetes Secret)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, MutableMapping
from datetime import UTC, datetime

from services.chassis.tenants import Tenant
from services.marketplace_simulator.samples import demo_orders
from services.marketplace_simulator.store import Shop


def dev_credentials(tenant_id: str, shop_key: str) -> tuple[str, str]:
    seed = hashlib.sha256(f"{tenant_id}.{shop_key}".encode()).hexdigest()
    return f"dev-secret-{seed[:16]}", f"dev-token-{seed[16:32]}"


def sim_shop_key(tenant_id: str, shop_key: str) -> str:
    return f"{tenant_id}.{shop_key}"


def tenant_shops(tenants: Iterable[Tenant]) -> list[Shop]:
    out = []
    for tenant in tenants:
        for key, shop in tenant.shops.items():
            secret, token = dev_credentials(tenant.tenant_id, key)
            out.append(Shop(shop.platform, sim_shop_key(tenant.tenant_id, key), shop.app_key, secret, token))
    return out


def export_credentials(tenants: Iterable[Tenant], environ: MutableMapping[str, str]) -> None:
    """Each shop's credentials variable, where it is not set already."""
    for tenant in tenants:
        for key, shop in tenant.shops.items():
            secret, token = dev_credentials(tenant.tenant_id, key)
            environ.setdefault(shop.credentials_env, f"{secret}:{token}")


def seed_demo_orders(handle, tenants: Iterable[Tenant]) -> None:
    """The demo orders (samples.demo_orders: paid, refunded, cancelled, masked, a change request)
    into the first shop of each platform of each tenant, modified in the minutes before now."""
    for tenant in tenants:
        keys: dict[str, str] = {}
        for key, shop in tenant.shops.items():
            keys.setdefault(shop.platform, sim_shop_key(tenant.tenant_id, key))
        for platform, shop_key, record in demo_orders(keys, datetime.now(UTC)):
            handle.put_order(platform, shop_key, record)
