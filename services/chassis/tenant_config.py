"""The schema of a tenant file (`tenants/<id>.toml`): every section, key and type a business line
may set, checked when a service starts.

Every section forbids keys it does not know (a misspelt key is an error, not a silent default) and
takes scalars strictly (`a_min_years = "5"` is refused, not read as 5). The sections every service
relies on today are required; the ones the coming features read are optional with defaults that
change nothing. `describe_errors` turns pydantic's errors into the one line an operator reads.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator
from pydantic.fields import FieldInfo

Text = Annotated[str, Strict(), Field(min_length=1)]  # a non-empty string
OptionalText = Annotated[str, Strict()]
Count = Annotated[int, Strict(), Field(ge=0)]
Hours = Annotated[float, Strict(), Field(gt=0)]  # 48 or 1.5; an integer is a number too
Flag = Annotated[bool, Strict()]
# Keys other files and the code refer to: workshop codes appear on order lines, field keys and
# rule names will be CEL identifiers.
WorkshopCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=32)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
ProductModel = Annotated[str, Field(min_length=1, max_length=128)]


@cache
def iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _iana_zone(name: str) -> str:
    if name not in iana_zones():
        close = difflib.get_close_matches(name, iana_zones(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{name!r} is not an IANA time zone such as 'Asia/Shanghai'{hint}")
    return name


class Section(BaseModel):
    """A table of the tenant file: unknown keys are refused, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BusinessLine(Section):
    """[tenant]: who the business line is and which calendar it keeps."""

    name_zh: Text
    name_en: Text
    # Order numbers read PREFIX-yyyymmdd-nnnnn (HW-20261125-00042).
    number_prefix: Annotated[str, Strict(), Field(pattern=r"^[A-Z][A-Z0-9]{0,7}$")]
    # The plant's calendar: the day in an order number, "today" for due dates, times shown to staff.
    timezone: Annotated[str, Strict(), AfterValidator(_iana_zone)]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Options(Section):
    """[options]: the option libraries order lines are checked against (empty = free text)."""

    colours: tuple[Text, ...] = ()
    surface_treatments: tuple[Text, ...] = ()
    product_models: tuple[ProductModel, ...] = ()
    packaging: tuple[Text, ...] = ()


class Entry(Section):
    """[entry]: which fields an order must have beyond product model and quantity (a line's
    colour, surface treatment, packaging; the order's delivery address)."""

    required: tuple[Literal["colour", "surface_treatment", "packaging", "delivery_address"], ...] = ()


class CustomerTiers(Section):
    """[customer_tiers]: tier A needs both the years and the yearly purchases (CNY), likewise B."""

    a_min_years: Count
    a_min_yearly_cny: Count
    b_min_years: Count
    b_min_yearly_cny: Count

    @model_validator(mode="after")
    def _a_above_b(self) -> CustomerTiers:
        if self.a_min_years < self.b_min_years or self.a_min_yearly_cny < self.b_min_yearly_cny:
            raise ValueError("tier A thresholds must not be below tier B's")
        return self


class Workshop(Section):
    """[workshops.<code>]: a workshop and the lead who is told of its work orders."""

    name: Text
    lead: Text


class DemoCustomer(Section):
    code: Text
    name: Text
    years_of_cooperation: Count
    yearly_purchases_cny: Count
    sales_owner: Text


class DemoStock(Section):
    product_model: ProductModel
    on_hand: Count


class DemoMaterial(Section):
    """Raw material the WMS simulator starts with (a real WMS has its own stock)."""

    material: Text
    unit: Text
    on_hand: Annotated[float, Strict(), Field(ge=0)] | Count
    location: OptionalText = ""


class DemoUser(Section):
    """A demo account (README lists them): staff with `roles`, or a customer-portal account with
    `customer` (a [[demo.customers]] code). Demo passwords are public: seed demo data only where
    nobody but the plant's staff can reach the system."""

    user: Text
    roles: tuple[Text, ...] = ()
    customer: OptionalText = ""
    display_name: OptionalText = ""
    password: Annotated[str, Strict(), Field(min_length=8, max_length=256)]


class Demo(Section):
    """[[demo.customers]], [[demo.stock]], [[demo.materials]], [[demo.users]]: what `seed` puts
    in an empty system."""

    customers: tuple[DemoCustomer, ...] = ()
    stock: tuple[DemoStock, ...] = ()
    materials: tuple[DemoMaterial, ...] = ()
    users: tuple[DemoUser, ...] = ()


class Wms(Section):
    """[wms]: the warehouse of the plant's WMS this business line draws materials from ("" = the
    tenant id). One per business line: reservations are kept per line, so two lines sharing a
    warehouse could promise the same stock (docs/wms-adapter.md)."""

    warehouse: Annotated[str, Field(pattern=r"^([A-Za-z0-9][A-Za-z0-9_.-]*)?$", max_length=32)] = ""


class Inventory(Section):
    """[inventory]: how approval treats materials. A product model with no BOM is refused at
    approval (its materials cannot be reserved) unless `accept_models_without_bom`."""

    accept_models_without_bom: Flag = False


# Sections the coming features read. Optional: a file without them behaves as today.


class BomLine(Section):
    """One material of a product model, per unit made; `colour` / `surface_treatment` narrow it to
    lines with that value (plating material depends on the colour)."""

    material: Text
    quantity_per_unit: Annotated[float, Strict(), Field(gt=0)]
    unit: Text
    colour: OptionalText = ""
    surface_treatment: OptionalText = ""
    # The routed workshop that consumes it (plating solution at plating); empty = the first
    # workshop of the model's route. Production's material requirements per work order use it.
    workshop: OptionalText = ""


class CatalogueItem(Section):
    """[catalogue.<SKU code>]: what a marketplace or agent SKU stands for. One SKU unit is
    `pack_size` pieces; `finish` is the surface treatment; `list_price_fen` is per piece (integer
    fen, never a float) and prices a marketplace line when the paid amount does not divide."""

    product_model: ProductModel
    finish: OptionalText = ""
    colour: OptionalText = ""
    packaging: OptionalText = ""
    pack_size: Annotated[int, Strict(), Field(ge=1)] = 1
    list_price_fen: Count | None = None


Platform = Literal["jd", "pdd", "tmall"]


class Shop(Section):
    """[shops.<key>]: a marketplace shop whose orders ingest pulls. The app secret and the
    seller's access token are not in the file: they come from the environment variable
    `credentials_env` as "<app secret>:<access token>" (a Kubernetes Secret in a cluster)."""

    platform: Platform
    name: Text
    app_key: Annotated[str, Strict(), Field(min_length=1, max_length=64)]
    credentials_env: Annotated[str, Strict(), Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
    # The customer (its code) the shop's orders are billed to unless the buyer is known.
    customer: Annotated[str, Strict(), Field(pattern=r"^[A-Z0-9][A-Z0-9_-]*$", max_length=32)]
    # "" = OMS_MARKETPLACE_URL's gateway for this platform (the simulator in development).
    endpoint: Annotated[str, Strict(), Field(pattern=r"^(https?://\S+)?$", max_length=300)] = ""
    flagship: Flag = False  # 旗舰店: the priority rule sees it as order.shop_flagship
    enabled: Flag = True
    pull_every_s: Annotated[float, Strict(), Field(ge=5, le=86400)] = 60.0
    # Each pull starts this far before the last one ended: late-indexed orders are not missed.
    overlap_s: Annotated[float, Strict(), Field(ge=0, le=86400)] = 300.0
    # An order without a due date gets the paid day plus this many days.
    lead_days: Annotated[int, Strict(), Field(ge=0, le=365)] = 7


class Ingest(Section):
    """[ingest]: how marketplace orders are screened. A buyer message containing one of
    `change_words` asks for something the SKU does not say (another colour or finish): the order
    waits for a person instead of being made as listed."""

    change_words: tuple[Text, ...] = (
        "改色", "换色", "改成", "换成", "改为", "颜色", "色号", "表面处理", "电镀", "喷涂", "喷粉", "镀",
        "colour", "color", "finish", "plating",
    )  # fmt: skip


class CustomField(Section):
    """[custom_fields.<key>]: an order field this business line adds without code."""

    label: Text
    type: Literal["text", "integer", "decimal", "date", "boolean", "choice"]
    required: Flag = False
    choices: tuple[Text, ...] = ()

    @model_validator(mode="after")
    def _choices_only_for_choice(self) -> CustomField:
        if self.type == "choice" and not self.choices:
            raise ValueError("a field of type 'choice' needs a non-empty `choices` list")
        if self.type != "choice" and self.choices:
            raise ValueError(f"`choices` is only for type 'choice', not {self.type!r}")
        return self


RuleKind = Literal["batch_merge", "material_lock", "ingest_priority"]
RuleParam = Annotated[int, Strict()] | Annotated[float, Strict()] | Annotated[str, Strict()] | Flag


class Rule(Section):
    """[rules.<name>]: a tenant rule in CEL, of one kind (which service applies it and which
    variables it sees: services/chassis/rules.py). `params` are its tunable figures, visible to the
    expression as `params.<key>` (a planner changes `min_orders` without touching the expression).
    Compiled and probed where it is used, at start-up."""

    kind: RuleKind
    expression: Annotated[str, Strict(), Field(min_length=1, max_length=2000)]
    description: OptionalText = ""
    enabled: Flag = True
    params: dict[Identifier, RuleParam] = {}


class Alerts(Section):
    """[alerts]: warn when work is unfinished this many hours before its due date (one warning
    per threshold), and when it is overdue (`overdue`)."""

    due_warning_hours: tuple[Hours, ...] = (48.0,)
    overdue: Flag = True

    @model_validator(mode="after")
    def _distinct(self) -> Alerts:
        if len(set(self.due_warning_hours)) != len(self.due_warning_hours):
            raise ValueError("due_warning_hours lists a threshold twice")
        return self


PersonRole = Literal["production_supervisor", "planner", "order_desk", "sales", "workshop_lead", "warehouse"]


class Person(Section):
    """[people.<name>]: someone the plant tells things, by role (the production supervisor hears
    of due-date risks). A workshop's lead and a customer's sales owner are named where they are
    ([workshops.<code>] lead, the customer's sales_owner); list them here for their channels."""

    roles: tuple[PersonRole, ...] = ()
    email: Address = ""
    mobile: Annotated[str, Strict(), Field(pattern=r"^(\+?[0-9]{6,15})?$")] = ""
    channels: tuple[Identifier, ...] = ()  # [notify.channels] names; each is used
    feishu_open_id: Annotated[str, Strict(), Field(pattern=r"^([A-Za-z0-9_-]{1,64})?$")] = ""
    # No messages between these times (plant time), e.g. "22:00-07:00"; urgent ones still go.
    quiet_hours: Annotated[
        str, Strict(), Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9])?$")
    ] = ""


EnvName = Annotated[str, Strict(), Field(pattern=r"^([A-Z][A-Z0-9_]{0,63})?$")]
# One line, no control characters: these end up in e-mail headers and robot messages.
Address = Annotated[
    str, Strict(), Field(pattern=r"^([^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63})?$")
]
HostName = Annotated[
    str, Strict(), Field(pattern=r"^([A-Za-z0-9]([A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])?$")
]
DisplayName = Annotated[str, Strict(), Field(pattern=r"^[^\x00-\x1f\x7f]{0,64}$")]
HttpUrl = Annotated[str, Strict(), Field(pattern=r"^(https?://\S+)?$", max_length=500)]


class NotifyChannel(Section):
    """[notify.channels.<name>]: one way to reach people (services/notify/channels, README
    "Channels"). Credentials are never in the file: a robot's URL holds its key, so it is named by
    `url_env` (or given as `url` when it holds none, e.g. a plant's own webhook); secrets by
    `secret_env`, `user_env`, `password_env`. A channel whose variables are unset is logged at
    start-up and its deliveries say so; the others still work."""

    type: Literal["wecom", "dingtalk", "feishu", "webhook", "smtp"]
    url: HttpUrl = ""
    url_env: EnvName = ""
    secret_env: EnvName = ""
    # smtp
    host: HostName = ""
    port: Annotated[int, Strict(), Field(ge=0, le=65535)] = 0
    security: Literal["starttls", "ssl", "plain"] = "starttls"
    from_address: Address = ""
    from_name: DisplayName = "中枢 OMS"
    user_env: EnvName = ""
    password_env: EnvName = ""
    timeout_s: Annotated[float, Strict(), Field(gt=0, le=60)] = 5.0

    @model_validator(mode="after")
    def _complete(self) -> NotifyChannel:
        if self.type == "smtp":
            if not (self.host and self.port and self.from_address):
                raise ValueError("an smtp channel needs host, port and from_address")
            stray = [k for k in ("url", "url_env", "secret_env") if getattr(self, k)]
        else:
            if bool(self.url) == bool(self.url_env):
                raise ValueError(f"a {self.type} channel needs exactly one of url and url_env")
            if self.url and self.type != "webhook":
                # a robot's URL is its credential (WeCom's key, DingTalk's token, Feishu's hook id)
                raise ValueError(f"a {self.type} robot's URL holds its key: name it by url_env, not url")
            if self.type == "webhook" and not self.secret_env:
                raise ValueError("a webhook channel needs secret_env (its requests are signed)")
            stray = [
                k for k in ("host", "port", "from_address", "user_env", "password_env") if getattr(self, k)
            ]
            stray += ["secret_env"] if self.type == "wecom" and self.secret_env else []
        if stray:
            raise ValueError(f"a {self.type} channel takes no {', '.join(stray)}")
        return self


class NotifyRetry(Section):
    """[notify.retry]: how a failing channel is retried (exponential backoff, the platform's own
    retry-after when longer); after `attempts` tries the delivery is given up as failed."""

    attempts: Annotated[int, Strict(), Field(ge=1, le=50)] = 10
    base_delay_s: Annotated[float, Strict(), Field(gt=0, le=3600)] = 5.0
    factor: Annotated[float, Strict(), Field(ge=1, le=10)] = 2.0
    max_delay_s: Annotated[float, Strict(), Field(gt=0, le=86400)] = 600.0


class Notify(Section):
    """[notify]: the channels notices go out on. `default_channels` reach a person listed under
    [people] without channels of their own, and anyone named elsewhere (a workshop's lead, a
    customer's sales owner) who is not listed. Which notices are urgent (sent in quiet hours) is
    the code's call where each is made: stop work, a due date at risk."""

    channels: dict[Identifier, NotifyChannel] = {}
    default_channels: tuple[Identifier, ...] = ()
    retry: NotifyRetry = NotifyRetry()


class PriceRules(Section):
    """[price_rules]: a typed unit price further than this from the contract price needs a
    manager's approval (0 = any difference)."""

    tolerance_percent: Annotated[float, Strict(), Field(ge=0, le=100)] = 0.0


TierLetter = Literal["A", "B", "C"]


class PriceVisibility(Section):
    """[price_visibility]: who sees prices (unit prices, contract prices, order values). Staff
    with one of `staff_roles` do (admin and other services always do); a customer-portal account
    does when its customer's tier is in `portal_tiers`. Everyone else gets the same answers with
    the price fields empty and a flag saying they are withheld (services/price_visibility.py)."""

    staff_roles: tuple[Text, ...] = ("sales", "approver", "manager", "finance")
    portal_tiers: tuple[TierLetter, ...] = ("A", "B")


class TenantConfig(Section):
    """A whole tenant file. The file's [tenant] table is `line` here (`tenant.line.timezone`)."""

    line: BusinessLine = Field(alias="tenant")
    options: Options
    entry: Entry = Entry()
    customer_tiers: CustomerTiers
    workshops: dict[WorkshopCode, Workshop]
    demo: Demo = Demo()
    routing: dict[ProductModel, tuple[WorkshopCode, ...]] = {}  # model → workshops in sequence
    bom: dict[ProductModel, tuple[BomLine, ...]] = {}
    catalogue: dict[Text, CatalogueItem] = {}
    shops: dict[Identifier, Shop] = {}
    ingest: Ingest = Ingest()
    custom_fields: dict[Identifier, CustomField] = {}
    rules: dict[Identifier, Rule] = {}
    alerts: Alerts = Alerts()
    people: dict[Text, Person] = {}
    notify: Notify = Notify()
    price_rules: PriceRules = PriceRules()
    price_visibility: PriceVisibility = PriceVisibility()
    wms: Wms = Wms()
    inventory: Inventory = Inventory()

    @model_validator(mode="after")
    def _references_resolve(self) -> TenantConfig:
        problems = []
        for model, steps in self.routing.items():
            if not steps:
                problems.append(f"routing.{toml_key(model)}: lists no workshop")
            problems += [
                f"routing.{toml_key(model)}[{i}]: workshop {code!r} is not declared under [workshops]"
                for i, code in enumerate(steps)
                if code not in self.workshops
            ]
        if self.options.product_models:
            problems += [
                f"routing.{toml_key(model)}: {model!r} is not in options.product_models"
                for model in self.routing
                if model not in self.options.product_models
            ]
        for model, lines in self.bom.items():
            for i, line in enumerate(lines):
                for key, allowed in (
                    ("colour", self.options.colours),
                    ("surface_treatment", self.options.surface_treatments),
                ):
                    value = getattr(line, key)
                    if value and allowed and value not in allowed:
                        problems.append(
                            f"bom.{toml_key(model)}[{i}].{key}: {value!r} is not in options.{key}s"
                        )
                if line.workshop and line.workshop not in self.workshops:
                    problems.append(
                        f"bom.{toml_key(model)}[{i}].workshop: {line.workshop!r}"
                        " is not declared under [workshops]"
                    )
                elif line.workshop and model in self.routing and line.workshop not in self.routing[model]:
                    problems.append(
                        f"bom.{toml_key(model)}[{i}].workshop: {line.workshop!r} is not on the route of"
                        f" {model!r} ({', '.join(self.routing[model])})"
                    )
        for sku, item in self.catalogue.items():
            for key, value, allowed in (
                ("product_model", item.product_model, self.options.product_models),
                ("finish", item.finish, self.options.surface_treatments),
                ("colour", item.colour, self.options.colours),
                ("packaging", item.packaging, self.options.packaging),
            ):
                if value and allowed and value not in allowed:
                    problems.append(
                        f"catalogue.{toml_key(sku)}.{key}: {value!r} is not in the option library"
                    )
        declared = self.notify.channels
        problems += [
            f"notify.default_channels: {name!r} is not declared under [notify.channels]"
            for name in self.notify.default_channels
            if name not in declared
        ]
        problems += [
            f"people.{toml_key(person)}.channels: {name!r} is not declared under [notify.channels]"
            for person, p in self.people.items()
            for name in p.channels
            if name not in declared
        ]
        problems += [
            f"people.{toml_key(person)}.email: needed for channel {name!r} (e-mail)"
            for person, p in self.people.items()
            for name in p.channels
            if name in declared and declared[name].type == "smtp" and not p.email
        ]
        kinds = [rule.kind for rule in self.rules.values() if rule.enabled]
        problems += [
            f"rules: {kinds.count(kind)} enabled rules of kind {kind!r}; at most one may be enabled"
            for kind in sorted(set(kinds))
            if kinds.count(kind) > 1
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


# One line for the operator: file, key path, what was expected.

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "tuple_type": "an array",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def describe_errors(error: ValidationError, model: type[BaseModel] = TenantConfig) -> str:
    return "; ".join(_describe(e, model) for e in error.errors(include_url=False))


def _describe(e: Any, model: type[BaseModel]) -> str:
    path = _path(e["loc"])
    where = f"{path}: " if path else ""
    kind = e["type"]
    got = e.get("input")
    if kind == "missing":
        expected = _annotation_at(model, e["loc"])
        table = get_origin(expected) is dict or _is_model(expected)
        return f"{where}missing ({'a required section' if table else 'a required key'})"
    if kind == "extra_forbidden":
        allowed = _keys_at(model, e["loc"][:-1])
        close = difflib.get_close_matches(str(e["loc"][-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{where}unknown key ({hint}expected one of: {', '.join(allowed)})"
    if kind in _EXPECTED:
        return f"{where}expected {_EXPECTED[kind]}, got {_toml_type(got)}{_shown(got)}"
    message = e["msg"].removeprefix("Value error, ")
    if message.startswith("Input should be "):
        message = "expected " + message.removeprefix("Input should be ")
    return f"{where}{message}" + ("" if kind == "value_error" else f", got {_shown(got)}")


def _path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        key = toml_key(str(part))
        out += f"[{part}]" if isinstance(part, int) else (f".{key}" if out else key)
    return out


def toml_key(key: str) -> str:
    """A key as it is written in a TOML file: bare when it can be, quoted otherwise."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f'"{key}"'


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _toml_type(value: Any) -> str:
    """What a TOML value is, as a prefix for it: "a string '5'" reads better than "'5'"."""
    if isinstance(value, list):
        return "an array "
    if isinstance(value, dict):
        return "a table "
    kinds = {str: "a string ", bool: "a boolean ", int: "an integer ", float: "a number "}
    return kinds.get(type(value), "")


def _unwrap(annotation: Any) -> Any:
    """The type behind Annotated[...] and X | None."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _annotation_at(model: type[BaseModel], loc: Iterable[int | str]) -> Any:
    """The type expected at a location of the file, following tables, arrays and sub-tables."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if _is_model(current):
            field = _field(current, str(part))
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is tuple:
            current = get_args(current)[0]
        else:
            return None
    return _unwrap(current)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field(model: type[BaseModel], key: str) -> FieldInfo | None:
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return field
    return None


def _keys_at(model: type[BaseModel], loc: Iterable[int | str]) -> list[str]:
    table = _annotation_at(model, loc)
    if _is_model(table):
        return [field.alias or name for name, field in table.model_fields.items()]
    return []
