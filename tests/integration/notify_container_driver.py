"""Hosts notify's nameko worker in a real nameko `ServiceContainer` in a process of its own, and
calls its entrypoints with nameko's testing tools (`entrypoint_hook`, `entrypoint_waiter`) when
a test asks, one line at a time (tests/integration/test_notify_nameko_tools.py drives it).

Why a process of its own: nameko runs on eventlet and needs `eventlet.monkey_patch()` before
anything else is imported (`nameko run` and nameko's pytest plugin do it first thing). This
project's test session runs unpatched (pyproject: `-p no:pytest_nameko`), because gRPC servers
hang in a patched process; and in an unpatched one the container's AMQP consumer blocks the whole
process in a socket read, so no hook ever returns. Here the container runs patched exactly as
under `nameko run`, with the worker's own config file, on the RabbitMQ and PostgreSQL that
OMS_AMQP_URL and OMS_DB_URL name (the worker's `Handlers` reads its settings from the
environment when the container starts).

Protocol, one JSON object per line on stdin; every answer is one stdout line starting with
"REPLY " (so nothing a library prints can be mistaken for one):
  at start          <- {"ready": true, "entrypoints": [...], "timers": [{"method", "interval"}]}
  -> {"hook": "<method>", "args": [...]}       <- {"ok": true, "result": ...} or {"ok": false, "error": ...}
     (entrypoint_hook(container, method)(*args): a worker runs the entrypoint as nameko would)
  -> {"wait": "<method>"}                      <- {"armed": true}, then, once a message (from the
     broker) has fired that entrypoint:        <- {"ok": true, "result": ...} (entrypoint_waiter)
End of input stops the container (gracefully, as nameko does on SIGTERM).
"""

import eventlet

eventlet.monkey_patch()  # before anything else is imported, as `nameko run` does


def main() -> int:
    import json
    import logging
    import os
    import sys
    from pathlib import Path

    import yaml
    from eventlet import tpool
    from nameko.containers import ServiceContainer
    from nameko.testing.services import entrypoint_hook, entrypoint_waiter
    from nameko.testing.utils import get_extension
    from nameko.timer import Timer

    from services.notify.worker import NotifyWorker

    logging.basicConfig(stream=sys.stderr, level=logging.INFO)

    def reply(answer: dict) -> None:
        sys.stdout.write("REPLY " + json.dumps(answer, ensure_ascii=False, default=repr) + "\n")
        sys.stdout.flush()

    root = Path(__file__).resolve().parents[2]
    config = yaml.safe_load((root / "services/notify/nameko.yaml").read_text())
    config["AMQP_URI"] = os.environ["OMS_AMQP_URL"]  # what `nameko run` makes of ${OMS_AMQP_URL:...}
    config.pop("LOGGING", None)  # nameko's runner applies it, not the container
    container = ServiceContainer(NotifyWorker, config)
    container.start()
    entrypoints = sorted(e.method_name for e in container.entrypoints)
    timers = [
        {"method": name, "interval": get_extension(container, Timer, method_name=name).interval}
        for name in entrypoints
        if get_extension(container, Timer, method_name=name) is not None
    ]
    reply({"ready": True, "entrypoints": entrypoints, "timers": timers})
    try:
        while line := tpool.execute(sys.stdin.readline):  # read off the hub: the container runs on
            call = json.loads(line)
            try:
                if "hook" in call:
                    with entrypoint_hook(container, call["hook"], timeout=30) as hook:
                        reply({"ok": True, "result": hook(*call.get("args", []))})
                else:
                    with entrypoint_waiter(container, call["wait"], timeout=30) as fired:
                        reply({"armed": True})
                    reply({"ok": True, "result": fired.get()})
            except Exception as exc:
                reply({"ok": False, "error": repr(exc)})
    finally:
        container.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
