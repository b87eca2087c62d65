"""Tenant rules in CEL (`[rules.<name>]` of a tenant file): compiled once, probed at start-up,
evaluated per use. The one place that knows CEL; production applies `batch_merge` rules,
inventory `material_lock` rules, each through `active_rule(tenant, kind)`.

CEL, never Python `eval`: an expression can read the variables its kind is given and nothing else,
always terminates, and is evaluated by the Rust implementation (`common-expression-language`:
~1 µs per evaluation here; the pure-Python one measured ~2k/s).

What each kind sees (a rule may use any of it; `params` are the rule's own tunable figures):

- `batch_merge` (production: should these same-configuration orders be made as one batch?):
  `orders` — the orders of one configuration (model, treatment, colour, packaging) approved within
  `params.window_hours`, oldest first, each `{order_no, customer_id, priority, quantity, due_date,
  approved_at, amount_cny}` (dates as "YYYY-MM-DD" / RFC 3339 text); `config` —
  `{product_model, surface_treatment, colour, packaging}`; `params`.
- `material_lock` (inventory: hard-lock this order's materials at approval?): `order` —
  `{order_no, customer_id, priority, amount_cny, quantity, lines: [{product_model, quantity,
  colour, surface_treatment}]}`; `params`.
- `ingest_priority` (ingest: does this incoming order go to the online high-priority queue?):
  `order` — `{channel, platform, shop, shop_flagship, customer_code, amount_cny, quantity,
  lines}` (channel "CHANNEL_MARKETPLACE" / "CHANNEL_AGENT" / "CHANNEL_DIRECT"; platform "jd",
  "pdd", "tmall" or ""); `params`. True = PRIORITY_HIGH.

`priority` is the order contract's name for it ("PRIORITY_NORMAL", "PRIORITY_HIGH"); money is in
yuan (`amount_cny`), as the plant states its thresholds.

A tenant file without an enabled rule of a kind gets the built-in default of that kind (DEFAULTS:
the plant's own rules, "三笔相同配置订单合并" and "金额>5万元锁定原材料"); `enabled = false` on a
rule of that kind turns the kind off.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cel

from services.chassis.errors import FieldViolation, InvalidArgument
from services.chassis.tenant_config import Rule, RuleKind, TenantConfig

MAX_EXPRESSION = 2000  # characters; a request's candidate rule is untrusted input

DEFAULTS: dict[str, Rule] = {
    "batch_merge": Rule(
        kind="batch_merge",
        expression="orders.size() >= params.min_orders",
        description="三笔相同配置订单合并 merge three orders of the same configuration",
        params={"min_orders": 3, "window_hours": 72},
    ),
    "material_lock": Rule(
        kind="material_lock",
        expression="order.amount_cny > params.amount_cny",
        description="订单金额>5万元锁定原材料 lock the materials of an order over 50,000 CNY",
        params={"amount_cny": 50000},
    ),
    "ingest_priority": Rule(
        kind="ingest_priority",
        expression='order.channel == "CHANNEL_MARKETPLACE" && order.shop_flagship',
        description="天猫旗舰店订单走线上高优先级 flagship-store orders go to the online high-priority queue",
    ),
}

# One well-formed context per kind: every rule is evaluated on it when it is compiled, so a
# misspelt variable, a type mismatch or a non-boolean result stops start-up (or refuses a dry-run
# request) instead of failing on the first real order.
SAMPLES: dict[str, dict[str, Any]] = {
    "batch_merge": {
        "orders": [
            {
                "order_no": "HW-20261125-00001",
                "customer_id": "00000000-0000-0000-0000-000000000001",
                "priority": "PRIORITY_NORMAL",
                "quantity": 1000,
                "due_date": "2026-12-10",
                "approved_at": "2026-11-25T08:00:00+00:00",
                "amount_cny": 4500.0,
            }
        ],
        "config": {
            "product_model": "HB-2040 铰链 hinge",
            "surface_treatment": "电镀 plating",
            "colour": "银色 silver",
            "packaging": "纸箱 carton",
        },
    },
    "material_lock": {
        "order": {
            "order_no": "HW-20261125-00001",
            "customer_id": "00000000-0000-0000-0000-000000000001",
            "priority": "PRIORITY_NORMAL",
            "amount_cny": 4500.0,
            "quantity": 1000,
            "lines": [
                {
                    "product_model": "HB-2040 铰链 hinge",
                    "quantity": 1000,
                    "colour": "银色 silver",
                    "surface_treatment": "电镀 plating",
                }
            ],
        }
    },
    "ingest_priority": {
        "order": {
            "channel": "CHANNEL_MARKETPLACE",
            "platform": "tmall",
            "shop": "tmall_flagship",
            "shop_flagship": True,
            "customer_code": "TMALL-RETAIL",
            "amount_cny": 450.0,
            "quantity": 1000,
            "lines": 1,
        }
    },
}


class RuleInvalid(ValueError):
    """The rule does not compile, reads a variable its kind does not have, or is not a condition.
    At start-up: a configuration error naming the rule; in a request: INVALID_ARGUMENT."""


class RuleFailed(RuntimeError):
    """A rule that compiled and passed its probe failed on real data (e.g. a division by zero)."""


@dataclass(frozen=True)
class CompiledRule:
    name: str
    kind: str
    expression: str
    description: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    program: Any = field(default=None, repr=False, compare=False)

    def matches(self, variables: Mapping[str, Any]) -> bool:
        """The rule's verdict on these variables (its kind's, see the module text)."""
        try:
            verdict = self.program.execute({**variables, "params": dict(self.params)})
        except Exception as exc:  # the CEL runtime raises ValueError/TypeError/RuntimeError/...
            raise RuleFailed(f"rule {self.name!r} failed: {exc}") from exc
        if not isinstance(verdict, bool):
            raise RuleFailed(f"rule {self.name!r} gave {verdict!r}, not true or false")
        return verdict

    def param(self, key: str, default: Any) -> Any:
        return self.params.get(key, default)


def compile_rule(
    name: str, kind: str, expression: str, params: Mapping[str, Any] | None = None, description: str = ""
) -> CompiledRule:
    """Compile and probe one rule; RuleInvalid says what is wrong, in one line."""
    if kind not in SAMPLES:
        raise RuleInvalid(f"rule {name!r}: unknown kind {kind!r} (expected one of: {', '.join(SAMPLES)})")
    if not expression.strip() or len(expression) > MAX_EXPRESSION:
        raise RuleInvalid(f"rule {name!r}: the expression must be 1-{MAX_EXPRESSION} characters")
    _check_cost(name, expression)
    try:
        program = cel.compile(expression)
    except Exception as exc:  # ValueError with the parser's caret diagram
        raise RuleInvalid(f"rule {name!r} does not compile: {_first_line(exc)}") from None
    rule = CompiledRule(name, kind, expression, description, dict(params or {}), program)
    try:
        rule.matches(SAMPLES[kind])
    except RuleFailed as exc:
        raise RuleInvalid(f"{exc} on a sample {kind} case (is every variable one its kind has?)") from None
    return rule


# CEL always terminates, but a comprehension inside a comprehension multiplies: six nested
# `[0,…,9].all(…)` took 0.2 s here, each further level ×10, with the GIL held the whole time (one
# dry-run request would stall its service). A rule may loop over a list, not over a loop.
MACROS = ("all", "exists", "exists_one", "map", "filter")
MAX_MACROS = 4
_MACRO_CALL = re.compile(r"\.\s*(" + "|".join(MACROS) + r")\s*\($")


def _check_cost(name: str, expression: str) -> None:
    """Refuse a comprehension (all/exists/exists_one/map/filter) inside another, and more than
    MAX_MACROS of them: evaluation stays linear in the lists a rule is given. String literals are
    skipped as CEL reads them (escapes, raw r'…', triple quotes), so no text hides a call."""
    depth, count = 0, 0  # parenthesis depth; comprehensions seen
    open_macros: list[int] = []  # the depths at which the comprehensions still open began
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch in "'\"":
            raw = expression[max(0, i - 2) : i].lower().endswith(("r", "rb", "br"))
            delim = expression[i : i + 3] if expression[i : i + 3] in ("'''", '"""') else ch
            i += len(delim)
            while i < n and not expression.startswith(delim, i):
                i += 2 if expression[i] == "\\" and not raw else 1
            i += len(delim)
            continue
        if ch == "(":
            depth += 1
            if _MACRO_CALL.search(expression[max(0, i - 16) : i + 1]):
                if open_macros:
                    raise RuleInvalid(
                        f"rule {name!r}: a comprehension ({', '.join(MACROS)}) inside another is not "
                        "allowed (its cost multiplies); loop over one list at a time"
                    )
                open_macros.append(depth)
                count += 1
        elif ch == ")":
            if open_macros and open_macros[-1] == depth:
                open_macros.pop()
            depth -= 1
        i += 1
    if count > MAX_MACROS:
        raise RuleInvalid(f"rule {name!r}: at most {MAX_MACROS} comprehensions ({', '.join(MACROS)})")


def active_rule(tenant: TenantConfig, kind: RuleKind) -> CompiledRule | None:
    """The tenant's enabled rule of this kind (at most one: the schema checks), the built-in
    default when the file has no rule of the kind, None when the file disables the kind."""
    mine = {name: rule for name, rule in tenant.rules.items() if rule.kind == kind}
    enabled = [(name, rule) for name, rule in mine.items() if rule.enabled]
    if enabled:
        name, rule = enabled[0]
    elif mine:
        return None
    else:
        name, rule = f"default_{kind}", DEFAULTS[kind]
    return compile_rule(name, kind, rule.expression, rule.params, rule.description)


def check_tenant_rules(tenant: TenantConfig) -> None:
    """Compile every rule of the file, enabled or not (a disabled rule is one a planner is about
    to enable): start-up calls this so a broken rule stops the service, naming it."""
    for name, rule in tenant.rules.items():
        compile_rule(name, rule.kind, rule.expression, rule.params, rule.description)


def rule_to_try(
    tenant: TenantConfig, kind: RuleKind, name: str = "", expression: str = "", params_json: str = ""
) -> CompiledRule:
    """The rule a dry-run replays (both services' DryRunRule), every part of the request checked,
    INVALID_ARGUMENT naming the field: a rule of the tenant file by `name` (its own expression and
    params unless the request gives others), a candidate `expression` (with `params_json`, or the
    named rule's or the default's params), or, with neither, the tenant's active rule."""
    mine = {n: r for n, r in tenant.rules.items() if r.kind == kind}
    base = mine.get(name) if name else None
    if name and base is None and not expression:
        known = ", ".join(sorted(mine)) or "none"
        raise InvalidArgument(
            f"没有该规则 no {kind} rule named {name!r} in the tenant file",
            [
                FieldViolation(
                    "name", f"not a {kind} rule of this tenant (its rules: {known}); or give an expression"
                )
            ],
        )
    if base is None and not name and not expression:
        active = active_rule(tenant, kind)
        if active is None:
            raise InvalidArgument(
                f"规则已停用 {kind} rules are turned off for this tenant",
                [FieldViolation("name", "name a rule of the tenant file, or give an expression")],
            )
        base = Rule(kind=kind, expression=active.expression, params=dict(active.params))
        name = active.name
    fallback = base or DEFAULTS[kind]
    params = _params(params_json) if params_json.strip() else dict(fallback.params)
    try:
        return compile_rule(name or "candidate", kind, expression or fallback.expression, params)
    except RuleInvalid as exc:
        raise InvalidArgument(
            f"规则无效 rule invalid: {exc}", [FieldViolation("expression", str(exc))]
        ) from None


_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _params(text: str) -> dict[str, Any]:
    """A candidate's params: a JSON object of named numbers, texts or flags (untrusted text)."""

    def bad(why: str) -> InvalidArgument:
        return InvalidArgument(f"params_json: {why}", [FieldViolation("params_json", why)])

    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: [[[…]]] nested ~1000 deep
        raise bad(f"not JSON ({exc.args[0] if exc.args else exc})") from None
    if not isinstance(doc, dict):
        raise bad('not a JSON object, e.g. {"min_orders": 3, "window_hours": 72}')
    for key, value in doc.items():
        if not _PARAM_NAME.match(key):
            raise bad(f"{key[:64]!r} is not a parameter name (lower case letters, digits, _)")
        if not isinstance(value, bool | int | float | str) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise bad(f"{key}: a parameter is a number, text or true/false")
    return doc


def _first_line(exc: Exception) -> str:
    text = str(exc)
    # cel's parse errors repeat the expression with a caret diagram: keep the message lines.
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("|", " |"))]
    return " ".join(lines)[:400]
