"""Agents' spreadsheets: the template out, filled-in files in.

A file is taken once per content (its SHA-256): the same file again answers what the first upload
did and creates nothing. Good rows of one customer, delivery day, address and custom fields make
one order (at most MAX_LINES lines each); bad rows come back in the error report. Each order's
request_id comes from the file and the rows it was made of, so an upload interrupted half way and
sent again completes without a second copy of any order.
"""

from __future__ import annotations

import contextvars
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from services.chassis.errors import Conflict
from services.chassis.tenants import Tenant
from services.ingest.adapters import metrics, spreadsheets
from services.ingest.adapters.upload_store import Upload
from services.ingest.domain import sheet_rows
from services.ingest.domain.market_rules import Reason
from services.ingest.domain.report import RunCounts
from services.ingest.domain.sheet_rows import AgentRow, RowProblem
from services.ingest.service_layer.desk import (
    Clock,
    TenantDesk,
    create_or_refusal,
    priority_facts,
    request_id,
    utc_now,
)
from services.ingest.service_layer.market_intake import UowFactory
from services.ingest.service_layer.ports import DraftLine, OrderDesk, OrderDraft

MAX_LINES = 200  # an order's lines (the order contract's limit)
PARALLEL_CREATES = 4
# An upload still marked as processing this long after it began is taken as crashed and resumed;
# younger, it is somebody's upload in progress.
IN_PROGRESS = timedelta(
    minutes=10
)  # orders created at once: the order service's pool has room, the file waits less
SOURCE = "upload"
LINE_FIELD = re.compile(r"^order\.lines\[(\d+)\]")  # a refusal naming one line of the order


@dataclass
class UploadResult:
    duplicate: bool
    run_id: str
    rows_ok: int = 0
    rows_bad: int = 0
    orders: list[dict] = field(default_factory=list)
    error_report: bytes | None = None
    warnings: list[str] = field(default_factory=list)


def template(tenant: Tenant) -> tuple[str, bytes]:
    return f"{tenant.tenant_id}-订单模板-order-template.xlsx", spreadsheets.template_xlsx(tenant)


def upload(
    filename: str, data: bytes, desk: TenantDesk, uow: UowFactory, orders: OrderDesk, clock: Clock = utc_now
) -> UploadResult:
    digest = hashlib.sha256(data).hexdigest()
    with uow(read_only=True) as tx:
        earlier = tx.uploads.get(digest)
    if earlier is not None and earlier.state == "done":
        return _result(earlier, duplicate=True)
    if earlier is not None and earlier.uploaded_at and clock() - earlier.uploaded_at < IN_PROGRESS:
        raise _in_progress()
    now = clock()
    tenant = desk.tenant
    today = now.astimezone(tenant.line.tz).date()
    # The whole file is read and checked before anything is created: a refusal (the 10,001st row,
    # a header missing) may come at its end, and nothing of a refused file is imported.
    try:
        spreadsheets.check_file(data)
        sheet = spreadsheets.read_rows(data)
        checked = sheet_rows.read_sheet(sheet.rows, sheet.formula_cells, tenant, today)
    except sheet_rows.SheetRefused as exc:
        with uow() as tx:  # the day's report shows the refused file, with its reason
            run_id = tx.runs.start(SOURCE, filename, today, now)
            error = f"{exc.code}: {exc.message_en}"[:300]
            tx.runs.add(run_id, RunCounts(rejected=1), finished_at=now, error=error)
            tx.commit()
        metrics.count(tenant.tenant_id, SOURCE, RunCounts(rejected=1))
        raise
    bad_rows = {p.row_no for p in checked.problems}
    good = [r for r in checked.rows if r.row_no not in bad_rows]
    problems = list(checked.problems)
    warnings = [*checked.notices, *(w for r in good for w in r.warnings)]
    with uow() as tx:
        run_id = earlier.run_id if earlier else tx.runs.start(SOURCE, filename, today, now)
        if earlier is None and not tx.uploads.start(digest, filename, run_id, now, data):
            # The same file is being uploaded at this very moment by someone else: theirs makes
            # the orders; this one says so instead of doing the work (and the counts) twice.
            raise _in_progress()
        tx.commit()
    matched, customer_problems = _match_customers(good, desk)
    problems += customer_problems
    groups = _groups(matched)
    made, refused = _create_all(groups, digest, desk, orders)
    problems += refused
    problems.sort(key=lambda p: p.row_no)
    rows_ok = sum(len(g) for g, _ in made)
    result = UploadResult(
        False,
        run_id,
        rows_ok=rows_ok,
        rows_bad=len({p.row_no for p in problems}),
        orders=[{"order_id": oid, "order_no": no, "rows": [r.row_no for r in g]} for g, (oid, no) in made],
        error_report=spreadsheets.error_report_xlsx(problems, checked.labels) if problems else None,
        warnings=[_warning(w) for w in warnings],
    )
    counts = RunCounts(
        received=rows_ok + result.rows_bad,
        created=len(made),
        duplicates=sum(1 for p in problems if p.code == "row.duplicate"),
        rejected=sum(1 for p in {p.row_no: p for p in problems}.values() if p.code != "row.duplicate"),
    )
    with uow() as tx:
        tx.uploads.finish(
            Upload(
                digest,
                filename,
                "done",
                run_id,
                result.rows_ok,
                result.rows_bad,
                result.orders,
                result.error_report,
                result.warnings,
            )
        )
        if earlier is None or earlier.state != "done":
            tx.runs.add(run_id, counts, finished_at=clock())
        tx.commit()
    metrics.count(tenant.tenant_id, SOURCE, counts)
    return result


def _in_progress() -> Conflict:
    return Conflict(
        "此文件正在上传中，请稍后查看 the same file is being uploaded right now; try again shortly"
    )


def _result(u: Upload, duplicate: bool) -> UploadResult:
    return UploadResult(duplicate, u.run_id, u.rows_ok, u.rows_bad, u.orders, u.error_report, u.warnings)


def _match_customers(
    rows: list[AgentRow], desk: TenantDesk
) -> tuple[list[tuple[AgentRow, str]], list[RowProblem]]:
    """Each row's customer by its name (or code) as the customer service knows it."""
    out, problems = [], []
    for row in rows:
        found = [c for c in desk.customers_named(row.customer_name) if c.active]
        if len(found) == 1:
            out.append((row, found[0].customer_id))
            continue
        code, zh, en = (
            ("customer.unknown", "客户不存在或已停用", "no active customer has this name")
            if not found
            else (
                "customer.ambiguous",
                "有多个同名客户，请填写客户编码",
                "several customers have this name; use the code",
            )
        )
        problems.append(sheet_rows.problem(row, "客户名称", code, zh, en))
    return out, problems


def _groups(rows: list[tuple[AgentRow, str]]) -> list[tuple[list[AgentRow], str]]:
    by_key: dict[tuple, list[AgentRow]] = {}
    customer_of: dict[tuple, str] = {}
    for row, customer_id in rows:
        key = (customer_id, row.due_date, row.delivery_address, tuple(sorted(row.custom_fields.items())))
        by_key.setdefault(key, []).append(row)
        customer_of[key] = customer_id
    out = []
    for key, members in by_key.items():
        for i in range(0, len(members), MAX_LINES):
            out.append((members[i : i + MAX_LINES], customer_of[key]))
    return out


def _create_all(
    groups: list[tuple[list[AgentRow], str]], digest: str, desk: TenantDesk, orders: OrderDesk
) -> tuple[list[tuple[list[AgentRow], tuple[str, str]]], list[RowProblem]]:
    made, problems = [], []
    # Each task runs in a copy of this request's context: the caller's identity and token travel on.
    with ThreadPoolExecutor(PARALLEL_CREATES) as pool:
        tasks = [
            pool.submit(
                contextvars.copy_context().run, _create_group, rows, customer_id, digest, desk, orders
            )
            for rows, customer_id in groups
        ]
        for task in tasks:
            group_made, group_problems = task.result()
            made += group_made
            problems += group_problems
    return made, problems


def _create_group(
    rows: list[AgentRow], customer_id: str, digest: str, desk: TenantDesk, orders: OrderDesk
) -> tuple[list[tuple[list[AgentRow], tuple[str, str]]], list[RowProblem]]:
    """One order of the group's rows. A line the order service refuses (its violation names the
    line, `lines[i]…`) takes only its own row out: the order is made of the others. A refusal of
    the whole order (a deactivated customer) refuses every row of it."""
    problems: list[RowProblem] = []
    while rows:
        order_id, order_no, reasons = create_or_refusal(orders, _draft(rows, customer_id, digest, desk))
        if not reasons:
            return [(rows, (order_id, order_no))], problems
        by_line = _line_reasons(reasons, len(rows))
        if not by_line:
            return [], problems + [_refused(row, reasons) for row in rows]
        problems += [_refused(rows[i], r) for i, r in sorted(by_line.items())]
        rows = [row for i, row in enumerate(rows) if i not in by_line]
    return [], problems


def _line_reasons(reasons: list[Reason], lines: int) -> dict[int, list[Reason]]:
    """The refusal's reasons by the line they name; {} when one of them is about the whole order."""
    out: dict[int, list[Reason]] = {}
    for reason in reasons:
        found = LINE_FIELD.match(reason.code)
        if not found or int(found.group(1)) >= lines:
            return {}
        out.setdefault(int(found.group(1)), []).append(reason)
    return out


def _draft(rows: list[AgentRow], customer_id: str, digest: str, desk: TenantDesk) -> OrderDraft:
    first = rows[0]
    priority = desk.priority(
        priority_facts("CHANNEL_AGENT", [(r.quantity, r.unit_price_fen or 0) for r in rows])
    )
    return OrderDraft(
        request_id=request_id(SOURCE, digest, *(str(r.row_no) for r in rows)),
        customer_id=customer_id,
        channel="CHANNEL_AGENT",
        priority=priority,
        due_date=first.due_date,
        lines=[
            DraftLine(
                r.product_model, r.quantity, r.unit_price_fen or 0, r.colour, r.surface_treatment, r.packaging
            )
            for r in rows
        ],
        delivery_address=first.delivery_address,
        custom_fields=first.custom_fields,
    )


def _warning(w: RowProblem) -> str:
    where = f"row {w.row_no} {w.column}".strip() if w.row_no else w.column
    return f"{where}: {w.message_zh} {w.message_en}"


def _refused(row: AgentRow, reasons: list[Reason]) -> RowProblem:
    text = "; ".join(r.message for r in reasons)[:300]
    return sheet_rows.problem(
        row, "", "order.refused", f"订单服务拒绝：{text}", "the order service refused this row"
    )
