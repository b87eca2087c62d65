"""The HTTP baseline for the edge: a bare ASGI handler on the same server (uvicorn, same settings)
answering every request with the same pre-made JSON bytes (a real GetOrder answer as the edge
writes it), reading the request body as the edge does. No routing, no Connect, no gRPC call.

    python -m bench.bare_asgi PORT < response-bytes
"""

from __future__ import annotations

import sys

import uvicorn


def main() -> None:
    port = int(sys.argv[1])
    payload = sys.stdin.buffer.read()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:  # the whole request body, as any real handler must
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    print("ready", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False)


if __name__ == "__main__":
    main()
