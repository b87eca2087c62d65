"""Every query a repository runs is restricted to the caller's tenant; a customer-portal caller
(a token bound to one customer) is further restricted to rows of that customer, and refused
outright on tables that do not belong to a customer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, bindparam

from services.chassis import identity
from services.chassis.errors import PermissionDenied


def scoped(query: Select, table: Table, *, customer_column: str | None = None) -> Select:
    caller = identity.current()
    query = query.where(table.c.tenant_id == caller.tenant_id)
    if caller.customer_id:
        if customer_column is None:
            raise PermissionDenied(f"a customer-portal account cannot read {table.name}")
        query = query.where(table.c[customer_column] == caller.customer_id)
    return query


class Scoped:
    """A hot query built once and scoped per call by bound parameters, so SQLAlchemy's statement
    cache serves it instead of building and keying a new statement each time (the same rule as
    `scoped`, for queries that run on every request or event).

        GET = Scoped(select(orders).where(orders.c.order_id == bindparam("order_id")), orders, "customer_id")
        conn.execute(*GET.bind(order_id=order_id))
    """

    def __init__(self, query: Select, table: Table, customer_column: str | None = None):
        self._table = table
        self._staff = query.where(table.c.tenant_id == bindparam("scope_tenant"))
        self._portal = (
            self._staff.where(table.c[customer_column] == bindparam("scope_customer"))
            if customer_column
            else None
        )

    def bind(self, **params: Any) -> tuple[Select, dict[str, Any]]:
        caller = identity.current()
        if caller.customer_id:
            if self._portal is None:
                raise PermissionDenied(f"a customer-portal account cannot read {self._table.name}")
            return self._portal, {
                "scope_tenant": caller.tenant_id,
                "scope_customer": caller.customer_id,
                **params,
            }
        return self._staff, {"scope_tenant": caller.tenant_id, **params}
