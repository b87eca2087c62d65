"""Test-only: the real customer service process (`serve`, exactly as `python -m services.customer
serve` runs it), except that GetCustomer first touches OMS_TEST_STARTED and then takes
OMS_TEST_SLOW_S seconds, so a test can have a call in flight when it sends SIGTERM.

    python -m tests.e2e.slow_customer
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from services.chassis.main import main
from services.chassis.runtime import ServiceContext, Wiring
from services.customer.app import definition


class SlowGetCustomer:
    def __init__(self, servicer):
        self._servicer = servicer

    def __getattr__(self, name):
        return getattr(self._servicer, name)

    def GetCustomer(self, request, context):
        Path(os.environ["OMS_TEST_STARTED"]).touch()
        time.sleep(float(os.environ["OMS_TEST_SLOW_S"]))
        return self._servicer.GetCustomer(request, context)


def wire(ctx: ServiceContext) -> Wiring:
    wiring = definition.wire(ctx)
    (binding,) = wiring.bindings
    return dataclasses.replace(
        wiring, bindings=[dataclasses.replace(binding, servicer=SlowGetCustomer(binding.servicer))]
    )


if __name__ == "__main__":
    main(dataclasses.replace(definition, wire=wire), ["serve"])
