"""The dispatcher's claim on PostgreSQL: dispatchers racing for the same due deliveries (as notify's
process and nameko workers may) send each message once — the guarded UPDATE decides, since under
READ COMMITTED every racer's first read sees every delivery as free."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from services.chassis.db import make_engine
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenant_config import Person
from services.notify.app import definition
from services.notify.channels.directory import TenantChannels
from services.notify.service_layer.dispatch import dispatch, route_new
from tests.unit.notify.support import Receiver
from tests.unit.notify.test_dispatch import (
    MORNING,
    SUPERVISOR,
    Clock,
    Odd,
    log_of,
    record,
    tenant_with,
    webhook,
)

pytestmark = pytest.mark.integration
CALLER = Identity("hardware", "job:notify_dispatch", frozenset({"service"}))


def test_racing_dispatchers_send_each_message_once(fresh_database):
    engine = make_engine(fresh_database("notify"))
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("plant_sms",))})
    with Receiver() as receiver, acting_as(CALLER):
        channels = TenantChannels({"plant_sms": webhook(receiver)})
        for _ in range(40):
            record(uow, SUPERVISOR, MORNING)
        route_new(tenant, uow, channels, MORNING)  # every racer finds 40 deliveries due
        start = threading.Barrier(6)

        def one() -> None:
            with acting_as(CALLER):
                start.wait()
                dispatch(tenant, uow, channels, Clock(MORNING))

        racers = [threading.Thread(target=one) for _ in range(6)]
        for t in racers:
            t.start()
        for t in racers:
            t.join()
        dispatch(tenant, uow, channels, Clock(MORNING))

        keys = [r.headers["Idempotency-Key"] for r in receiver.requests]
        assert len(keys) == len(set(keys)) == 40
        assert {(d.state, d.attempts) for d in log_of(uow)} == {("sent", 1)}
    engine.dispose()


def test_an_answer_no_column_expects_is_logged_cleaned_on_postgresql(fresh_database):
    """A NUL in a platform's answer and an errcode past 32 bits: PostgreSQL refused both, the
    round's record failed and its sent messages went out again when the claim lapsed."""
    engine = make_engine(fresh_database("notify"))
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("odd", "plant_sms"))})
    with Receiver() as receiver, acting_as(CALLER):
        record(uow, SUPERVISOR, MORNING)
        channels = TenantChannels({"odd": Odd(), "plant_sms": webhook(receiver)})
        assert dispatch(tenant, uow, channels, Clock(MORNING)).outcomes == {"failed": 1, "sent": 1}
        odd = next(d for d in log_of(uow) if d.channel == "odd")
        assert [(t.detail, t.code) for t in odd.tries] == [("busy  [31m next line", None)]
        # nothing is due again but the odd channel's retry: the webhook's message went once
        dispatch(tenant, uow, channels, Clock(MORNING + timedelta(seconds=400)))
        assert len(receiver.requests) == 1
    engine.dispose()
