"""`python -m services.wms_simulator`: the WMS simulator as its own process (the distributed
stack, the dev Kubernetes overlay). Stops on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from services.wms_simulator.server import start_in_thread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.wms_simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="HTTP port (0: any free one; default 8080)")
    parser.add_argument("--db", default="var/wms.db", help="SQLite file of its stock (:memory: for none)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 503 (0..1)")
    parser.add_argument("--down", action="store_true", help="answer 503 to everything")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.db != ":memory:":
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = start_in_thread(
            args.port,
            args.db,
            host=args.host,
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            down=args.down,
        )
    except (ValueError, OSError) as exc:
        print(f"{parser.prog}: cannot start: {exc}", file=sys.stderr)
        sys.exit(2)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # the chosen port on its own line first, for a parent that started it with --port 0
    print(f"WMS simulator listening on {handle.url} (db {args.db})", flush=True)
    stop.wait()
    handle.stop()


if __name__ == "__main__":
    main()
