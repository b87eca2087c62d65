"""Other services the order service asks, over gRPC, for exactly what it needs."""

from __future__ import annotations

import time
from datetime import date

import grpc
from google.type import date_pb2

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.production.v1 import production_pb2, production_pb2_grpc
from services.chassis import identity
from services.chassis.errors import NotFound
from services.order.domain.changes import ImpactedMaterial, ImpactedWorkOrder, OrderLine
from services.order.domain.materials import ReservationResult, Shortage
from services.order.domain.model import Order
from services.order.service_layer.ports import ContractPrices, KnownCustomer, ShortageOverride


class GrpcCustomerDirectory:
    """Asks the customer service about a customer: does it exist, its tier (price visibility of
    portal accounts), is it active (only an active customer takes new orders). Customers are never
    deleted, so an answer is remembered for a while per tenant (an order form reuses the same few
    customers) and forgotten when one of the customer's events arrives (consumers.py); a "no such
    customer" is always asked again, since the customer may be registered a moment later."""

    def __init__(self, channel: grpc.Channel, remember_s: float = 300):
        self._stub = customer_pb2_grpc.CustomerServiceStub(channel)
        self._remember_s = remember_s
        self._known: dict[tuple[str, str], tuple[float, KnownCustomer]] = {}

    def look_up(self, customer_id: str) -> KnownCustomer | None:
        key = (identity.current().tenant_id, customer_id)
        until, known = self._known.get(key, (0.0, None))
        if known is not None and until > time.monotonic():
            return known
        try:
            # The channel shares the caller's deadline and translates a failure into a domain
            # error (services/chassis/client.py): only "no such customer" is an answer here.
            reply = self._stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id))
        except NotFound:
            return None
        if len(self._known) > 10_000:
            self._known.clear()
        known = KnownCustomer(customer_pb2.Tier.Name(reply.customer.tier), reply.customer.active)
        self._known[key] = (time.monotonic() + self._remember_s, known)
        return known

    def forget(self, tenant_id: str, customer_id: str) -> None:
        """The customer changed (deactivated, tier moved): ask again next time."""
        self._known.pop((tenant_id, customer_id), None)

    def matching(self, text: str) -> list[str]:
        reply = self._stub.ListCustomers(customer_pb2.ListCustomersRequest(query=text, page_size=100))
        return [c.customer_id for c in reply.customers]

    def exists(self, customer_id: str) -> bool:
        return self.look_up(customer_id) is not None

    def tier(self, customer_id: str) -> str:
        known = self.look_up(customer_id)
        return known.tier if known else ""


class GrpcShopFloor:
    """Production's work orders and inventory's material needs of one order, for the impact of a
    change (service_layer/impact.py), asked as the user requesting the change."""

    def __init__(self, production: grpc.Channel, inventory: grpc.Channel):
        self._production = production_pb2_grpc.ProductionServiceStub(production)
        self._inventory = inventory_pb2_grpc.InventoryServiceStub(inventory)

    def work_orders(self, order_id: str) -> list[ImpactedWorkOrder]:
        out, token = [], ""
        while True:
            reply = self._production.ListWorkOrders(
                production_pb2.ListWorkOrdersRequest(order_id=order_id, page_size=500, page_token=token)
            )
            # A cancelled work order (the order's earlier change took its workshop away) makes
            # nothing any more: no change can touch it.
            out += [
                ImpactedWorkOrder(
                    work_order_no=w.work_order_no,
                    workshop=w.workshop,
                    stage=production_pb2.Stage.Name(w.stage),
                    product_models=tuple(dict.fromkeys(x.product_model for x in w.lines)),
                    quantity=sum(x.quantity for x in w.lines),
                    touched=False,
                    good_quantity=w.good_quantity,
                    scrap_quantity=w.scrap_quantity,
                    revision=w.revision,
                    frozen=w.frozen,
                    step=w.step,
                )
                for w in reply.work_orders
                if not w.cancelled
            ]
            token = reply.next_page_token
            if not token:
                return out

    def materials(
        self, order_id: str, before: tuple[OrderLine, ...], after: tuple[OrderLine, ...]
    ) -> list[ImpactedMaterial]:
        reply = self._inventory.PreviewMaterialNeeds(
            inventory_pb2.PreviewMaterialNeedsRequest(
                order_id=order_id, before=_material_lines(before), after=_material_lines(after)
            )
        )
        return [
            ImpactedMaterial(
                m.material,
                m.unit,
                m.needed_before,
                m.needed_after,
                m.reserved,
                m.issued,
                available=m.available,
                at_risk=m.at_risk,
            )
            for m in reply.materials
        ]


class GrpcMaterialReservations:
    """Inventory's ReserveMaterials, asked as the approving user: the channel forwards the
    caller's own token (services/chassis/client.py), so inventory checks the approver's roles and
    records the override as theirs. A refusal arrives as the chassis translated it (inventory's
    FAILED_PRECONDITION naming the short materials -> FailedPrecondition, a WMS outage ->
    Unavailable), its message kept, and is left to reach the caller as it is."""

    def __init__(self, channel: grpc.Channel):
        self._stub = inventory_pb2_grpc.InventoryServiceStub(channel)

    def reserve(self, order: Order, override: ShortageOverride | None) -> ReservationResult:
        request = inventory_pb2.ReserveMaterialsRequest(
            order_id=order.order_id,
            order_no=order.order_no,
            revision=order.revision,
            customer_id=order.customer_id,
            amount_fen=order.total_fen(),
            priority=order.priority.value,
            lines=_material_lines(order.lines),
            override_shortage=override is not None,
            override_reason=override.reason if override else "",
        )
        r = self._stub.ReserveMaterials(request).reservation
        return ReservationResult(
            revision=r.revision,
            locked=r.locked,
            lock_rule=r.lock_rule,
            shortages=tuple(
                Shortage(m.material, m.unit, m.needed, m.short) for m in r.materials if m.short > 0
            ),
            override_reason=r.override_reason if r.overridden else "",
            overridden_by=r.overridden_by if r.overridden else "",
        )


def _material_lines(xs) -> list[inventory_pb2.MaterialLine]:
    return [
        inventory_pb2.MaterialLine(
            product_model=x.product_model,
            quantity=x.quantity,
            colour=x.colour,
            surface_treatment=x.surface_treatment,
        )
        for x in xs
    ]


class GrpcContractPrices:
    """The customer service's contract prices, asked as the order service itself: a portal
    account ordering may not see prices (services/price_visibility.py), but its order still takes
    the contract price; what the caller is shown is withheld by the order API."""

    def __init__(self, channel: grpc.Channel):
        self._stub = customer_pb2_grpc.CustomerServiceStub(channel)

    def resolve(self, customer_id: str, product_models: list[str], on: date) -> dict[str, int]:
        tenant = identity.current().tenant_id
        request = customer_pb2.ResolveContractPricesRequest(
            customer_id=customer_id,
            product_models=[customer_pb2.PriceQuery(product_model=m) for m in product_models],
            on_date=date_pb2.Date(year=on.year, month=on.month, day=on.day),
        )
        # No token of the caller's: the channel presents this service's own (OMS_SERVICE_TOKEN_FILE).
        with identity.acting_as(identity.Identity(tenant, "svc:order", frozenset({"service"}))):
            reply = self._stub.ResolveContractPrices(request)
        return {p.product_model: p.unit_price_fen for p in reply.prices if p.unit_price_fen > 0}


class RememberedContractPrices:
    """Contract prices as resolved, remembered per tenant, customer, day and model for a short
    while: every order asks, and the answer changes only when a price is set (measured: the
    customer service's lookup was ~6 ms of machine CPU per order). A `contract_price_set` event
    forgets the customer's answers, or the tenant's for a tier's list (consumers.py); `remember_s`
    bounds what a replica that did not get the event can still answer (events go to one replica)."""

    def __init__(self, prices: ContractPrices, remember_s: float = 30, clock=time.monotonic):
        self._prices = prices
        self._remember_s = remember_s
        self._clock = clock
        self._known: dict[tuple[str, str, date], tuple[float, dict[str, int]]] = {}

    def resolve(self, customer_id: str, product_models: list[str], on: date) -> dict[str, int]:
        key = (identity.current().tenant_id, customer_id, on)
        until, known = self._known.get(key, (0.0, {}))
        if until <= self._clock():
            known = {}
        missing = [m for m in product_models if m not in known]
        if missing:
            found = self._prices.resolve(customer_id, missing, on)
            known = {**known, **{m: found.get(m, 0) for m in missing}}  # 0: no contract price
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[key] = (until if until > self._clock() else self._clock() + self._remember_s, known)
        return {m: known[m] for m in product_models if known.get(m, 0) > 0}

    def forget(self, tenant_id: str, customer_id: str = "") -> None:
        """A customer's answers, or (no customer: a tier's list changed) the whole tenant's."""
        for key in [k for k in self._known if k[0] == tenant_id and (not customer_id or k[1] == customer_id)]:
            self._known.pop(key, None)
