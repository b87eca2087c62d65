"""The field rules every request declares (protovalidate, enforced by the chassis before any
handler runs), checked over every RPC of every service so a field added later is covered too:

* no string field of any request accepts a control character (C0 including NUL, TAB, CR/LF and
  ESC; DEL; C1), while ordinary Chinese text, full-width characters and emoji pass;
* every quantity and amount has an upper bound, so no sum or product of them can overflow.
"""

from __future__ import annotations

from collections.abc import Iterator

import protovalidate
import pytest
from buf.validate import validate_pb2
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.type import date_pb2

from oms.common.v1 import text_pb2
from oms.customer.v1 import customer_pb2
from oms.ingest.v1 import ingest_pb2
from oms.inventory.v1 import inventory_pb2
from oms.notify.v1 import notify_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from services.chassis.interceptors import field_violations

SERVICE_FILES = (customer_pb2, ingest_pb2, inventory_pb2, notify_pb2, order_pb2, production_pb2)

C0 = [chr(c) for c in range(0x00, 0x20)]
C1 = [chr(c) for c in range(0x80, 0xA0)]
CONTROLS = [*C0, "\x7f", *C1]

# Text people really type into names and models: Chinese, full-width forms (全角), ideographic
# space, emoji with a zero-width joiner and a variation selector, accents, no-break space.
ORDINARY_TEXT = [
    "HB-2040 铰链 hinge",
    "ＳＵＳ３０４　不锈钢",
    "格力电器（珠海）有限公司",
    "螺丝 🔩 screw 👨‍👩‍👧 ✔️",
    "Müller Präzision GmbH",
    "A\u00a0B\u3000C 《支架》",
]


def request_types() -> list[Descriptor]:
    seen: dict[str, Descriptor] = {}
    for module in SERVICE_FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                seen.setdefault(method.input_type.full_name, method.input_type)
    return list(seen.values())


def fields_of(descriptor: Descriptor, wanted, path=()) -> Iterator[tuple[FieldDescriptor, ...]]:
    """Every field (through nested messages) for which `wanted(field)` holds, as a path."""
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE and len(path) < 5:
            yield from fields_of(field.message_type, wanted, (*path, field))
        elif wanted(field):
            yield (*path, field)


def with_value(descriptor: Descriptor, path: tuple[FieldDescriptor, ...], value):
    """A request of that type with only the field at `path` set (one element for repeated)."""
    request = message_factory.GetMessageClass(descriptor)()
    target = request
    for field in path[:-1]:
        target = getattr(target, field.name).add() if _repeated(field) else getattr(target, field.name)
    leaf = path[-1]
    if _repeated(leaf):
        getattr(target, leaf.name).append(value)
    else:
        setattr(target, leaf.name, value)
    return request


def _repeated(field: FieldDescriptor) -> bool:
    return field.is_repeated


def path_name(path: tuple[FieldDescriptor, ...]) -> str:
    """The field path as the chassis names it in a BadRequest: lines[0].product_model."""
    return ".".join(f.name + ("[0]" if _repeated(f) else "") for f in path)


def violated_fields(request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in field_violations(protovalidate.ValidationError("", protovalidate.collect_violations(request))):
        out.setdefault(v.field, []).append(v.description)
    return out


def rules_of(field: FieldDescriptor) -> validate_pb2.FieldRules:
    return field.GetOptions().Extensions[validate_pb2.field]


def element_rules(field: FieldDescriptor) -> validate_pb2.FieldRules:
    """The rules each value obeys: a repeated scalar's are its `items` rules."""
    rules = rules_of(field)
    return rules.repeated.items if _repeated(field) else rules


def is_free_text(field: FieldDescriptor) -> bool:
    """A string field that takes words (a name, a model, a key), not a fixed format."""
    rules = element_rules(field).string
    return not (rules.pattern or rules.uuid or rules.HasField("well_known_regex"))


def string_fields(only=lambda field: True):
    return [
        pytest.param(d, path, id=f"{d.name}.{path_name(path)}")
        for d in request_types()
        for path in fields_of(d, lambda f: f.type == FieldDescriptor.TYPE_STRING and only(f))
    ]


def test_every_service_is_inspected():
    names = {d.name for d in request_types()}

    assert {"CreateOrderRequest", "SubmitPhoneOrderRequest", "CreateCustomerRequest"} <= names
    assert {"CheckAvailabilityRequest", "ListNotificationsRequest", "ListWorkOrdersRequest"} <= names
    assert len(string_fields()) >= 20 and len(string_fields(only=is_free_text)) >= 10


@pytest.mark.parametrize(("descriptor", "path"), string_fields())
def test_no_control_character_is_accepted_in_any_string_field(descriptor, path):
    accepted = []
    multi_line = element_rules(path[-1]).string.Extensions[text_pb2.multi_line]
    for control in [c for c in CONTROLS if not (multi_line and c in "\r\n")]:  # remarks keep line breaks
        for value in (f"HB-2040{control}X", control, f"{control}" * 3):
            found = violated_fields(with_value(descriptor, path, value))
            if path_name(path) not in found:
                accepted.append(f"U+{ord(control):04X} in {value!r}")
                break

    assert accepted == [], f"{descriptor.name}.{path_name(path)} accepts control characters"


@pytest.mark.parametrize(("descriptor", "path"), string_fields(only=is_free_text))
def test_free_text_fields_use_the_one_shared_rule(descriptor, path):
    """One rule for all free text (`oms.common.v1.single_line`, or `multi_line` for a remark that
    may span lines), so its wording and its regex are the same everywhere; fixed formats (UUIDs,
    dates, codes) refuse controls by their pattern."""
    rules = element_rules(path[-1]).string
    assert rules.Extensions[text_pb2.single_line] or rules.Extensions[text_pb2.multi_line]


@pytest.mark.parametrize(("descriptor", "path"), string_fields(only=is_free_text))
def test_ordinary_text_passes_every_free_text_field(descriptor, path):
    for text in ORDINARY_TEXT:
        found = violated_fields(with_value(descriptor, path, text))
        assert path_name(path) not in found, (text, found)


def test_a_control_character_is_named_with_a_clear_reason():
    request = order_pb2.CreateOrderRequest(
        lines=[order_pb2.OrderLine(product_model="HB-2040\x1b[31m", workshop="stamping-1", quantity=1)]
    )

    [description] = violated_fields(request)["lines[0].product_model"]
    assert "control characters" in description and "oms.single_line" in description


def test_a_nul_byte_is_refused_in_a_customer_name():
    request = customer_pb2.CreateCustomerRequest(code="MIDEA-SD", name="美的\x00集团", sales_owner="陈丽")

    assert set(violated_fields(request)) == {"name"}


def _integers(field: FieldDescriptor) -> bool:
    return field.cpp_type in (
        FieldDescriptor.CPPTYPE_INT32,
        FieldDescriptor.CPPTYPE_INT64,
        FieldDescriptor.CPPTYPE_UINT32,
        FieldDescriptor.CPPTYPE_UINT64,
    )


def _in_a_date(path: tuple[FieldDescriptor, ...]) -> bool:
    return any(f.message_type is not None and f.message_type.full_name == DATE for f in path[:-1])


TIMESTAMP = "google.protobuf.Timestamp"


def _in_a_timestamp(path: tuple[FieldDescriptor, ...]) -> bool:
    return any(f.message_type is not None and f.message_type.full_name == TIMESTAMP for f in path[:-1])


def integer_fields():
    return [
        pytest.param(d, path, id=f"{d.name}.{path_name(path)}")
        for d in request_types()
        # a version number is compared for equality only (its int32 type bounds it); a date's
        # year, month and day are bounded by the date rule its field declares (below), a
        # timestamp's seconds by its timestamp rule (test_every_timestamp_is_bounded)
        for path in fields_of(d, lambda f: _integers(f) and f.name != "expected_version")
        if not _in_a_date(path) and not _in_a_timestamp(path)
    ]


def timestamp_fields():
    return [
        pytest.param(d, path[-1], id=f"{d.name}.{path_name(path)}")
        for d in request_types()
        for path in fields_of(d, lambda f: True)
        if len(path) >= 2 and path[-2].message_type.full_name == TIMESTAMP and path[-1].name == "seconds"
        for path in [path[:-1]]
    ]


def test_requests_with_timestamps_are_inspected():
    assert {p.id for p in timestamp_fields()} >= {
        "GetOrderRequest.as_of",
        "ListOrderAuditRequest.since",
        "ListOrderAuditRequest.until",
    }


@pytest.mark.parametrize(("descriptor", "field"), timestamp_fields())
def test_every_timestamp_is_bounded_to_years_1_to_9999(descriptor, field):
    """Seconds a caller sets freely must not reach a datetime conversion unchecked."""
    rules = rules_of(field).timestamp
    assert rules.gte.seconds == -62135596800, "from 0001-01-01T00:00:00Z"
    assert rules.lte.seconds == 253402300799, "up to 9999-12-31T23:59:59Z"


DATE = "google.type.Date"


def date_fields():
    return [
        pytest.param(d, d.fields_by_name[f.name], id=f"{d.name}.{f.name}")
        for d in request_types()
        for f in d.fields
        if f.message_type is not None and f.message_type.full_name == DATE
    ]


def test_requests_with_dates_are_inspected():
    assert {p.id for p in date_fields()} >= {
        "CreateOrderRequest.due_date",
        "ListOrdersRequest.due_from",
        "ListOrdersRequest.due_to",
        "SubmitPhoneOrderRequest.due_date",
    }


@pytest.mark.parametrize(("descriptor", "field"), date_fields())
def test_every_date_in_a_request_declares_the_one_calendar_day_rule(descriptor, field):
    """Each google.type.Date field carries the same `oms.date` rule (proto has no predefined
    rules for messages, so the rule is written out per field: this keeps the copies equal)."""
    [rule] = rules_of(field).cel
    [reference] = rules_of(order_pb2.CreateOrderRequest.DESCRIPTOR.fields_by_name["due_date"]).cel
    assert (rule.id, rule.expression, rule.message) == ("oms.date", reference.expression, reference.message)


@pytest.mark.parametrize(("descriptor", "field"), date_fields())
def test_a_date_must_be_a_real_day(descriptor, field):
    def found(year, month, day):
        request = message_factory.GetMessageClass(descriptor)()
        getattr(request, field.name).CopyFrom(date_pb2.Date(year=year, month=month, day=day))
        return violated_fields(request).get(field.name, [])

    for real in [(2026, 12, 20), (2024, 2, 29), (2000, 2, 29), (2026, 4, 30), (1, 1, 1), (9999, 12, 31)]:
        assert found(*real) == [], real
    for impossible in [
        (2026, 2, 29),  # not a leap year
        (1900, 2, 29),  # centuries are not, unless divisible by 400
        (2026, 4, 31),
        (2026, 13, 1),
        (2026, 0, 10),
        (2026, 12, 0),
        (0, 12, 20),  # google.type.Date's "no year" (an anniversary) is no due date
        (10000, 1, 1),
        (-5, 1, 1),
        (2026, 12, 2**31 - 1),
    ]:
        assert [d for d in found(*impossible) if "oms.date" in d], impossible


@pytest.mark.parametrize(("descriptor", "path"), integer_fields())
def test_every_number_in_a_request_has_an_upper_bound(descriptor, path):
    """Quantities, amounts and page sizes: each has a declared maximum."""
    _bound(path[-1])


def _kind(field: FieldDescriptor) -> str:
    return {
        FieldDescriptor.TYPE_INT32: "int32",
        FieldDescriptor.TYPE_INT64: "int64",
        FieldDescriptor.TYPE_UINT32: "uint32",
        FieldDescriptor.TYPE_UINT64: "uint64",
        FieldDescriptor.TYPE_SINT32: "sint32",
        FieldDescriptor.TYPE_SINT64: "sint64",
    }[field.type]


MOST_PER_ORDER_AND_MODEL = 200 * 10_000_000  # max lines of an order × max quantity of a line
INT64_MAX = 2**63 - 1


def test_what_an_order_asks_inventory_for_fits_the_inventory_contract():
    """The order service sums its lines per model before asking inventory: the largest order
    (200 lines of one model at the line maximum) must pass inventory's rules."""
    line_max = _bound(order_pb2.OrderLine.DESCRIPTOR.fields_by_name["quantity"])
    item_max = _bound(inventory_pb2.RequestedItem.DESCRIPTOR.fields_by_name["quantity"])
    max_lines = rules_of(order_pb2.CreateOrderRequest.DESCRIPTOR.fields_by_name["lines"]).repeated.max_items

    assert max_lines * line_max <= item_max
    protovalidate.validate(
        inventory_pb2.CheckAvailabilityRequest(
            items=[inventory_pb2.RequestedItem(product_model="HB-2040", quantity=max_lines * line_max)]
        )
    )


def test_the_largest_availability_sum_fits_its_reply_field():
    item_max = _bound(inventory_pb2.RequestedItem.DESCRIPTOR.fields_by_name["quantity"])
    max_items = rules_of(inventory_pb2.CheckAvailabilityRequest.DESCRIPTOR.fields_by_name["items"]).repeated

    largest = max_items.max_items * item_max
    assert largest <= INT64_MAX
    assert inventory_pb2.ItemAvailability(requested=largest).requested == largest


def test_the_largest_order_total_fits_in_64_bits():
    """quantity × unit price summed over every line of an order: no total an order can state
    overflows a 64-bit integer (fen)."""
    line = order_pb2.OrderLine.DESCRIPTOR.fields_by_name
    max_lines = rules_of(order_pb2.CreateOrderRequest.DESCRIPTOR.fields_by_name["lines"]).repeated.max_items

    assert max_lines * _bound(line["quantity"]) * _bound(line["unit_price_fen"]) <= INT64_MAX


def test_a_quantity_above_the_line_maximum_is_refused():
    request = inventory_pb2.CheckAvailabilityRequest(
        items=[inventory_pb2.RequestedItem(product_model="HB-2040", quantity=MOST_PER_ORDER_AND_MODEL + 1)]
    )

    assert set(violated_fields(request)) == {"items[0].quantity"}


def _bound(field: FieldDescriptor) -> int:
    rules = getattr(rules_of(field), _kind(field))
    assert rules.HasField("lte") or rules.HasField("lt"), f"{field.full_name} has no upper bound"
    return rules.lte if rules.HasField("lte") else rules.lt - 1


def test_the_multi_line_rule_keeps_line_breaks_and_refuses_other_controls():
    """The rule remarks declare (SubmitAfterSalesRequestRequest.description), checked on a
    message built for the purpose."""
    remark = _message_with_rule("multi_line")

    for text in ["第一行\n第二行", "line one\r\nline two", *ORDINARY_TEXT]:
        assert protovalidate.collect_violations(remark(text=text)) == [], repr(text)
    for control in [c for c in CONTROLS if c not in "\r\n"]:
        [violation] = protovalidate.collect_violations(remark(text=f"备注{control}"))
        assert violation.proto.rule_id == "oms.multi_line", repr(control)


def test_the_single_line_rule_on_a_message_built_for_the_purpose():
    line = _message_with_rule("single_line")

    for text in ORDINARY_TEXT:
        assert protovalidate.collect_violations(line(text=text)) == [], repr(text)
    for control in CONTROLS:
        [violation] = protovalidate.collect_violations(line(text=f"HB{control}2040"))
        assert violation.proto.rule_id == "oms.single_line", repr(control)


def _message_with_rule(rule: str):
    """A one-field message whose `text` declares `oms.common.v1.<rule>`, in the default pool."""
    name = f"oms_test_{rule}"
    pool = descriptor_pool.Default()
    try:
        descriptor = pool.FindMessageTypeByName(f"{name}.Text")
    except KeyError:
        file = descriptor_pb2.FileDescriptorProto(
            name=f"{name}/text.proto",
            package=name,
            syntax="proto3",
            dependency=["buf/validate/validate.proto", "oms/common/v1/text.proto"],
        )
        field = file.message_type.add(name="Text").field.add(
            name="text",
            number=1,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
        field.options.Extensions[validate_pb2.field].string.Extensions[getattr(text_pb2, rule)] = True
        pool.Add(file)
        descriptor = pool.FindMessageTypeByName(f"{name}.Text")
    return message_factory.GetMessageClass(descriptor)
