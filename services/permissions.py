"""Who may call what: every RPC of every service, with the roles that may call it.

The chassis interceptor looks the method up here after checking the token and before the request
is validated or any handler runs; a caller without one of the roles gets PERMISSION_DENIED. An
RPC missing from this table is refused to everyone (and tests/unit/test_permissions.py fails), so
a new RPC is added here in the same change that adds it to a proto.

Roles (the `roles` claim of a token):

    sales          销售     customers, orders, phone orders
    approver       审批     approves orders
    planner        计划     plans production from approved orders
    workshop_lead  车间主任  a workshop's work orders and the notices about them
    manager        经理     reads everything
    warehouse      仓库     ships orders (order lifecycle)
    finance        财务     closes shipped orders (order lifecycle)
    service        a service acting on its own, without a user (an event consumer calling a peer)
    admin          everything staff may do (never what only a portal account may do)
    customer       a customer-portal account: its token names one customer (`customer` claim)

A portal account (a token with a `customer` claim) may call only the RPCs marked `portal=True`,
and only with the role `customer`; the repositories then show it that customer's rows alone
(services/chassis/scoping.py). A staff token that merely carries the role `customer` without
naming a customer gets nothing from it.

Calls between services carry the original caller's token, so the callee checks the same user:
CreateOrder asks customer.GetCustomer as the sales person (or portal account) who is ordering,
ApproveOrder asks inventory.ReserveMaterials as the approver, a phone order reaches CreateOrder
as the sales person who took it. Those nested calls are why GetCustomer and ReserveMaterials
admit the roles of their callers' callers.

Health checks and reflection are open to anyone and are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.chassis.errors import PermissionDenied
from services.chassis.identity import Identity
from services.order.domain.lifecycle import ROLES as LIFECYCLE_ROLES
from services.order.domain.lifecycle import Action

ADMIN = "admin"
PORTAL_ROLE = "customer"
ROLES = (
    "sales",
    "approver",
    "planner",
    "workshop_lead",
    "manager",
    "warehouse",
    "finance",
    "service",
    ADMIN,
    PORTAL_ROLE,
)
# Roles a person's account may hold (services/identity): not "service", which is for services
# acting on their own; "customer" only alone, on a portal account.
PERSON_ROLES = tuple(r for r in ROLES if r not in ("service", PORTAL_ROLE))


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]  # staff roles, any one of which may call (admin always may)
    portal: bool = False  # may a customer-portal account call it (scoped to its own customer)?
    # Needs no token at all (sign-in): the handler checks what the request proves.
    open: bool = False

    def allows(self, caller: Identity) -> bool:
        if caller.customer_id:  # a portal account: only portal RPCs, only as a customer
            return self.portal and PORTAL_ROLE in caller.roles
        return ADMIN in caller.roles or not self.roles.isdisjoint(caller.roles)

    def describe(self) -> str:
        if self.open:
            return "nothing (open to anyone)"
        who = sorted(self.roles | {ADMIN})
        return f"one of the roles {who}" + (" or a customer-portal account" if self.portal else "")


# Sign-in, refresh and sign-out: the password or refresh token in the request is the proof.
OPEN = Rule(frozenset(), open=True)


def allow(*roles: str, portal: bool = False) -> Rule:
    unknown = set(roles) - set(ROLES) | ({PORTAL_ROLE} & set(roles))
    if unknown:
        raise ValueError(f"not staff roles: {sorted(unknown)} (portal accounts: portal=True)")
    return Rule(frozenset(roles), portal)


# Who may accept an order whose materials are short (缺料接单, ApproveOrder override_shortage): a
# manager, not a routine approver. Accepting an order without its materials is the over-commit
# (超接订单) reservations exist to prevent: it takes material other orders are promised and risks
# their due dates, a commercial call like accepting an off-contract price (also a manager's).
# Checked by the order service's approval and again by inventory where the override is recorded
# (an approver calling ReserveMaterials directly must not get past it).
SHORTAGE_OVERRIDE_ROLES = frozenset({"manager"})


def may_accept_shortage(caller: Identity) -> bool:
    return bool(caller.roles & (SHORTAGE_OVERRIDE_ROLES | {ADMIN})) and not caller.customer_id


def refuse_shortage_override(caller: Identity) -> PermissionDenied:
    return PermissionDenied(
        f"缺料接单需经理批准 only a manager accepts an order short of materials "
        f"(one of the roles {sorted(SHORTAGE_OVERRIDE_ROLES)}); {caller.user} may approve it once "
        "its materials are there"
    )


# Whoever has signed in, staff or portal account: what a person may do for themselves.
SIGNED_IN = allow(*(r for r in PERSON_ROLES if r != ADMIN), portal=True)
STAFF_READERS = ("sales", "approver", "planner", "manager")
SHOP_FLOOR = ("planner", "workshop_lead", "manager", "sales", "approver")

# service (full proto name) -> RPC -> who may call it
PERMISSIONS: dict[str, dict[str, Rule]] = {
    "oms.customer.v1.CustomerService": {
        "CreateCustomer": allow("sales", "manager"),
        # order's CreateOrder asks as the one ordering: sales, service, or a portal account (its own record)
        "GetCustomer": allow(*STAFF_READERS, "service", portal=True),
        # ingest matches marketplace shops and agents' sheets to customers, as its service
        "ListCustomers": allow(*STAFF_READERS, "service"),
        "UpdateCustomer": allow("sales", "manager"),
        "DeactivateCustomer": allow("sales", "manager"),
        "ReactivateCustomer": allow("sales", "manager"),
        "ListTierChanges": allow(*STAFF_READERS),
        # contract prices are set by those who negotiate and book them
        "SetContractPrice": allow("manager", "finance"),
        # a portal account lists its own customer's (prices shown by its tier, price_visibility.py)
        "ListContractPrices": allow(*STAFF_READERS, "finance", portal=True),
        # order's CreateOrder asks as itself (role service) for the prices of its lines
        "ResolveContractPrices": allow(*STAFF_READERS, "service"),
    },
    "oms.inventory.v1.InventoryService": {
        # finished goods on hand (deprecated: approval reserves materials instead)
        "CheckAvailability": allow(*STAFF_READERS, "service"),
        # order's RequestOrderChange asks as the one requesting the change (impact preview)
        "PreviewMaterialNeeds": allow(*LIFECYCLE_ROLES[Action.REQUEST_CHANGE], *STAFF_READERS),
        "CheckMaterials": allow(*STAFF_READERS, "warehouse", "service"),
        # order's ApproveOrder reserves as the approver (an override is theirs, audited)
        "ReserveMaterials": allow(*LIFECYCLE_ROLES[Action.APPROVE], "service"),
        # the warehouse hands material to the shop floor (领料)
        "IssueMaterials": allow("warehouse", "workshop_lead", "planner", "manager"),
        "ListReservations": allow(*SHOP_FLOOR, "warehouse"),
        "ListMaterialStock": allow(*SHOP_FLOOR, "warehouse"),
        # a planner tries a rule change on history before it is enabled
        "DryRunRule": allow("planner", "manager"),
    },
    "oms.order.v1.OrderService": {
        # ingest's SubmitPhoneOrder calls it as the sales person who took the call
        # Lifecycle steps: the roles of the order's own state machine (order/domain/lifecycle.py)
        "CreateOrder": allow(*LIFECYCLE_ROLES[Action.CREATE], portal=True),
        # the warehouse reads the orders it ships and issues material to (prices withheld from it)
        # ingest reads an order's state to cancel it when its marketplace order is cancelled
        "GetOrder": allow(*STAFF_READERS, "warehouse", "service", portal=True),
        # ingest asks which order its create made when the answer was lost (request_id)
        "ListOrders": allow(*STAFF_READERS, "warehouse", "service", portal=True),
        "ApproveOrder": allow(*LIFECYCLE_ROLES[Action.APPROVE]),
        "SubmitOrder": allow(*LIFECYCLE_ROLES[Action.SUBMIT]),
        "CancelOrder": allow(*LIFECYCLE_ROLES[Action.CANCEL]),
        # staff names and reasons: not for portal accounts
        "ListOrderHistory": allow(*STAFF_READERS),
        # option libraries, workshop names and the plant's time zone: what any order form or
        # screen needs, staff or portal (no people and no prices in it)
        "GetTenantOptions": allow(*STAFF_READERS, "workshop_lead", portal=True),
        # Change control: the roles of the state machine's change steps
        "RequestOrderChange": allow(*LIFECYCLE_ROLES[Action.REQUEST_CHANGE]),
        "ApproveOrderChange": allow(*LIFECYCLE_ROLES[Action.APPROVE_CHANGE]),
        "RejectOrderChange": allow(*LIFECYCLE_ROLES[Action.REJECT_CHANGE]),
        # what changed and why, staff names included: staff only
        # a portal account: its own orders' changes and their outcome, without the impact
        "GetOrderChange": allow(*STAFF_READERS, portal=True),
        "ListOrderChanges": allow(*STAFF_READERS, portal=True),
        "ListOrderAudit": allow(*STAFF_READERS, "finance"),
        # the content over time, with who approved each change and why
        "ListOrderRevisions": allow(*STAFF_READERS),
        "ShipOrder": allow(*LIFECYCLE_ROLES[Action.SHIP]),
        "CloseOrder": allow(*LIFECYCLE_ROLES[Action.CLOSE]),
        "RerouteOrderLine": allow(*LIFECYCLE_ROLES[Action.REROUTE]),
        # 售后申请: a customer's contact on the portal, or their sales person for them
        "SubmitAfterSalesRequest": allow("sales", "manager", portal=True),
        "ListAfterSalesRequests": allow(*STAFF_READERS, "warehouse", portal=True),
        # where each line is on the shop floor: the portal shows a customer its own
        "ListOrderProgress": allow(*STAFF_READERS, "warehouse", portal=True),
    },
    "oms.production.v1.ProductionService": {
        "ListWorkOrders": allow(*SHOP_FLOOR),
        "GetWorkOrder": allow(*SHOP_FLOOR),
        "ListBatchTasks": allow(*SHOP_FLOOR),
        "GetBatchTask": allow(*SHOP_FLOOR),
        # a planner tries a merge-rule change on history before it is enabled
        "DryRunRule": allow("planner", "manager"),
        # the shop-floor board (看板): whoever watches the floor
        "GetBoard": allow(*SHOP_FLOOR),
        # 报工: the workshop's lead (and a planner or manager standing in), never sales.
        "ReportStage": allow("workshop_lead", "planner", "manager"),
        "ListWorkOrderRevisions": allow(*SHOP_FLOOR),
    },
    "oms.ingest.v1.IngestService": {
        "SubmitPhoneOrder": allow("sales"),
        "GetAttachment": allow("sales", "approver", "manager"),
        # the order desk (sales) works the shops, the review queue and the agents' sheets
        "ListShops": allow(*STAFF_READERS),
        "PullShop": allow("sales", "manager"),
        "ListReviewItems": allow("sales", "approver", "manager"),
        "GetReviewItem": allow("sales", "approver", "manager"),
        "ResolveReviewItem": allow("sales", "manager"),
        "GetUploadTemplate": allow("sales", "manager"),
        "UploadAgentSheet": allow("sales", "manager"),
        "GetIngestReport": allow(*STAFF_READERS),
    },
    "oms.identity.v1.IdentityService": {
        "SignIn": OPEN,
        "RefreshSession": OPEN,
        "SignOut": OPEN,
        # every signed-in person, staff or portal, for themselves
        "ChangePassword": SIGNED_IN,
        "WhoAmI": SIGNED_IN,
        # the user directory: administrators only
        "CreateUser": allow(),
        "ListUsers": allow(),
        "UpdateUser": allow(),
        "ResetPassword": allow(),
    },
    "oms.notify.v1.NotifyService": {
        "ListNotifications": allow("workshop_lead", "planner", "manager", "sales"),
        "ListAlerts": allow("workshop_lead", "planner", "manager", "sales"),
        "ListDeliveries": allow("workshop_lead", "planner", "manager", "sales"),
        # by one of its recipients (checked by notify), whatever their role
        "AcknowledgeAlert": allow("workshop_lead", "planner", "manager", "sales", "approver", "warehouse"),
    },
}

_BY_METHOD: dict[str, Rule] = {
    f"/{service}/{rpc}": rule for service, rpcs in PERMISSIONS.items() for rpc, rule in rpcs.items()
}


def rule_methods() -> list[str]:
    """Every RPC the table lists, as gRPC method paths."""
    return list(_BY_METHOD)


def rule_for(method: str) -> Rule | None:
    """The rule of a gRPC method path (`/oms.order.v1.OrderService/GetOrder`), None if unlisted."""
    return _BY_METHOD.get(method)


def check(method: str, rule: Rule | None, caller: Identity) -> None:
    if rule is None:
        raise PermissionDenied(f"{method} has no entry in services/permissions.py: nobody may call it")
    if not rule.allows(caller):
        raise PermissionDenied(
            f"{caller.user} may not call {method.rpartition('/')[2]}: needs {rule.describe()}"
        )
