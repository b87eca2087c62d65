"""What a work order makes: order lines as production keeps them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkOrderLine:
    product_model: str
    quantity: int
    colour: str = ""
    surface_treatment: str = ""
    packaging: str = ""
    line_no: int = 0  # the order line's number (kept across revisions; 0 = not given)

    def as_dict(self) -> dict:
        return {
            "product_model": self.product_model,
            "quantity": self.quantity,
            "colour": self.colour,
            "surface_treatment": self.surface_treatment,
            "packaging": self.packaging,
            "line_no": self.line_no,
        }

    @classmethod
    def from_dict(cls, d: dict) -> WorkOrderLine:
        return cls(
            d["product_model"],
            int(d["quantity"]),
            d.get("colour", ""),
            d.get("surface_treatment", ""),
            d.get("packaging", ""),
            int(d.get("line_no", 0)),
        )


@dataclass(frozen=True)
class RoutedLine:
    """An order line with the workshops that make it, in sequence (never empty)."""

    line: WorkOrderLine
    route: tuple[str, ...]
