"""SIGTERM drains a service: health answers NOT_SERVING at once, calls are still served for the
drain delay, then new calls are refused while a call already in flight completes with OK, and
the process exits 0. The service is the real customer service process whose GetCustomer is made
slow by a test-only launcher (tests/e2e/slow_customer.py)."""

from __future__ import annotations

import signal
import sys
import threading
import time
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from tests.e2e.embedded_process import running
from tests.e2e.scenario import Caller

pytestmark = pytest.mark.e2e
SLOW_S = 4.0
DRAIN_S = 2.0


def test_a_call_in_flight_at_sigterm_completes_and_the_service_exits_cleanly(tmp_path):
    started = tmp_path / "started"
    env = {
        "OMS_TEST_SLOW_S": str(SLOW_S),
        "OMS_TEST_STARTED": str(started),
        "OMS_DRAIN_DELAY_S": str(DRAIN_S),
        "OMS_SHUTDOWN_GRACE_S": "10",
    }
    with running(tmp_path, [sys.executable, "-m", "tests.e2e.slow_customer"], env) as service:
        md = Caller("hardware").metadata()
        channel = grpc.insecure_channel(service.addr)
        customers = customer_pb2_grpc.CustomerServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        customer = customers.CreateCustomer(
            customer_pb2.CreateCustomerRequest(code=f"S-{uuid.uuid4().hex[:6].upper()}", name="九阳 Joyoung"),
            metadata=md,
        ).customer

        outcome: dict = {}

        def slow_call():
            try:
                outcome["reply"] = customers.GetCustomer(
                    customer_pb2.GetCustomerRequest(customer_id=customer.customer_id), metadata=md, timeout=30
                )
            except grpc.RpcError as exc:
                outcome["error"] = exc

        caller = threading.Thread(target=slow_call)
        caller.start()
        deadline = time.monotonic() + 10
        while not started.exists():
            assert time.monotonic() < deadline, "the slow call never reached the handler"
            time.sleep(0.02)

        service.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        # During the drain delay: readiness says NOT_SERVING, calls are still answered.
        status = None
        while status != health_pb2.HealthCheckResponse.NOT_SERVING:
            assert time.monotonic() - signalled < DRAIN_S, "health did not go NOT_SERVING at once"
            status = health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
        assert customers.ListCustomers(customer_pb2.ListCustomersRequest(), metadata=md, timeout=5)
        assert time.monotonic() - signalled < DRAIN_S, "the drain delay was over before the check"

        # After the drain delay, with the slow call still in flight: new calls are refused.
        time.sleep(max(DRAIN_S + 0.5 - (time.monotonic() - signalled), 0))
        assert caller.is_alive(), "the slow call ended before new calls could be tried"
        with pytest.raises(grpc.RpcError) as refused:
            customers.ListCustomers(customer_pb2.ListCustomersRequest(), metadata=md, timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

        caller.join(30)
        assert "error" not in outcome, f"the call in flight failed: {outcome.get('error')}"
        assert outcome["reply"].customer.customer_id == customer.customer_id
        assert service.proc.wait(15) == 0, service.log_text()[-3000:]
        assert time.monotonic() - signalled < SLOW_S + 5
        channel.close()
        log = service.log_text()
        assert "Traceback" not in log, log[-3000:]
