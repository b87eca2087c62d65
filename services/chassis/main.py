"""`python -m services.<name> serve|migrate|seed`: one service as its own process."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import NoReturn

from sqlalchemy import inspect

from services.chassis.db import make_engine
from services.chassis.inprocess_bus import InProcessBus
from services.chassis.metrics import serve_metrics
from services.chassis.outbox import list_parked, release_parked
from services.chassis.rabbit import (
    RabbitConsumer,
    RabbitPublisher,
    declare_consumer_topology,
    declare_external_queues,
)
from services.chassis.runtime import ServiceDefinition, ServiceRuntime
from services.chassis.server import GrpcServer, Termination, wait_for_termination
from services.chassis.settings import InvalidSetting, SettingError, Settings, from_env
from services.chassis.telemetry import setup_tracing

log = logging.getLogger(__name__)

EXIT_SETTING = 2  # start-up refused: a setting (missing, invalid, a busy port); the message names it
EXIT_FATAL = 1  # a part that cannot recover by itself stopped (e.g. the event consumer)


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
    )
    logging.getLogger("pika").setLevel(logging.WARNING)


def refuse_to_start(exc: SettingError, prog: str) -> NoReturn:
    """One line naming the variable, exit status 2: a configuration mistake, not a crash."""
    print(f"{prog}: cannot start: {exc}", file=sys.stderr, flush=True)
    sys.exit(EXIT_SETTING)


def main(definition: ServiceDefinition, argv: list[str] | None = None) -> None:
    prog = f"python -m services.{definition.name}"
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument(
        "command",
        choices=["serve", "migrate", "seed", "parked", "release-parked"],
        nargs="?",
        default="serve",
        help="parked: list outbox events the broker refused; release-parked ID…: relay them again",
    )
    parser.add_argument("event_ids", nargs="*", help="for release-parked: event ids (none = all)")
    args = parser.parse_args(argv)
    try:
        settings = from_env(definition.name)
        setup_logging(settings)
        if args.command in ("migrate", "seed"):
            prepare(definition, settings, seed=args.command == "seed")
            return
        if args.command in ("parked", "release-parked"):
            parked_events(definition, settings, release=args.command == "release-parked", ids=args.event_ids)
            return
        sys.exit(serve(definition, settings))
    except SettingError as exc:
        refuse_to_start(exc, prog)


def parked_events(
    definition: ServiceDefinition, settings: Settings, *, release: bool, ids: list[str]
) -> None:
    """The operator's view of parked outbox events: list them with their reasons, or put them
    back in the relay's way once the cause is fixed (the running relay picks them up)."""
    engine = make_engine(settings.sqlalchemy_url)
    outbox = definition.metadata.tables["outbox"]
    try:
        if not inspect(engine).has_table("outbox"):
            raise InvalidSetting(f"OMS_DB_URL has no outbox table yet: run `{definition.name} migrate` first")
        if release:
            released = release_parked(engine, outbox, ids or None)
            print(f"{definition.name}: released {released} parked event(s)")
            return
        found = list_parked(engine, outbox)
        for p in found:
            when = f"{p.parked_at:%Y-%m-%d %H:%M:%S}Z"
            print(f"{p.event_id}  {p.event_type:<24} {when}  {p.attempts}x  {p.last_error}")
        print(f"{definition.name}: {len(found)} parked event(s)")
    finally:
        engine.dispose()


def prepare(definition: ServiceDefinition, settings: Settings, *, seed: bool) -> None:
    runtime = ServiceRuntime(definition, settings, InProcessBus())
    runtime.migrate()
    if settings.amqp_url and runtime.wiring.subscriptions:
        queues = declare_topology(definition, runtime, settings)
        log.info("%s: queues %s and their bindings declared", definition.name, ", ".join(queues))
    if seed:
        runtime.seed()
    runtime.stop()
    log.info("%s: %s done", definition.name, "seed" if seed else "migrate")


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
        release=settings.release,
    )


def consumer_stopped(
    service: str, server: GrpcServer, termination: Termination
) -> Callable[[BaseException], None]:
    """What to do when the event consumer's thread ends unexpectedly: the service can no longer
    do its job, so health says NOT_SERVING at once (no new traffic), and the process stops with a
    non-zero status so its supervisor (Kubernetes) restarts it."""

    def on_fatal(exc: BaseException) -> None:
        server.set_serving(False)
        log.error("%s: event consumer stopped: %r; not serving, exiting to be restarted", service, exc)
        termination.request(f"{service} event consumer stopped: {exc!r}", exit_code=EXIT_FATAL)

    return on_fatal


def serve(definition: ServiceDefinition, settings: Settings) -> int:
    """Run until SIGTERM/SIGINT or a fatal failure; returns the process exit status."""
    setup_tracing(definition.name)
    serve_metrics(settings.metrics_port, settings.bind_host)
    # Listen before migrating: a busy port stops start-up at once, naming OMS_GRPC_PORT.
    server = GrpcServer(settings)
    termination = Termination()
    bus = InProcessBus() if not settings.amqp_url else None
    publisher = bus or RabbitPublisher(settings.amqp_url, f"oms-{definition.name}-relay")
    runtime = ServiceRuntime(definition, settings, publisher)
    if os.environ.get("OMS_MIGRATE_ON_START", "1") == "1":  # k8s runs `migrate` as an init container
        runtime.migrate()
    if os.environ.get("OMS_SEED_DEMO", "0") == "1":
        runtime.seed()
    server.add(runtime.wiring.bindings)
    consumer = None
    if runtime.wiring.subscriptions and not definition.consumers_run_elsewhere:
        if bus is not None:
            bus.subscribe(runtime.consumer)
        else:
            consumer = RabbitConsumer(
                settings.amqp_url,
                runtime.consumer,
                release=settings.release,
                on_fatal=consumer_stopped(definition.name, server, termination),
            )
            consumer.start()
            # Queues and bindings exist before health says SERVING, so no event published after
            # that point can find the exchange without our queue.
            deadline = time.monotonic() + 30
            while not consumer.ready.wait(0.2):
                if termination.requested:
                    raise RuntimeError(f"{definition.name}: {termination.reason}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{definition.name}: RabbitMQ consumer not ready after 30 s")
    server.start()
    runtime.start()
    log.info(
        "%s serving gRPC on %s (metrics :%s, db %s, bus %s)",
        definition.name,
        server.address,
        settings.metrics_port or "-",
        runtime.engine.url.render_as_string(hide_password=True),
        "rabbitmq" if bus is None else "in-process",
    )

    def stop() -> None:
        # NOT_SERVING, drain delay, refuse new calls, wait (bounded) for calls in flight; then no
        # more deliveries; then a last relay pass for what those calls committed; then close.
        server.stop(grace_s=settings.shutdown_grace_s, drain_delay_s=settings.drain_delay_s)
        if consumer:
            consumer.stop()
        runtime.stop()
        if isinstance(publisher, RabbitPublisher):
            publisher.close()
        log.info("%s stopped", definition.name)

    return wait_for_termination(stop, termination)
