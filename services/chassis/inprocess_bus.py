"""The embedded bus: same publish/consume contract as RabbitMQ, inside one process.

Each consumer gets its own queue and worker thread; failures are retried with the same backoff
policy and end in an in-memory dead-letter list. Events are durable only in the outbox: a crash
loses what sat in these queues, and the relay does not resend it (embedded mode is for one desk).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from services.chassis.consumer import EventConsumer
from services.chassis.events import Message
from services.chassis.retry import Retry, RetryPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    consumer: str
    message: Message
    reason: str


class _Worker:
    def __init__(self, bus: InProcessBus, consumer: EventConsumer, retry: RetryPolicy):
        self.bus = bus
        self.consumer = consumer
        self.retry = retry
        self.queue: queue.Queue[tuple[Message, int] | None] = queue.Queue()
        self.thread = threading.Thread(
            target=self._run, name=f"{consumer.service}-inproc-consumer", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            message, attempt = item
            try:
                self.consumer.handle(message.exchange, message.routing_key, message.body, message.headers)
            except Exception as exc:
                decision = self.retry.decide(attempt, exc)
                if isinstance(decision, Retry):
                    self.consumer.record_retry(message.exchange, message.routing_key)
                    log.warning("%s: retrying %s after %r", self.consumer.service, message.message_id, exc)
                    # A timer, not a sleep: this worker goes on with the messages behind it.
                    timer = threading.Timer(decision.delay_s, self.queue.put, [(message, decision.attempt)])
                    timer.daemon = True
                    timer.start()
                else:
                    self._dead_letter(message, decision.reason)

    def _dead_letter(self, message: Message, reason: str) -> None:
        self.consumer.record_dead_letter(message.exchange, message.routing_key)
        log.error("%s: dead-lettered %s: %s", self.consumer.service, message.message_id, reason)
        with self.bus.lock:
            self.bus.dead_letters.append(DeadLetter(self.consumer.service, message, reason))


class InProcessBus:
    def __init__(self, retry: RetryPolicy | None = None):
        self.retry = retry or RetryPolicy()
        self.lock = threading.Lock()
        self.dead_letters: list[DeadLetter] = []
        self._routes: dict[tuple[str, str], list[_Worker]] = defaultdict(list)
        self._workers: list[_Worker] = []

    def subscribe(self, consumer: EventConsumer) -> None:
        worker = _Worker(self, consumer, self.retry)
        self._workers.append(worker)
        with self.lock:
            for sub in consumer.subscriptions:
                self._routes[(sub.exchange, sub.event_type)].append(worker)

    def publish_batch(self, messages: Sequence[Message]) -> None:
        for message in messages:
            for worker in self._routes.get((message.exchange, message.routing_key), ()):
                worker.queue.put((message, 1))

    def stop(self) -> None:
        for worker in self._workers:
            worker.queue.put(None)
        for worker in self._workers:
            worker.thread.join(5)
