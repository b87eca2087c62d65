"""What a run of ingest did, counted the same way for every channel. Pure Python.

received: records that came in (a marketplace order, a spreadsheet row, a phone form);
created: OMS orders made; updated: newer data for orders already handled; duplicates: identical
repeats and older records (no-ops); skipped: not orders, or not yet (unpaid, cancelled before we
saw them: each with its reason in the log); rejected: refused with a reason (bad rows, bad
forms); review: sent to the review queue; cancelled: ingested orders the platform cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from services.chassis.events import DomainEvent

COUNTERS = ("received", "created", "updated", "duplicates", "skipped", "rejected", "review", "cancelled")


@dataclass
class RunCounts:
    received: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: int = 0
    review: int = 0
    cancelled: int = 0

    def add(self, other: RunCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in COUNTERS}


@dataclass(frozen=True)
class ReviewItemOpened(DomainEvent):
    event_type = "review_item_opened"
    item_id: str
    source: str
    platform: str
    shop: str
    external_id: str
    reason_codes: list[str]


@dataclass(frozen=True)
class ReviewItemResolved(DomainEvent):
    event_type = "review_item_resolved"
    item_id: str
    state: str
    resolved_by: str
    order_id: str = ""
    order_no: str = ""
    note: str = ""
