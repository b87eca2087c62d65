"""Orders in and out of the database. Every query is scoped to the caller's tenant, and a
customer-portal caller sees only its own customer's orders."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Connection, Select, and_, bindparam, delete, insert, or_, select, update

from services.chassis import identity
from services.chassis.errors import NotFound, VersionConflict
from services.chassis.paging import day_part, decode_token, encode_token, instant_part, keyset_page, uuid_part
from services.chassis.scoping import Scoped, scoped
from services.order.adapters.tables import order_lines, order_revisions, order_transitions, orders
from services.order.domain.batches import DeliveryBatch
from services.order.domain.changes import FieldChange, OrderContent, Revision
from services.order.domain.lifecycle import Action, Transition
from services.order.domain.model import Channel, Order, OrderLine, OrderState, Priority, line_as_dict
from services.order.domain.pricing import PriceDeviation


class OrderRepository:
    def __init__(self, db: Connection, track):
        self._db = db
        self._track = track
        self._loaded_versions: dict[str, int] = {}

    def _scoped(self, query: Select) -> Select:
        return scoped(query, orders, customer_column="customer_id")

    def add(self, order: Order) -> None:
        tenant = identity.current().tenant_id
        self._db.execute(
            _INSERT_ORDER,
            dict(
                order_id=order.order_id,
                tenant_id=tenant,
                order_no=order.order_no,
                customer_id=order.customer_id,
                channel=order.channel.value,
                priority=order.priority.value,
                state=order.state.value,
                due_date=order.due_date,
                version=order.version,
                created_by=order.created_by,
                created_at=order.created_at,
                approved_by=order.approved_by,
                approved_at=order.approved_at,
                request_id=order.request_id or None,
                revision=order.revision,
                revision_since=order.revision_since,
                delivery_address=order.delivery_address,
                custom_fields=order.custom_fields or None,
                price_deviations=[d.as_dict() for d in order.price_deviations] or None,
                delivery_batches=[b.as_dict() for b in order.batches] or None,
                materials_short=order.materials_short,
                materials_locked=order.materials_locked,
                lock_rule=order.lock_rule,
            ),
        )
        self._write_lines(order, tenant)
        self._write_transitions(order, tenant)
        self._loaded_versions[order.order_id] = order.version
        self._track(order)

    def _write_lines(self, order: Order, tenant: str) -> None:
        self._db.execute(
            _INSERT_LINES,
            [
                dict(
                    order_id=order.order_id,
                    tenant_id=tenant,
                    line_no=line.line_no,
                    product_model=line.product_model,
                    quantity=line.quantity,
                    colour=line.colour,
                    surface_treatment=line.surface_treatment,
                    workshop=line.workshop,
                    unit_price_fen=line.unit_price_fen,
                    packaging=line.packaging,
                    route=list(line.route) or None,
                )
                for line in order.lines
            ],
        )

    def _write_revisions(self, order: Order, tenant: str) -> None:
        """A change made a new revision: the order's lines are replaced by the new content's and
        the revision (with the first one, on the first change) is kept."""
        if not (order.new_revisions or order.lines_changed):
            return
        self._db.execute(delete(order_lines).where(order_lines.c.order_id == order.order_id))
        self._write_lines(order, tenant)
        order.lines_changed = False
        if not order.new_revisions:
            return
        self._db.execute(
            _INSERT_REVISIONS,
            [
                dict(
                    order_id=order.order_id,
                    tenant_id=tenant,
                    revision=r.revision,
                    content=content_as_dict(r.content),
                    valid_from=r.valid_from,
                    change_id=r.change_id or None,
                    reason=r.reason,
                    approved_by=r.approved_by,
                    diff=[c.as_dict() for c in r.diff],
                )
                for r in order.new_revisions
            ],
        )
        order.new_revisions.clear()

    def _write_transitions(self, order: Order, tenant: str) -> None:
        if order.transitions:
            self._db.execute(
                _INSERT_TRANSITIONS,
                [
                    dict(
                        order_id=order.order_id,
                        tenant_id=tenant,
                        version=t.version,
                        action=t.action.value,
                        from_state=t.from_state.value if t.from_state else None,
                        to_state=t.to_state.value,
                        actor=t.actor,
                        at=t.at,
                        reason=t.reason,
                        changes=[c.as_dict() for c in t.changes] or None,
                    )
                    for t in order.transitions
                ],
            )
            order.transitions.clear()

    def history(self, order_id: str) -> list[Transition]:
        """The order's lifecycle steps, oldest first; NotFound for an order the caller may not see."""
        self.get(order_id)  # the same scoping as reading the order itself
        rows = self._db.execute(*_HISTORY.bind(order_id=order_id)).all()
        return [_transition(r) for r in rows]

    def revisions(self, order: Order) -> list[Revision]:
        """Every revision of an order the caller has read, oldest first, the current one last."""
        rows = self._db.execute(
            select(order_revisions)
            .where(
                order_revisions.c.order_id == order.order_id,
                order_revisions.c.tenant_id == identity.current().tenant_id,
            )
            .order_by(order_revisions.c.revision)
        ).all()
        if not rows:  # never changed: the order itself is its only revision
            return [Revision(1, order.content(), order.revision_since or order.created_at)]
        return [
            Revision(
                r.revision,
                content_from_dict(r.content),
                r.valid_from,
                r.change_id or "",
                r.reason,
                r.approved_by,
                tuple(FieldChange.from_dict(c) for c in r.diff),
            )
            for r in rows
        ]

    def as_of(self, order_id: str, at: datetime) -> Order:
        """The order as it stood at `at`: the revision then in force, the state and version of
        its last step by then. NotFound before it existed (or for an order the caller may not see)."""
        order = self.get(order_id)
        if at < order.created_at:
            raise NotFound(f"order {order.order_no} did not exist at {at.isoformat()}")
        steps = [t for t in self.history(order_id) if t.at <= at]
        revision = [r for r in self.revisions(order) if r.valid_from <= at][-1:] or self.revisions(order)[:1]
        content = revision[0].content
        if steps:
            order.state, order.version = steps[-1].to_state, steps[-1].version
        order.revision, order.revision_since = revision[0].revision, revision[0].valid_from
        order.due_date, order.priority, order.lines = (
            content.due_date,
            Priority(content.priority),
            list(content.lines),
        )
        order.delivery_address, order.custom_fields = content.delivery_address, dict(content.custom_fields)
        order.batches = tuple(content.batches)
        approvals = [t for t in steps if t.action is Action.APPROVE]
        if not approvals:
            order.approved_by, order.approved_at = "", None
            order.materials_short, order.materials_locked, order.lock_rule = False, False, ""
        order.pending_change_id = ""
        self._loaded_versions.pop(order.order_id, None)  # a picture of the past: never saved
        return order

    def audit(
        self,
        *,
        order_id: str = "",
        actor: str = "",
        since: datetime | None,
        until: datetime | None,
        page_size: int,
        page_token: str,
    ) -> tuple[list[tuple[str, str, Transition]], str]:
        """Steps of one order or by one user, oldest first, with the order's id and number; keyset
        pages by (at, id)."""
        if order_id:
            self.get(order_id)
        t = order_transitions
        query = self._scoped(
            select(t, orders.c.order_no).join(orders, orders.c.order_id == t.c.order_id)
        ).where(t.c.tenant_id == identity.current().tenant_id)
        query = query.where(t.c.order_id == order_id) if order_id else query.where(t.c.actor == actor)
        if since:
            query = query.where(t.c.at >= since)
        if until:
            query = query.where(t.c.at <= until)
        if page_token:
            after_at, after_id = decode_token(page_token, instant_part, _id_part)
            query = query.where(or_(t.c.at > after_at, and_(t.c.at == after_at, t.c.id > after_id)))
        rows = self._db.execute(query.order_by(t.c.at, t.c.id).limit(page_size + 1)).all()
        page, token = keyset_page(rows, page_size, lambda r: (r.at.isoformat(), str(r.id)))
        return [(r.order_id, r.order_no, _transition(r)) for r in page], token

    def get(self, order_id: str) -> Order:
        rows = self._db.execute(*_GET.bind(order_id=order_id)).all()
        if not rows:
            raise NotFound(f"order {order_id} not found")
        lines = [_line(r, prefix="l_") for r in rows if r.l_line_no is not None]
        return self._hydrate(rows[:1], {order_id: lines})[0]

    def find_by_request_id(self, request_id: str) -> Order | None:
        row = self._db.execute(self._scoped(select(orders).where(orders.c.request_id == request_id))).first()
        return self._hydrate([row])[0] if row else None

    def attach(self, order: Order) -> None:
        """An order read in an earlier unit of work, to change and `save` in this one without
        reading it again: the version it was read at guards the update."""
        self._loaded_versions[order.order_id] = order.version
        self._track(order)

    def save(self, order: Order) -> None:
        """Write state changes; fails with VersionConflict if someone else changed it meanwhile."""
        loaded = self._loaded_versions[order.order_id]
        result = self._db.execute(
            _SAVE,
            dict(
                b_order_id=order.order_id,
                b_loaded=loaded,
                b_tenant=identity.current().tenant_id,
                state=order.state.value,
                version=order.version,
                approved_by=order.approved_by,
                approved_at=order.approved_at,
                revision=order.revision,
                revision_since=order.revision_since,
                due_date=order.due_date,
                priority=order.priority.value,
                pending_change_id=order.pending_change_id or None,
                state_before_change=order.state_before_change.value if order.state_before_change else None,
                production_state=order.production_state.value if order.production_state else None,
                delivery_address=order.delivery_address,
                custom_fields=order.custom_fields or None,
                delivery_batches=[b.as_dict() for b in order.batches] or None,
                materials_short=order.materials_short,
                materials_locked=order.materials_locked,
                lock_rule=order.lock_rule,
            ),
        )
        if result.rowcount != 1:
            raise VersionConflict(f"order {order.order_no} was changed by someone else; reload it")
        self._write_revisions(order, identity.current().tenant_id)
        self._write_transitions(order, identity.current().tenant_id)
        self._loaded_versions[order.order_id] = order.version

    def _hydrate(self, rows, lines: dict[str, list[OrderLine]] | None = None) -> list[Order]:
        if not rows:
            return []
        if lines is None:
            lines = {r.order_id: [] for r in rows}
            for ln in self._db.execute(
                select(order_lines)
                .where(order_lines.c.order_id.in_(list(lines)))
                .order_by(order_lines.c.line_no)
            ):
                lines[ln.order_id].append(_line(ln))
        out = []
        for r in rows:
            order = Order(
                order_id=r.order_id,
                order_no=r.order_no,
                customer_id=r.customer_id,
                channel=Channel(r.channel),
                priority=Priority(r.priority),
                due_date=r.due_date,
                lines=lines[r.order_id],
                created_by=r.created_by,
                created_at=r.created_at,
                state=OrderState(r.state),
                version=r.version,
                approved_by=r.approved_by,
                approved_at=r.approved_at,
                request_id=r.request_id or "",
                revision=r.revision,
                revision_since=r.revision_since,
                pending_change_id=r.pending_change_id or "",
                state_before_change=OrderState(r.state_before_change) if r.state_before_change else None,
                production_state=OrderState(r.production_state) if r.production_state else None,
                delivery_address=r.delivery_address,
                custom_fields=dict(r.custom_fields or {}),
                price_deviations=[PriceDeviation(**d) for d in (r.price_deviations or [])],
                batches=tuple(DeliveryBatch.from_dict(b) for b in (r.delivery_batches or [])),
                materials_short=r.materials_short,
                materials_locked=r.materials_locked,
                lock_rule=r.lock_rule,
            )
            self._loaded_versions[order.order_id] = order.version
            self._track(order)
            out.append(order)
        return out

    # Last in the class: a method named `list` shadows the builtin in annotations below it.
    def list(
        self,
        *,
        state: OrderState | None,
        due_from: date | None,
        due_to: date | None,
        page_size: int,
        page_token: str,
        order_no: str = "",
        customer_id: str = "",
        channel: Channel | None = None,
        priority: Priority | None = None,
        text: str = "",
        customer_ids: Sequence[str] = (),
        request_id: str = "",
    ) -> tuple[list[Order], str]:
        """One keyset page ordered by (due_date, order_id): cost independent of the page number."""
        query = self._scoped(select(orders))
        if state is not None:
            query = query.where(orders.c.state == state.value)
        if due_from:
            query = query.where(orders.c.due_date >= due_from)
        if due_to:
            query = query.where(orders.c.due_date <= due_to)
        if order_no:
            query = query.where(orders.c.order_no == order_no)
        if customer_id:
            query = query.where(orders.c.customer_id == customer_id)
        if channel is not None:
            query = query.where(orders.c.channel == channel.value)
        if priority is not None:
            query = query.where(orders.c.priority == priority.value)
        if request_id:
            query = query.where(orders.c.request_id == request_id)
        if text:
            # An order number's beginning (any case), or one of the customers found by name.
            if WHOLE_ORDER_NO.fullmatch(text.upper()):  # one number: the unique index finds it
                by_number = orders.c.order_no == text.upper()
            else:
                prefix = text.upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                by_number = orders.c.order_no.like(prefix, escape="\\")
            query = query.where(
                or_(by_number, orders.c.customer_id.in_(customer_ids)) if customer_ids else by_number
            )
        if page_token:
            after_due, after_id = decode_cursor(page_token)
            query = query.where(
                or_(
                    orders.c.due_date > after_due,
                    and_(orders.c.due_date == after_due, orders.c.order_id > after_id),
                )
            )
        rows = self._db.execute(
            query.order_by(orders.c.due_date, orders.c.order_id).limit(page_size + 1)
        ).all()
        page, token = keyset_page(rows, page_size, lambda r: (r.due_date.isoformat(), r.order_id))
        return self._hydrate(page), token


WHOLE_ORDER_NO = re.compile(r"[A-Z][A-Z0-9]{0,7}-\d{8}-\d{5}")  # HW-20261125-00042 (order_number)
_LINE_COLUMNS = [c.label(f"l_{c.name}") for c in order_lines.c]
# Statements of every create, approval and read, built once (statement cache hits; see Scoped).
_INSERT_ORDER = insert(orders)
_INSERT_LINES = insert(order_lines)
_INSERT_TRANSITIONS = insert(order_transitions)
_INSERT_REVISIONS = insert(order_revisions)
_HISTORY = Scoped(
    select(order_transitions)
    .where(order_transitions.c.order_id == bindparam("order_id"))
    .order_by(order_transitions.c.version),
    order_transitions,
)
# One round trip: the order row repeated beside each of its lines.
_GET = Scoped(
    select(orders, *_LINE_COLUMNS)
    .outerjoin(order_lines, order_lines.c.order_id == orders.c.order_id)
    .where(orders.c.order_id == bindparam("order_id"))
    .order_by(order_lines.c.line_no),
    orders,
    customer_column="customer_id",
)
# The SET clause comes from the parameters named like columns (state, version, approved_*).
_SAVE = update(orders).where(
    orders.c.order_id == bindparam("b_order_id"),
    orders.c.version == bindparam("b_loaded"),
    orders.c.tenant_id == bindparam("b_tenant"),
)


def _line(row, prefix: str = "") -> OrderLine:
    m = row._mapping
    return OrderLine(
        product_model=m[f"{prefix}product_model"],
        quantity=m[f"{prefix}quantity"],
        workshop=m[f"{prefix}workshop"],
        colour=m[f"{prefix}colour"],
        surface_treatment=m[f"{prefix}surface_treatment"],
        unit_price_fen=m[f"{prefix}unit_price_fen"],
        line_no=m[f"{prefix}line_no"],
        packaging=m[f"{prefix}packaging"],
        route=tuple(m[f"{prefix}route"] or (m[f"{prefix}workshop"],)),
    )


def _transition(r) -> Transition:
    return Transition(
        action=Action(r.action),
        from_state=OrderState(r.from_state) if r.from_state else None,
        to_state=OrderState(r.to_state),
        actor=r.actor,
        at=r.at,
        reason=r.reason,
        version=r.version,
        changes=tuple(FieldChange.from_dict(c) for c in (r.changes or [])),
    )


def content_as_dict(content: OrderContent) -> dict:
    return {
        "due_date": content.due_date.isoformat(),
        "priority": content.priority,
        "lines": [line_as_dict(x) for x in content.lines],
        "delivery_address": content.delivery_address,
        "custom_fields": dict(content.custom_fields),
        "batches": [b.as_dict() for b in content.batches],
    }


def content_from_dict(d: dict) -> OrderContent:
    """Stored content, including what was stored before a field existed (its default)."""
    return OrderContent(
        date.fromisoformat(d["due_date"]),
        d["priority"],
        tuple(OrderLine(**(x | {"route": tuple(x.get("route") or (x["workshop"],))})) for x in d["lines"]),
        d.get("delivery_address", ""),
        dict(d.get("custom_fields", {})),
        tuple(DeliveryBatch.from_dict(b) for b in d.get("batches", [])),
    )


def _id_part(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise ValueError("not a row id")
    return int(text)


def encode_cursor(due: date, order_id: str) -> str:
    return encode_token(due.isoformat(), order_id)


def decode_cursor(token: str) -> tuple[date, str]:
    # Decoded, the token is still the caller's input: only a real day and order id reach the query.
    return decode_token(token, day_part, uuid_part)
