"""BOM explosion (services/bom.py), the one rule production's requirements and inventory's
reservations both use: per unit made, narrowed by colour and surface treatment."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.bom import MaterialLine, compare, needs
from services.chassis.tenants import load_tenants

HARDWARE = load_tenants(("hardware",))["hardware"]
HINGE = "HB-2040 铰链 hinge"
STEEL = ("SPCC 冷轧钢板 cold-rolled steel", "kg")
SILVER = ("镀银液 silver plating solution", "L")
GOLD = ("镀金液 gold plating solution", "L")


def hinge(qty: int, colour: str = "银色 silver") -> MaterialLine:
    return MaterialLine(HINGE, qty, colour, "电镀 plating")


def test_a_silver_hinge_needs_steel_and_silver_plating_solution_only():
    assert needs(HARDWARE.bom, [hinge(5000)]) == {STEEL: 600.0, SILVER: 10.0}


def test_a_gold_hinge_needs_gold_plating_solution_instead():
    assert needs(HARDWARE.bom, [hinge(5000, "金色 gold")]) == {STEEL: 600.0, GOLD: 10.0}


def test_a_natural_hinge_is_not_plated():
    assert needs(HARDWARE.bom, [hinge(100, "本色 natural")]) == {STEEL: 12.0}


def test_a_model_without_a_bom_needs_nothing_known():
    assert needs(HARDWARE.bom, [MaterialLine("XX-404 未知 unknown", 10)]) == {}


def test_a_silver_to_gold_change_moves_the_plating_solution_and_keeps_the_steel():
    moved = {(m.material, m.unit): (m.needed_before, m.needed_after) for m in compare(
        HARDWARE.bom, [hinge(5000)], [hinge(5000, "金色 gold")]
    )}  # fmt: skip
    assert moved == {STEEL: (600.0, 600.0), SILVER: (10.0, 0.0), GOLD: (0.0, 10.0)}


COLOURS = st.sampled_from(["银色 silver", "金色 gold", "本色 natural", "黑色 black"])
LINES = st.lists(st.builds(hinge, st.integers(1, 10_000_000), COLOURS), max_size=20)


@given(LINES, LINES)
def test_the_explosion_of_two_orders_is_the_sum_of_theirs(a, b):
    apart = [needs(HARDWARE.bom, a), needs(HARDWARE.bom, b)]
    together = needs(HARDWARE.bom, a + b)
    for key in together.keys() | apart[0].keys() | apart[1].keys():
        assert abs(together.get(key, 0) - apart[0].get(key, 0) - apart[1].get(key, 0)) <= 1e-6 * (
            1 + together.get(key, 0)
        )


@given(LINES)
def test_every_hinge_needs_its_steel_and_at_most_one_plating_solution(lines):
    total = needs(HARDWARE.bom, lines)
    pieces = sum(x.quantity for x in lines)
    assert abs(total.get(STEEL, 0) - 0.12 * pieces) <= 1e-6 * (1 + 0.12 * pieces)
    plated = sum(x.quantity for x in lines if x.colour in ("银色 silver", "金色 gold"))
    assert abs(total.get(SILVER, 0) + total.get(GOLD, 0) - 0.002 * plated) <= 1e-6 * (1 + plated)
