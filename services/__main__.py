"""`python -m services` (`make run`): the whole system on embedded defaults."""

from __future__ import annotations

import logging

from services.chassis.main import setup_logging
from services.chassis.metrics import serve_metrics
from services.chassis.server import wait_for_termination
from services.chassis.settings import from_env
from services.chassis.telemetry import setup_tracing
from services.embedded import EmbeddedStack

log = logging.getLogger("oms")


def main() -> None:
    settings = from_env("embedded")
    setup_logging(settings)
    setup_tracing("embedded")
    serve_metrics(settings.metrics_port)
    stack = EmbeddedStack(settings)
    stack.start()
    tenants = ", ".join(
        f"{t.tenant_id} ({t.name_zh} {t.name_en})" for t in stack.runtimes[0].context.tenants.values()
    )
    metrics = (
        f"http://127.0.0.1:{settings.metrics_port}/metrics"
        if settings.metrics_port
        else "off (OMS_METRICS_PORT)"
    )
    print(
        f"""
Zhongshu OMS (中枢) is running on embedded defaults.
  gRPC:      127.0.0.1:{stack.port}  (all six services; health + reflection on)
  data:      {settings.data_dir}/<service>.db (SQLite), in-process event bus
  tenants:   {tenants}
  metrics:   {metrics}
Try:  .venv/bin/omsctl --tenant hardware customers
      .venv/bin/omsctl health
Stop with Ctrl-C.
""",
        flush=True,
    )
    wait_for_termination(stack.stop)


if __name__ == "__main__":
    main()
