"""A new work order is told to the lead of the workshop that makes it."""

from __future__ import annotations

from datetime import UTC, datetime

from services.notify.domain.model import Workshop, tell_workshop_lead

WELDING = Workshop(code="welding", name="焊接车间 Welding", lead="刘海涛")
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def notify(lines=(("HB-2040", 500), ("SB-55", 200))):
    return tell_workshop_lead(
        notification_id="n-1",
        workshop=WELDING,
        work_order_no="WO-AP-20261125-00003-02",
        order_no="AP-20261125-00003",
        due_date="2026-12-10",
        lines=list(lines),
        event_id="ev-77",
        now=NOW,
    )


def test_the_workshop_lead_is_the_recipient():
    note = notify()

    assert note.recipient == "刘海涛"
    assert note.recipient_role == "workshop_lead"


def test_the_note_refers_to_the_work_order_and_the_event_that_caused_it():
    note = notify()

    assert note.reference == "WO-AP-20261125-00003-02"
    assert note.event_id == "ev-77"
    assert note.notification_id == "n-1"
    assert note.created_at == NOW
    assert "WO-AP-20261125-00003-02" in note.subject


def test_the_body_names_workshop_order_due_date_and_every_line():
    body = notify().body

    assert body.startswith("焊接车间 Welding: ")
    assert "AP-20261125-00003" in body
    assert "2026-12-10" in body
    assert body.endswith("HB-2040 × 500; SB-55 × 200")


def test_a_note_records_no_events():
    assert notify().events == []
