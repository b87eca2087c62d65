"""`python -m services` (`make run`): the whole system on embedded defaults."""

from __future__ import annotations

import logging
import sys

from services.chassis.main import refuse_to_start, setup_logging
from services.chassis.metrics import serve_metrics
from services.chassis.server import wait_for_termination
from services.chassis.settings import (
    SettingError,
    Settings,
    connect_host,
    from_env,
    is_loopback,
)
from services.chassis.telemetry import setup_tracing
from services.embedded import EmbeddedStack

log = logging.getLogger("oms")


def banner(settings: Settings, stack: EmbeddedStack) -> str:
    host = connect_host(settings.bind_host)
    addr = f"{host}:{stack.port}"
    tenants = ", ".join(
        f"{t.tenant_id} ({t.name_zh} {t.name_en})" for t in stack.runtimes[0].context.tenants.values()
    )
    metrics = "off (OMS_METRICS_PORT)"
    if settings.metrics_port:
        metrics = f"http://{host}:{settings.metrics_port}/metrics"
    # --addr on every line: it works whatever OMS_ADDR / OMS_<SERVICE>_ADDR the shell has left over
    omsctl = f".venv/bin/omsctl --addr {addr}"
    tenant = next(iter(stack.runtimes[0].context.tenants), "hardware")
    listening = (
        "this machine only" if is_loopback(settings.bind_host) else f"OMS_BIND_HOST={settings.bind_host}"
    )
    keys = (
        ""
        if settings.uses_dev_keys
        else "\n      (with a token from your issuer: --token/OMS_TOKEN, or its key in OMS_ISSUER_KEY_FILE)"
    )
    wms = f"{settings.wms_url} (OMS_WMS_URL)"
    if stack.wms is not None:
        wms = f"simulator on {stack.wms.url}, stock in {settings.data_dir}/wms.db (OMS_WMS_URL: a real one)"
    shops = f"{settings.marketplace_url} (OMS_MARKETPLACE_URL)"
    if stack.marketplace is not None:
        shops = (
            f"simulator on {stack.marketplace.url}, the tenants' shops with demo orders (OMS_MARKETPLACE_URL)"
        )
    return f"""
Zhongshu OMS (中枢) is running on embedded defaults.
  web pages: http://{host}:{stack.http_port}/  (sign in: 美的采购 for the customer portal, 周建华 for
             the production board; demo password zhongshu-demo; README "Sign-in" lists every account)
  gRPC:      {addr}  (all seven services; health + reflection on; {listening})
  HTTP API:  http://{host}:{stack.http_port}  (JSON; OpenAPI at /openapi.json; README "HTTP API")
  data:      {settings.data_dir}/<service>.db (SQLite), in-process event bus
  WMS:       {wms}
  shops:     {shops}
  tenants:   {tenants}
  metrics:   {metrics}
Try, in another terminal (or export OMS_ADDR={addr} once and leave out --addr):
      {omsctl} health
      {omsctl} --tenant {tenant} options       # colours, surface treatments, workshops, time zone
      {omsctl} --tenant {tenant} customers
      {omsctl} --tenant {tenant} orders{keys}
      {omsctl} --tenant {tenant} shops          # marketplace shops, pulled every minute
      {omsctl} --tenant {tenant} review         # 待审核: marketplace orders a person must decide
      {omsctl} --tenant {tenant} deliveries     # 发送记录: notices on the plant's channels
Stop with Ctrl-C.
"""


def main() -> None:
    prog = "python -m services"
    try:
        settings = from_env("embedded")
        setup_logging(settings)
        setup_tracing("embedded")
        serve_metrics(settings.metrics_port, settings.bind_host)
        stack = EmbeddedStack(settings)
    except SettingError as exc:
        refuse_to_start(exc, prog)
    stack.start()
    print(banner(settings, stack), flush=True)
    sys.exit(wait_for_termination(stack.stop))


if __name__ == "__main__":
    main()
