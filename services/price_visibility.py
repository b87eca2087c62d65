"""Who sees prices: the one rule every service applies before an answer leaves it.

Prices (unit prices, contract prices, order values, amounts in diffs and audit entries) are shown
to staff whose roles the tenant file's [price_visibility] lists, to admins and to other services
(which pass them on only under this same rule), and to a customer-portal account whose customer's
tier is listed there (e.g. tier C sees status and quantities, no prices). A caller who may not see
them gets the same messages with the price fields empty and `prices_withheld` set, never an error.
"""

from __future__ import annotations

from services.chassis.identity import Identity
from services.chassis.tenant_config import PriceVisibility
from services.permissions import ADMIN

SERVICE = "service"


def tier_letter(tier: str) -> str:
    """ "TIER_A" (the proto/enum spelling) or "A" (the tenant file's) -> "A"."""
    return tier.removeprefix("TIER_")


def may_see_prices(caller: Identity, rules: PriceVisibility, customer_tier: str = "") -> bool:
    """`customer_tier` is the tier of the portal account's own customer ("" when unknown, which
    sees nothing); staff are judged by their roles alone."""
    if caller.customer_id:
        return bool(customer_tier) and tier_letter(customer_tier) in rules.portal_tiers
    if ADMIN in caller.roles or SERVICE in caller.roles:
        return True
    return not caller.roles.isdisjoint(rules.staff_roles)
