"""Every query a repository runs is restricted to the caller's tenant; a customer-portal caller
(a token bound to one customer) is further restricted to rows of that customer, and refused
outright on tables that do not belong to a customer."""

from __future__ import annotations

from sqlalchemy import Select, Table

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
