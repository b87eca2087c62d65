"""The edge's HTTP server (uvicorn) in a thread of its own: the embedded stack runs it beside the
gRPC services, `python -m services.edge` as its own process. The socket is bound when the server
is made, so a taken port stops start-up at once, naming OMS_HTTP_PORT, as the gRPC port does."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from services.chassis.settings import PortUnavailable
from services.edge.app import Edge


class EdgeServer:
    def __init__(self, edge: Edge, host: str, port: int):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it each kept-alive answer waited ~40 ms for a delayed ACK (Nagle).
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise PortUnavailable(
                f"OMS_HTTP_PORT={port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "is it in use? Set OMS_HTTP_PORT to a free port"
            ) from None
        # log_config=None: the process's logging as the services set it; no access log (it would
        # hold URLs and callers; the metrics count requests).
        config = uvicorn.Config(edge, lifespan="on", log_config=None, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="edge-http", daemon=True
        )

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1]

    def start(self, timeout_s: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the edge's HTTP server stopped while starting (see the log)")
            if time.monotonic() > deadline:
                raise RuntimeError("the edge's HTTP server did not start")
            time.sleep(0.02)

    def begin_stop(self) -> None:
        """No new connections; calls in flight go on (stop() waits for them)."""
        self._server.should_exit = True

    def stop(self, timeout_s: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.ident is not None:  # a stack made but never started has nothing to join
            self._thread.join(timeout_s)
        self._socket.close()
