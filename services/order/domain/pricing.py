"""Contract prices on order lines (合同价). Pure Python.

A line typed without a price takes the customer's contract price valid that day. A typed price
further from the contract price than the tenant's tolerance ([price_rules] tolerance_percent; 0 =
any difference) is kept but flagged: such an order needs a manager's approval, and the approver
sees each deviation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from services.order.domain.changes import OrderLine


@dataclass(frozen=True)
class PriceDeviation:
    line_no: int
    product_model: str
    typed_fen: int
    contract_fen: int

    @property
    def percent(self) -> float:
        return round((self.typed_fen - self.contract_fen) * 100 / self.contract_fen, 2)

    def as_dict(self) -> dict:
        return {
            "line_no": self.line_no,
            "product_model": self.product_model,
            "typed_fen": self.typed_fen,
            "contract_fen": self.contract_fen,
        }


def apply_contract_prices(
    lines: Sequence[OrderLine], contract: Mapping[str, int], tolerance_percent: float
) -> tuple[list[OrderLine], list[PriceDeviation]]:
    out, deviations = [], []
    for line in lines:
        agreed = contract.get(line.product_model, 0)
        if agreed <= 0:
            out.append(line)  # no contract price for this model: the typed price stands
        elif line.unit_price_fen == 0:
            out.append(replace(line, unit_price_fen=agreed))
        else:
            out.append(line)
            # In integers where it can be: |typed - agreed| / agreed > tolerance / 100.
            if abs(line.unit_price_fen - agreed) * 100 > tolerance_percent * agreed:
                deviations.append(
                    PriceDeviation(line.line_no, line.product_model, line.unit_price_fen, agreed)
                )
    return out, deviations
