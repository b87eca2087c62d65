"""`python -m services.edge`: the HTTP/JSON API in front of the services (their addresses from
OMS_<SERVICE>_ADDR), on OMS_HTTP_PORT."""

from __future__ import annotations

import logging
import signal
import threading

from services.catalog import NAMES
from services.chassis.main import refuse_to_start, setup_logging
from services.chassis.metrics import serve_metrics
from services.chassis.settings import SettingError, from_env
from services.chassis.telemetry import setup_tracing
from services.edge.app import Edge
from services.edge.server import EdgeServer
from services.edge.web import tenant_choices

log = logging.getLogger(__name__)


def main() -> None:
    prog = "python -m services.edge"
    try:
        settings = from_env("edge")
        setup_logging(settings)
        peers = {name: settings.peer(name) for name in NAMES}
    except SettingError as exc:
        refuse_to_start(exc, prog)
    setup_tracing("edge")
    serve_metrics(settings.metrics_port, settings.bind_host)
    server = EdgeServer(
        Edge(peers, secure_cookies=settings.cookie_secure, tenants=tenant_choices(settings.tenants)),
        settings.bind_host,
        settings.http_port,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    log.info("edge: HTTP/JSON API on %s:%d", settings.bind_host, server.port)
    stop.wait()
    server.stop(settings.shutdown_grace_s)


if __name__ == "__main__":
    main()
