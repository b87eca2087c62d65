"""`python -m services.<name> serve|migrate|seed`: one service as its own process."""

from __future__ import annotations

import argparse
import logging
import os

from services.chassis.inprocess_bus import InProcessBus
from services.chassis.metrics import serve_metrics
from services.chassis.rabbit import (
    RabbitConsumer,
    RabbitPublisher,
    declare_consumer_topology,
    declare_external_queues,
)
from services.chassis.runtime import ServiceDefinition, ServiceRuntime
from services.chassis.server import GrpcServer, wait_for_termination
from services.chassis.settings import Settings, from_env
from services.chassis.telemetry import setup_tracing

log = logging.getLogger(__name__)


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
    )
    logging.getLogger("pika").setLevel(logging.WARNING)


def main(definition: ServiceDefinition, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{definition.name}")
    parser.add_argument("command", choices=["serve", "migrate", "seed"], nargs="?", default="serve")
    args = parser.parse_args(argv)
    settings = from_env(definition.name)
    setup_logging(settings)

    if args.command in ("migrate", "seed"):
        runtime = ServiceRuntime(definition, settings, InProcessBus())
        runtime.migrate()
        if settings.amqp_url and runtime.wiring.subscriptions:
            queues = declare_topology(definition, runtime, settings)
            log.info("%s: queues %s and their bindings declared", definition.name, ", ".join(queues))
        if args.command == "seed":
            runtime.seed()
        runtime.stop()
        log.info("%s: %s done", definition.name, args.command)
        return
    serve(definition, settings)


def declare_topology(definition: ServiceDefinition, runtime: ServiceRuntime, settings: Settings) -> list[str]:
    if not definition.consumers_run_elsewhere:
        return declare_consumer_topology(settings.amqp_url, runtime.consumer, settings.release)
    if definition.external_queue is None:
        return []
    return declare_external_queues(
        settings.amqp_url,
        definition.name,
        [
            (definition.external_queue(settings.release, sub), sub.exchange, sub.event_type)
            for sub in runtime.wiring.subscriptions
        ],
    )


def serve(definition: ServiceDefinition, settings: Settings) -> None:
    setup_tracing(definition.name)
    serve_metrics(settings.metrics_port)
    bus = InProcessBus() if not settings.amqp_url else None
    publisher = bus or RabbitPublisher(settings.amqp_url, f"oms-{definition.name}-relay")
    runtime = ServiceRuntime(definition, settings, publisher)
    if os.environ.get("OMS_MIGRATE_ON_START", "1") == "1":  # k8s runs `migrate` as an init container
        runtime.migrate()
    if os.environ.get("OMS_SEED_DEMO", "0") == "1":
        runtime.seed()
    server = GrpcServer(settings, runtime.wiring.bindings)
    consumer = None
    if runtime.wiring.subscriptions and not definition.consumers_run_elsewhere:
        if bus is not None:
            bus.subscribe(runtime.consumer)
        else:
            consumer = RabbitConsumer(settings.amqp_url, runtime.consumer, release=settings.release)
            consumer.start()
            # Queues and bindings exist before health says SERVING, so no event published after
            # that point can find the exchange without our queue.
            if not consumer.ready.wait(30):
                raise RuntimeError(f"{definition.name}: RabbitMQ consumer not ready after 30 s")
    server.start()
    runtime.start()
    log.info(
        "%s serving gRPC on :%d (metrics :%s, db %s, bus %s)",
        definition.name,
        server.port,
        settings.metrics_port or "-",
        runtime.engine.url.render_as_string(hide_password=True),
        "rabbitmq" if bus is None else "in-process",
    )

    def stop() -> None:
        server.stop()
        if consumer:
            consumer.stop()
        runtime.stop()
        if isinstance(publisher, RabbitPublisher):
            publisher.close()

    wait_for_termination(stop)
