"""`python -m services.marketplace_simulator`: the marketplace simulator as its own process (the
make targets, the distributed stack). Stops on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import UTC, datetime

from services.chassis.settings import SettingError
from services.marketplace_simulator.samples import demo_orders, demo_shops
from services.marketplace_simulator.server import start_in_thread
from services.marketplace_simulator.store import Shop


def shops_for(tenant_ids: str) -> list[Shop]:
    """The tenants' own shops with development credentials (dev.py), or the demo shops."""
    ids = tuple(t.strip() for t in tenant_ids.split(",") if t.strip())
    if not ids:
        return demo_shops()
    from services.chassis.tenants import load_tenants  # only here: the demo needs no tenant files
    from services.marketplace_simulator.dev import tenant_shops

    return tenant_shops(load_tenants(ids).values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.marketplace_simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="HTTP port (0: any free one; default 8090)")
    parser.add_argument(
        "--seed",
        action="store_true",
        help="register the demo shops and load a few demo orders of each platform",
    )
    parser.add_argument(
        "--tenants", default="", help="tenant ids whose shops to register (default: the demo shops)"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        shops = shops_for(args.tenants)
    except SettingError as exc:  # a missing or broken tenant file
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        sys.exit(2)
    try:
        handle = start_in_thread(args.port, host=args.host, shops=shops)
    except OSError as exc:
        print(f"{parser.prog}: cannot start: {exc}", file=sys.stderr)
        sys.exit(2)
    if args.seed:  # the demo orders in every shop registered
        for shop in shops:
            for platform, shop_key, record in demo_orders({shop.platform: shop.shop}, datetime.now(UTC)):
                handle.put_order(platform, shop_key, record)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # the URL on its own line first, for a parent that started it with --port 0
    print(f"Marketplace simulator listening on {handle.url}", flush=True)
    for shop in shops:
        print(f"  {shop.platform} shop {shop.shop}: {handle.endpoint(shop.platform)} app_key {shop.app_key}")
    stop.wait()
    handle.stop()


if __name__ == "__main__":
    main()
