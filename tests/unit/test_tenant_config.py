"""Tenant files are checked when a service starts, and the tenant's calendar is the one it keeps.

A misspelt key, a wrong type, a missing section or an unknown time zone stops start-up with the
file, the key and what was expected (not INTERNAL on the first request that reads it); a business
line outside China numbers its orders and judges "today" on its own calendar.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from google.type import date_pb2

from oms.order.v1 import order_pb2
from services.chassis.errors import InvalidArgument
from services.chassis.events import EventCodec
from services.chassis.identity import Identity, acting_as
from services.chassis.settings import InvalidSetting
from services.chassis.tenants import DEFAULT_DIR, Tenant, load_tenants
from services.order.api import OrderApi
from services.order.app import definition as order_service
from services.order.app import option_library
from services.order.domain.model import Channel, OrderLine, Priority
from services.order.service_layer import handlers
from tests.unit.fakes import (
    FakeContractPrices,
    FakeCustomers,
    FakeOrderUnitOfWork,
    FakeReservations,
    UowFactory,
)

ROOT = Path(__file__).resolve().parents[2]
HARDWARE = (DEFAULT_DIR / "hardware.toml").read_text(encoding="utf-8")


def without_sections(text: str, *prefixes: str) -> str:
    """The file without the tables whose header starts with one of `prefixes` (up to the next
    header or blank line): the base a test appends its own versions of them to."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.lstrip("[").startswith(prefixes)
        elif not line.strip():
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


# The shipped file without what NEXT_SECTIONS declares again.
BARE_HARDWARE = without_sections(HARDWARE, "routing]", "rules.")


def edited(*changes: tuple[str, str], text: str = HARDWARE) -> str:
    """The shipped hardware file with some text replaced (each replacement must apply)."""
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def plant(name: str, prefix: str, zone: str) -> str:
    """A business line like hardware, somewhere else on the globe."""
    return edited(
        ('name_en = "Metal stamping"', f'name_en = "{name}"'),
        ('number_prefix = "HW"', f'number_prefix = "{prefix}"'),
        ('timezone = "Asia/Shanghai"', f'timezone = "{zone}"'),
    )


class TenantDir:
    """An OMS_TENANT_DIR of our own; `tenant_dir(id, text)` puts a tenant file in it."""

    def __init__(self, directory: Path):
        self.directory = directory

    def __call__(self, tenant_id: str, text: str) -> Path:
        path = self.directory / f"{tenant_id}.toml"
        # a copy of the hardware file names its own channel secrets, as an operator's copy must
        own = text.replace("OMS_NOTIFY_HARDWARE_", f"OMS_NOTIFY_{tenant_id.upper()}_")
        path.write_text(own, encoding="utf-8")
        return path


@pytest.fixture
def tenant_dir(tmp_path, monkeypatch) -> TenantDir:
    directory = tmp_path / "tenants"
    directory.mkdir()
    monkeypatch.setenv("OMS_TENANT_DIR", str(directory))
    return TenantDir(directory)


def refusal(tenant_dir: TenantDir, text: str) -> str:
    path = tenant_dir("hardware", text)
    with pytest.raises(InvalidSetting) as refused:
        load_tenants(("hardware",))
    message = str(refused.value)
    assert str(path) in message
    assert "\n" not in message
    return message


# The shipped files


def test_the_shipped_tenant_files_load_as_typed_configuration():
    tenants = load_tenants(("hardware", "autoparts"), DEFAULT_DIR)

    hardware = tenants["hardware"]
    assert (hardware.tenant_id, hardware.name_zh, hardware.number_prefix) == ("hardware", "五金冲压", "HW")
    assert hardware.tz.key == "Asia/Shanghai"
    assert "银色 silver" in hardware.options.colours
    assert hardware.customer_tiers.a_min_years == 5
    assert hardware.workshops["plating"].lead == "李秀英"
    assert [c.code for c in hardware.demo.customers] == ["MIDEA-SD", "SUPOR-HZ", "ONLINE-RETAIL", "HS-TRADE"]
    assert tenants["autoparts"].demo.stock[0].on_hand == 60000
    # Sections the coming features read are there, empty, with their defaults.
    assert hardware.custom_fields == {}
    assert hardware.catalogue["HB-2040-SV-100"].pack_size == 100
    assert {k: (s.platform, s.customer) for k, s in hardware.shops.items()} == {
        "tmall_flagship": ("tmall", "ONLINE-RETAIL"),
        "jd_pop": ("jd", "ONLINE-RETAIL"),
        "pdd_store": ("pdd", "ONLINE-RETAIL"),
    }
    assert hardware.routing["HB-2040 铰链 hinge"] == ("stamping-1", "plating", "assembly")
    # The BOM the impact preview of a change reads: plating material depends on the colour.
    assert [(b.material, b.colour) for b in hardware.bom["HB-2040 铰链 hinge"]][1:] == [
        ("镀银液 silver plating solution", "银色 silver"),
        ("镀金液 gold plating solution", "金色 gold"),
    ]
    assert {name: rule.kind for name, rule in hardware.rules.items()} == {
        "merge_same_configuration": "batch_merge",
        "lock_large_orders": "material_lock",
        "online_priority": "ingest_priority",
    }
    assert hardware.alerts.due_warning_hours == (48.0,)
    assert hardware.price_rules.tolerance_percent == 0.0


# A bad file stops start-up, naming the file, the key and what was expected


@pytest.mark.parametrize(
    "change, expected",
    [
        (("colours =", "colors ="), "options.colors: unknown key (did you mean 'colours'?"),
        (
            ("[customer_tiers]", "[customer_tier]"),
            "customer_tier: unknown key (did you mean 'customer_tiers'?",
        ),
        (
            ('lead = "李秀英"', 'leader = "李秀英"'),
            "workshops.plating.leader: unknown key (did you mean 'lead'?",
        ),
        (("name_en =", "name_eng ="), "tenant.name_eng: unknown key"),
    ],
    ids=["option", "section", "workshop", "tenant"],
)
def test_a_misspelt_key_stops_start_up(tenant_dir, change, expected):
    assert expected in refusal(tenant_dir, edited(change))


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            ("a_min_years = 5", 'a_min_years = "5"'),
            "customer_tiers.a_min_years: expected an integer, got a string '5'",
        ),
        (("b_min_years = 2", "b_min_years = 2.5"), "customer_tiers.b_min_years: expected an integer"),
        (('colours = ["本色', 'colours = "本色 natural" #'), "options.colours: expected an array"),
        (('lead = "王建国"', "lead = 7"), "workshops.stamping-1.lead: expected a string, got an integer 7"),
        (("on_hand = 45000", "on_hand = -1"), "demo.stock[1].on_hand: expected greater than or equal to 0"),
        (('number_prefix = "HW"', 'number_prefix = "hw-1"'), "tenant.number_prefix:"),
    ],
    ids=["string-for-int", "float-for-int", "string-for-array", "int-for-string", "negative", "prefix"],
)
def test_a_wrong_type_stops_start_up(tenant_dir, change, expected):
    assert expected in refusal(tenant_dir, edited(change))


def test_a_missing_section_stops_start_up(tenant_dir):
    without_tiers = edited(
        ("[customer_tiers]\n", ""),
        ("a_min_years = 5\n", ""),
        ("a_min_yearly_cny = 3000000\n", ""),
        ("b_min_years = 2\n", ""),
        ("b_min_yearly_cny = 800000\n", ""),
    )
    assert "customer_tiers: missing (a required section)" in refusal(tenant_dir, without_tiers)


def test_a_missing_key_stops_start_up(tenant_dir):
    message = refusal(tenant_dir, edited(('timezone = "Asia/Shanghai"\n', "")))
    assert "tenant.timezone: missing (a required key)" in message


@pytest.mark.parametrize("zone", ["Asia/Shangai", "Mars/Olympus_Mons", "+08:00", "../../etc/passwd", ""])
def test_an_unknown_timezone_stops_start_up(tenant_dir, zone):
    message = refusal(tenant_dir, edited(('timezone = "Asia/Shanghai"', f'timezone = "{zone}"')))
    assert "tenant.timezone:" in message and "is not an IANA time zone" in message


def test_a_near_miss_timezone_is_named(tenant_dir):
    message = refusal(tenant_dir, edited(('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shangai"')))
    assert "did you mean 'Asia/Shanghai'?" in message


def test_every_problem_of_a_file_is_named_at_once(tenant_dir):
    message = refusal(tenant_dir, edited(("colours =", "colors ="), ("a_min_years = 5", 'a_min_years = "5"')))
    assert "options.colors" in message and "customer_tiers.a_min_years" in message


def test_a_file_that_is_not_toml_names_the_file_and_line(tenant_dir):
    assert "not valid TOML" in refusal(tenant_dir, HARDWARE + "\n[options\n")


def test_a_tenant_without_a_file_names_oms_tenants(tenant_dir):
    with pytest.raises(InvalidSetting, match="OMS_TENANTS names tenant 'hardware'"):
        load_tenants(("hardware",))


def test_a_tenant_id_cannot_reach_outside_the_directory(tenant_dir):
    with pytest.raises(InvalidSetting, match="not a tenant id"):
        load_tenants(("../hardware",))


def start(argv: list[str], tmp_path: Path, tenant_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env.update(
        OMS_TENANT_DIR=str(tenant_dir),
        OMS_TENANTS="hardware",
        OMS_DATA_DIR=str(tmp_path),
        OMS_GRPC_PORT="0",  # any free port
        OMS_HTTP_PORT="0",
        OMS_CUSTOMER_ADDR="127.0.0.1:1",
        OMS_INVENTORY_ADDR="127.0.0.1:1",
    )
    # On a file that is accepted, the service would serve until killed: the timeout fails the test.
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    "argv", [["-m", "services.order", "serve"], ["-m", "services"]], ids=["order", "embedded"]
)
def test_a_service_with_a_misspelt_tenant_key_exits_2_with_one_line(tmp_path, tenant_dir, argv):
    path = tenant_dir("hardware", edited(("colours =", "colors =")))

    result = start(argv, tmp_path, tenant_dir.directory)

    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    [line] = result.stderr.strip().splitlines()
    assert "cannot start" in line and str(path) in line and "options.colors" in line, line
    assert not list(tmp_path.glob("*.db")), "start-up went on to create a database"


# Sections for what comes next: optional, typed, cross-checked


NEXT_SECTIONS = """
[routing]
"HB-2040 铰链 hinge" = ["stamping-1", "plating", "assembly"]

[[bom."HB-2040 铰链 hinge"]]
material = "冷轧钢卷 cold-rolled coil"
quantity_per_unit = 0.12
unit = "kg"
[[bom."HB-2040 铰链 hinge"]]
material = "镀银液 silver plating"
quantity_per_unit = 0.002
unit = "L"
colour = "银色 silver"
workshop = "plating"

[catalogue.JD-HB2040-100]
product_model = "HB-2040 铰链 hinge"
pack_size = 100
list_price_fen = 4500

[custom_fields.shipping_mark]
label = "唛头 shipping mark"
type = "choice"
choices = ["美的 Midea", "中性 neutral"]
required = true

[rules.merge_same_configuration]
kind = "batch_merge"
expression = "orders.size() >= params.min_orders"
description = "三笔相同配置订单合并"
params = { min_orders = 3, window_hours = 72 }

[alerts]
due_warning_hours = [48, 24]

[price_rules]
tolerance_percent = 2.5
"""


def test_the_sections_the_next_features_read_are_typed(tenant_dir):
    tenant_dir("hardware", BARE_HARDWARE + NEXT_SECTIONS)

    hardware = load_tenants(("hardware",))["hardware"]

    assert hardware.routing["HB-2040 铰链 hinge"] == ("stamping-1", "plating", "assembly")
    plating = hardware.bom["HB-2040 铰链 hinge"][-1]  # appended after the shipped file's BOM
    assert (plating.material, plating.quantity_per_unit, plating.colour, plating.workshop) == (
        "镀银液 silver plating",
        0.002,
        "银色 silver",
        "plating",
    )
    assert hardware.catalogue["JD-HB2040-100"].list_price_fen == 4500
    assert hardware.custom_fields["shipping_mark"].choices == ("美的 Midea", "中性 neutral")
    merge = hardware.rules["merge_same_configuration"]
    assert (merge.kind, merge.params) == ("batch_merge", {"min_orders": 3, "window_hours": 72})
    assert hardware.alerts.due_warning_hours == (48.0, 24.0)
    assert hardware.price_rules.tolerance_percent == 2.5


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            ('"plating", "assembly"]', '"painting"]'),
            "routing.\"HB-2040 铰链 hinge\"[1]: workshop 'painting' is not declared",
        ),
        (('colour = "银色 silver"', 'colour = "粉色 pink"'), "'粉色 pink' is not in options.colours"),
        (
            ('workshop = "plating"', 'workshop = "painting"'),
            "bom.\"HB-2040 铰链 hinge\"[4].workshop: 'painting' is not declared under [workshops]",
        ),
        (
            ('["stamping-1", "plating", "assembly"]', '["stamping-1", "assembly"]'),
            "bom.\"HB-2040 铰链 hinge\"[4].workshop: 'plating' is not on the route of",
        ),
        (
            ('type = "choice"', 'type = "text"'),
            "custom_fields.shipping_mark: `choices` is only for type 'choice'",
        ),
        (('type = "choice"', 'type = "colour"'), "custom_fields.shipping_mark.type: expected 'text',"),
        (("quantity_per_unit = 0.12", "quantity_per_unit = 0"), "quantity_per_unit: expected greater than 0"),
        (
            ("due_warning_hours = [48, 24]", 'due_warning_hours = "48h"'),
            "alerts.due_warning_hours: expected an array",
        ),
        (("tolerance_percent = 2.5", "tolerance_pct = 2.5"), "price_rules.tolerance_pct: unknown key"),
        (('expression = "orders', 'expr = "orders'), "rules.merge_same_configuration.expression: missing"),
    ],
    ids=[
        "routing",
        "bom-colour",
        "bom-workshop",
        "bom-workshop-off-route",
        "choices",
        "field-type",
        "bom-quantity",
        "alerts",
        "price-rules",
        "rule",
    ],
)
def test_the_next_sections_are_checked_too(tenant_dir, change, expected):
    assert expected in refusal(tenant_dir, BARE_HARDWARE + edited(change, text=NEXT_SECTIONS))


# The tenant's calendar: order numbers and "today"


SALES = frozenset({"sales"})
LINES = [OrderLine("HB-2040 铰链 hinge", 300, "stamping-1", "银色 silver")]


@pytest.fixture
def uow() -> UowFactory:
    return UowFactory(FakeOrderUnitOfWork, EventCodec("order", order_service.contracts))


@pytest.fixture
def plants(tenant_dir: TenantDir) -> dict[str, Tenant]:
    """Three business lines of one company on three calendars (Auckland is UTC+13 in November,
    São Paulo UTC-3, Shanghai UTC+8)."""
    tenant_dir("hardware", HARDWARE)
    tenant_dir("auckland", plant("Auckland plant", "AK", "Pacific/Auckland"))
    tenant_dir("saopaulo", plant("São Paulo plant", "SP", "America/Sao_Paulo"))
    return load_tenants(("hardware", "auckland", "saopaulo"))


def create(tenant: Tenant, uow, at: datetime, due: date = date(2026, 12, 10)):
    cmd = handlers.CreateOrder("c-1", Channel.DIRECT, Priority.NORMAL, due, LINES)
    with acting_as(Identity(tenant.tenant_id, "sales.rep", SALES)):
        return handlers.create_order(
            cmd,
            uow,
            FakeCustomers("c-1"),
            option_library(tenant),
            tenant.number_prefix,
            uow.numbers,
            clock=lambda: at,
            plant_tz=tenant.tz,
        )


# 12:30 UTC on 25 Nov: 20:30 on the 25th in Shanghai, already 01:30 on the 26th in Auckland.
# 01:30 UTC on 25 Nov: 09:30 on the 25th in Shanghai, still 22:30 on the 24th in São Paulo.
@pytest.mark.parametrize(
    "tenant_id, at, order_no",
    [
        ("hardware", datetime(2026, 11, 25, 12, 30, tzinfo=UTC), "HW-20261125-00001"),
        ("auckland", datetime(2026, 11, 25, 12, 30, tzinfo=UTC), "AK-20261126-00001"),
        ("hardware", datetime(2026, 11, 25, 1, 30, tzinfo=UTC), "HW-20261125-00001"),
        ("saopaulo", datetime(2026, 11, 25, 1, 30, tzinfo=UTC), "SP-20261124-00001"),
    ],
)
def test_a_tenant_numbers_orders_on_its_own_calendar(plants, uow, tenant_id, at, order_no):
    assert create(plants[tenant_id], uow, at).order_no == order_no


def test_due_dates_in_the_past_are_judged_on_the_tenants_calendar(plants, uow):
    evening_utc = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)  # the 26th in Auckland
    with pytest.raises(InvalidArgument) as refused:
        create(plants["auckland"], uow, evening_utc, due=date(2026, 11, 25))
    assert "before today 2026-11-26" in str(refused.value.violations)

    night_utc = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)  # still the 24th in São Paulo
    assert create(plants["saopaulo"], uow, night_utc, due=date(2026, 11, 24)).due_date == date(2026, 11, 24)


def test_the_order_api_numbers_on_the_callers_tenants_calendar(plants, uow, monkeypatch):
    """Through the service's own wiring: the API hands the handler the tenant's zone."""
    at = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
    real = handlers.create_order
    monkeypatch.setattr(handlers, "create_order", lambda *a, **kw: real(*a, clock=lambda: at, **kw))
    api = OrderApi(
        uow,
        FakeCustomers("c-1"),
        FakeReservations(),
        lambda tenant_id: option_library(plants[tenant_id]),
        plants.__getitem__,
        uow.numbers,
        shop_floor=None,
        contract_prices=FakeContractPrices(),
    )
    request = order_pb2.CreateOrderRequest(
        customer_id="c-1",
        channel=order_pb2.CHANNEL_DIRECT,
        due_date=date_pb2.Date(year=2026, month=12, day=10),
        lines=[order_pb2.OrderLine(product_model="HB-2040", quantity=5, workshop="stamping-1")],
    )

    numbers = {}
    for tenant_id in ("hardware", "auckland"):
        with acting_as(Identity(tenant_id, "sales.rep", SALES)):
            numbers[tenant_id] = api.CreateOrder(request, None).order.order_no

    assert numbers == {"hardware": "HW-20261125-00001", "auckland": "AK-20261126-00001"}


def test_a_tenants_channels_read_only_its_own_secrets(tenant_dir):
    """notify holds every line's channel secrets in one environment: a file naming another line's
    robot URL (or the database's) is refused at start-up, naming the key."""
    tenant_dir("hardware", HARDWARE)
    stolen = HARDWARE.replace(
        'url_env = "OMS_NOTIFY_HARDWARE_WECOM_URL"', 'url_env = "OMS_NOTIFY_AUTOPARTS_WECOM_URL"'
    )
    tenant_dir("hardware", stolen)
    said = r"notify.channels.plant_wecom.url_env: 'OMS_NOTIFY_AUTOPARTS_WECOM_URL' must start with "
    with pytest.raises(InvalidSetting, match=said + "OMS_NOTIFY_HARDWARE_"):
        load_tenants(("hardware",))
