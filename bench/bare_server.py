"""The no-chassis baseline: a bare grpcio unary server answering every call with the same
pre-serialized bytes (a real GetOrder response), same thread pool size as the chassis server.

    python -m bench.bare_server PORT < response-bytes
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent import futures

import grpc

METHOD = "/bench.Bare/Get"


def main() -> None:
    port = int(sys.argv[1])
    payload = sys.stdin.buffer.read()

    def get(_request: bytes, _context: grpc.ServicerContext) -> bytes:
        return payload

    # No (de)serializers: requests and replies stay bytes, so the server does only gRPC's own work.
    handler = grpc.method_handlers_generic_handler(
        "bench.Bare", {"Get": grpc.unary_unary_rpc_method_handler(get)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    server.stop(1).wait()


if __name__ == "__main__":
    main()
