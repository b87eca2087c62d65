"""Start-up guards and broker naming."""

from __future__ import annotations

import pytest
from grpc_health.v1 import health_pb2  # noqa: F401 - registers grpc.health.v1.Health

from oms.order.v1 import order_pb2  # noqa: F401 - registers oms.order.v1.OrderService
from services.chassis.rabbit import consumer_queue
from services.chassis.server import refuse_streaming_methods


def test_unary_services_are_accepted():
    refuse_streaming_methods("oms.order.v1.OrderService")


def test_a_streaming_method_would_bypass_the_interceptor_so_the_service_does_not_start():
    with pytest.raises(RuntimeError, match="Watch"):
        refuse_streaming_methods("grpc.health.v1.Health")


@pytest.mark.parametrize(
    ("release", "queue"),
    [
        ("", "production.events"),
        ("hardware", "hardware.production.events"),
        ("autoparts", "autoparts.production.events"),
    ],
)
def test_each_release_on_a_shared_broker_has_its_own_queue(release, queue):
    assert consumer_queue("production", release) == queue
