"""Phone forms from sales in the field. Pure Python.

A phone form may be sent twice (the salesperson was offline and the app retried); the key the
phone generated makes the second submission return the first order instead of a new one. A
signed contract scan travels with it: its content must be what its type says (a photo renamed
.pdf is refused), and it is stored once per content hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

from services.chassis.errors import FieldViolation, InvalidArgument
from services.chassis.events import DomainEvent

# What each accepted type starts with (its magic number): the declared type is checked against it.
SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
}
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class StoredAttachment:
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass
class Intake:
    idempotency_key: str
    channel: str
    order_id: str
    order_no: str
    received_by: str
    received_at: datetime
    attachments: list[StoredAttachment] = field(default_factory=list)
    signed_at: datetime | None = None
    location: tuple[float, float, float] | None = None  # latitude, longitude, accuracy in metres
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)


@dataclass(frozen=True)
class PhoneOrderLine:
    product_model: str
    quantity: int
    workshop: str
    colour: str = ""
    surface_treatment: str = ""
    unit_price_fen: int = 0
    packaging: str = ""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def stored(self) -> StoredAttachment:
        return StoredAttachment(self.filename, self.content_type, len(self.data), self.sha256)


@dataclass(frozen=True)
class PhoneOrder:
    idempotency_key: str
    customer_id: str
    due_date: date
    priority: str
    lines: list[PhoneOrderLine]
    delivery_address: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    signed_at: datetime | None = None
    location: tuple[float, float, float] | None = None


def check_attachments(attachments: list[Attachment]) -> None:
    """Each file is what it says it is and within the size limit; every problem at once."""
    problems = []
    for i, a in enumerate(attachments):
        where = f"attachments[{i}]"
        if len(a.data) > MAX_ATTACHMENT_BYTES:
            problems.append(
                FieldViolation(f"{where}.data", f"{len(a.data)} bytes; at most {MAX_ATTACHMENT_BYTES}")
            )
        elif a.content_type not in SIGNATURES:
            problems.append(FieldViolation(f"{where}.content_type", "JPEG, PNG or PDF only"))
        elif not a.data.startswith(SIGNATURES[a.content_type]):
            problems.append(
                FieldViolation(f"{where}.data", f"the content is not {a.content_type} (文件内容与类型不符)")
            )
    if problems:
        raise InvalidArgument("attachments refused", problems)
