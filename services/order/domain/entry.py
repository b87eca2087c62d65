"""Order entry rules of one business line (录单规则), from its tenant file: option libraries,
required fields, product-model routing and custom fields. Pure Python.

`prepare` checks what a salesperson, an agent's sheet or a marketplace pull typed, reports every
violation at once with its field path, and returns the lines as the shop floor needs them: each
with its route (the workshops that make it, in sequence) taken from the routing, never typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation

from services.chassis.errors import FieldViolation, InvalidArgument
from services.order.domain.changes import OrderLine

CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class CustomFieldSpec:
    """[custom_fields.<key>] of the tenant file."""

    label: str
    type: str  # text | integer | decimal | date | boolean | choice
    required: bool = False
    choices: tuple[str, ...] = ()

    def normalise(self, value: str) -> str:
        """The value as stored (a canonical spelling), or ValueError saying what is expected."""
        value = value.strip()
        if self.type == "text":
            return value
        if self.type == "integer":
            if not re.fullmatch(r"-?\d{1,18}", value):
                raise ValueError("expected a whole number, e.g. 12")
            return str(int(value))
        if self.type == "decimal":
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise ValueError("expected a number, e.g. 1.5") from None
            if not number.is_finite() or len(value) > 32:
                raise ValueError("expected a number, e.g. 1.5")
            return str(number)
        if self.type == "date":
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                raise ValueError("expected a day as YYYY-MM-DD") from None
        if self.type == "boolean":
            if value.lower() in ("true", "是", "yes"):
                return "true"
            if value.lower() in ("false", "否", "no"):
                return "false"
            raise ValueError("expected true or false (是/否)")
        if value not in self.choices:
            raise ValueError(f"expected one of {list(self.choices)}")
        return value


@dataclass(frozen=True)
class OptionLibrary:
    """A business line's entry rules; an empty list means free text, an empty routing means the
    line names its workshop."""

    colours: tuple[str, ...] = ()
    surface_treatments: tuple[str, ...] = ()
    workshops: tuple[str, ...] = ()
    product_models: tuple[str, ...] = ()
    packaging: tuple[str, ...] = ()
    required: frozenset[str] = frozenset()  # colour, surface_treatment, packaging, delivery_address
    routing: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    custom_fields: Mapping[str, CustomFieldSpec] = field(default_factory=dict)

    def check(self, lines: Sequence[OrderLine], prefix: str = "") -> None:
        """The lines alone (InvalidArgument with every violation); see `prepare`."""
        self.prepare(lines, "", {}, prefix=prefix, whole_order=False)

    def prepare(
        self,
        lines: Sequence[OrderLine],
        delivery_address: str,
        custom_fields: Mapping[str, str],
        *,
        prefix: str = "",
        whole_order: bool = True,
    ) -> tuple[list[OrderLine], dict[str, str]]:
        """Routed lines and normalised custom fields; InvalidArgument naming every field that
        breaks a rule (`prefix`: where the order sits in the request, "proposed." in a change)."""
        violations: list[FieldViolation] = []
        routed = [self._line(line, f"{prefix}lines[{i}]", violations) for i, line in enumerate(lines)]
        fields: dict[str, str] = {}
        if whole_order:
            if "delivery_address" in self.required and not delivery_address.strip():
                violations.append(
                    FieldViolation(f"{prefix}delivery_address", "required by this business line")
                )
            fields = self._custom(custom_fields, f"{prefix}custom_fields", violations)
        if violations:
            raise InvalidArgument("the order breaks this business line's entry rules", violations)
        return routed, fields

    def _line(self, line: OrderLine, path: str, violations: list[FieldViolation]) -> OrderLine:
        for name, allowed in (
            ("product_model", self.product_models),
            ("colour", self.colours),
            ("surface_treatment", self.surface_treatments),
            ("packaging", self.packaging),
        ):
            value = getattr(line, name)
            if not value and name in self.required:
                violations.append(FieldViolation(f"{path}.{name}", "required by this business line"))
            elif allowed and value and value not in allowed:
                violations.append(
                    FieldViolation(
                        f"{path}.{name}", f"{value!r} is not in this business line's list: {list(allowed)}"
                    )
                )
        route = self.routing.get(line.product_model)
        if route:
            # The workshops come from the routing; a typed one must agree (a planner overrides
            # the route on the approved order, not the salesperson on entry).
            if line.workshop and line.workshop != route[0]:
                violations.append(
                    FieldViolation(
                        f"{path}.workshop",
                        f"{line.product_model} is routed {' → '.join(route)}: leave the workshop empty",
                    )
                )
            return replace(line, workshop=route[0], route=route)
        if not line.workshop:
            violations.append(
                FieldViolation(
                    f"{path}.workshop", f"required: the routing names no workshop for {line.product_model!r}"
                )
            )
        elif self.workshops and line.workshop not in self.workshops:
            violations.append(
                FieldViolation(
                    f"{path}.workshop",
                    f"{line.workshop!r} is not in this business line's list: {list(self.workshops)}",
                )
            )
        return replace(line, route=(line.workshop,) if line.workshop else ())

    def _custom(
        self, given: Mapping[str, str], path: str, violations: list[FieldViolation]
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in given.items():
            spec = self.custom_fields.get(key)
            if spec is None:
                known = ", ".join(self.custom_fields) or "none"
                violations.append(
                    FieldViolation(f"{path}.{key}", f"not a field of this business line (it has: {known})")
                )
                continue
            if not value.strip():
                continue  # empty = not given
            try:
                out[key] = spec.normalise(value)
            except ValueError as exc:
                violations.append(FieldViolation(f"{path}.{key}", f"{spec.label}: {exc}"))
        for key, spec in self.custom_fields.items():
            if spec.required and key not in out and not given.get(key, "").strip():
                violations.append(
                    FieldViolation(f"{path}.{key}", f"{spec.label}: required by this business line")
                )
        return out
