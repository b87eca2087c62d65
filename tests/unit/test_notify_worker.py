"""The nameko worker passes the AMQP headers nameko gives it (trace context, tenant) on to the
chassis consumer, so a notify span continues the trace that approved the order."""

from __future__ import annotations

from types import SimpleNamespace

from services.notify.worker import Handlers


class RecordingConsumer:
    def __init__(self):
        self.calls = []

    def handle(self, exchange, routing_key, payload, headers=None):
        self.calls.append((exchange, routing_key, payload, headers))
        return "ok"


def test_headers_from_nameko_reach_the_consumer():
    handlers = Handlers()
    handlers.consumer, handlers.settings = RecordingConsumer(), None
    handlers.jobs = SimpleNamespace(tick=lambda: None)
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    context = SimpleNamespace(
        context_data={
            "traceparent": traceparent,
            "tenant_id": "hardware",
            "call_id_stack": ["notify.on_work_order_created.1"],
        }
    )
    deliver = handlers.get_dependency(context)
    assert deliver("production", "work_order_created", {"event_id": "e-1"}) == "ok"
    exchange, key, payload, headers = handlers.consumer.calls[0]
    assert (exchange, key, payload) == ("production.events", "work_order_created", {"event_id": "e-1"})
    assert headers == {"traceparent": traceparent, "tenant_id": "hardware"}  # non-string nameko data left out
