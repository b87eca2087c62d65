"""The due-date check through notify's own database (SQLite) on a controllable clock: the
supervisor and the sales owner each get exactly one warning, across checks and two workers; a
finished work order withdraws it, once; a late stage event never moves the projection back."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from services.chassis.db import make_engine
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.notify.adapters.tables import notifications
from services.notify.app import definition
from services.notify.domain.due_risk import WatchedWorkOrder
from services.notify.service_layer.due_watch import check_due

HW = load_tenants(("hardware",))["hardware"]
DUE = date(2026, 12, 10)
END = datetime(2026, 12, 10, 16, 0, tzinfo=UTC)  # the end of the due day, Beijing time
WO = WatchedWorkOrder(
    "wo-1", "WO-HW-20261201-00001-01", "o-1", "HW-20261201-00001", "stamping-1", DUE, "STAGE_IN_PROCESS"
)
NOW = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
def notify(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'notify.db'}")
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    with acting_as(Identity("hardware", "job:due_check", frozenset({"service"}))):
        with uow() as tx:
            tx.watch.customer("c-1", "美的集团顺德基地", "陈丽", 1)
            tx.watch.order_of_customer("o-1", "c-1")
            tx.watch.watch(WO, 1, NOW)
            tx.watch.move_stage("wo-1", "STAGE_IN_PROCESS", 1, NOW)
            tx.commit()
        yield uow, engine
    engine.dispose()


def notices(engine) -> list[tuple[str, str, str]]:
    with engine.connect() as c:
        rows = c.execute(
            select(notifications).order_by(notifications.c.created_at, notifications.c.recipient)
        )
        return [(r.recipient, r.recipient_role, r.subject) for r in rows]


def test_due_in_40_hours_and_in_process_warns_the_supervisor_and_the_sales_owner_once_each(notify):
    uow, engine = notify
    assert check_due(HW, uow, lambda: END - timedelta(hours=49)) == 0
    assert check_due(HW, uow, lambda: END - timedelta(hours=40)) == 2
    assert check_due(HW, uow, lambda: END - timedelta(hours=39)) == 0  # once
    warning = (
        "交期预警 due-date warning: WO-HW-20261201-00001-01 交期前48小时未完工 unfinished 48 h before due"
    )
    assert sorted(notices(engine)) == [
        ("周建华", "production_supervisor", warning),
        ("陈丽", "sales_owner", warning),
    ]


def test_it_finishes_and_each_gets_one_withdrawal(notify):
    uow, engine = notify
    check_due(HW, uow, lambda: END - timedelta(hours=40))
    with uow() as tx:
        tx.watch.move_stage("wo-1", "STAGE_QC_PASSED", 2, NOW)
        tx.watch.move_stage("wo-1", "STAGE_IN_PROCESS", 1, NOW)  # a late, older event: ignored
        tx.commit()
    assert check_due(HW, uow, lambda: END - timedelta(hours=30)) == 2
    assert check_due(HW, uow, lambda: END - timedelta(hours=29)) == 0
    withdrawn = "预警解除 warning withdrawn: WO-HW-20261201-00001-01 已完工 finished"
    assert sorted(x for x in notices(engine) if x[2] == withdrawn) == [
        ("周建华", "production_supervisor", withdrawn),
        ("陈丽", "sales_owner", withdrawn),
    ]


def test_an_approved_change_moving_the_due_date_withdraws_and_overdue_warns_again(notify):
    uow, engine = notify
    check_due(HW, uow, lambda: END - timedelta(hours=40))
    with uow() as tx:
        tx.watch.revise("wo-1", DUE + timedelta(days=7), 2, NOW)
        tx.commit()
    assert check_due(HW, uow, lambda: END - timedelta(hours=39)) == 2  # the withdrawal, to both
    later = END + timedelta(days=7, hours=1)  # now overdue on the new date
    assert check_due(HW, uow, lambda: later) == 2
    subjects = [s for _, _, s in notices(engine)]
    assert (
        subjects.count("预警解除 warning withdrawn: WO-HW-20261201-00001-01 交期已变更 due date moved") == 2
    )
    assert subjects.count("交期预警 due-date warning: WO-HW-20261201-00001-01 已逾期 overdue") == 2


def test_two_workers_checking_at_once_warn_once(notify):
    uow, engine = notify
    told: list[int] = []

    def worker() -> None:
        with acting_as(Identity("hardware", "job:due_check", frozenset({"service"}))):
            told.append(check_due(HW, uow, lambda: END - timedelta(hours=40)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(told) == [0, 2] and len(notices(engine)) == 2


def test_alerts_are_listed_by_recipient_and_acknowledged_by_a_recipient_only(notify):
    from services.chassis.errors import PermissionDenied
    from services.notify.service_layer import alerts

    uow, _engine = notify
    check_due(HW, uow, lambda: END - timedelta(hours=40))
    [mine] = alerts.list_alerts(uow, recipient="陈丽")
    assert (mine.work_order_no, mine.threshold_hours, mine.due_date, mine.state) == (
        WO.work_order_no,
        48.0,
        DUE,
        "raised",
    )
    assert mine.recipients == [("周建华", "production_supervisor"), ("陈丽", "sales_owner")]
    assert alerts.list_alerts(uow, recipient="陈") == [] and alerts.list_alerts(uow, recipient="%") == []
    with (
        acting_as(Identity("hardware", "王建国", frozenset({"workshop_lead"}))),
        pytest.raises(PermissionDenied),
    ):
        alerts.acknowledge(mine.alert_id, uow)
    with acting_as(Identity("hardware", "陈丽", frozenset({"sales"}))):
        done = alerts.acknowledge(mine.alert_id, uow, lambda: NOW)
        again = alerts.acknowledge(mine.alert_id, uow, lambda: NOW + timedelta(hours=1))  # once
    assert done.acknowledgements == again.acknowledgements == [("陈丽", NOW)]
    assert done.state == "raised"  # it stays until the work finishes
