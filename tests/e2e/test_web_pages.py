"""The web pages in a real headless Chromium (Debian's, driven by Playwright), against a running
embedded stack (`python -m services`, its own process and ports):

* a customer's contact signs in on the sign-in page and the portal shows their company's orders,
  each at its stage, and no other customer's;
* the big-screen board shows a work order move from 加工中 to 质检完成 without a reload;
* a wrong password says so on the page; a page opened without a session goes to sign-in.

Screenshots land in build/test-artifacts/web/ (CI keeps them)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import grpc
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from oms.customer.v1 import customer_pb2
from oms.ingest.v1 import ingest_pb2
from oms.notify.v1 import notify_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from tests.e2e import scenario
from tests.e2e.production_scenario import LEAD, SALES, approved_order, eventually, work_orders
from tests.e2e.test_embedded import ROOT
from tests.e2e.test_embedded import embedded as embedded  # the same stack fixture, started for this module
from tests.e2e.test_embedded import marketplace as marketplace  # the simulator it pulls from

pytestmark = pytest.mark.e2e
ARTIFACTS = ROOT / "build" / "test-artifacts" / "web"
PASSWORD = "zhongshu-demo"


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, (
        "Chromium is not installed: `make setup` installs Debian's chromium (browser tests need it)"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, http_port):
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{http_port}", viewport={"width": 1600, "height": 1000}
    )
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == [], f"the page's scripts failed: {errors}"


def shot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, user: str, password: str = PASSWORD, tenant: str = "hardware") -> None:
    page.goto("/")
    page.select_option("#tenant", tenant)
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("#submit")


def customer_id(api: scenario.Api, code: str) -> str:
    found = api.customers.ListCustomers(
        customer_pb2.ListCustomersRequest(code=code), metadata=SALES.metadata()
    )
    return found.customers[0].customer_id


def pending_order(api: scenario.Api, customer: str, *, days: int, qty: int) -> order_pb2.Order:
    """An order waiting for approval (待审批), taken by the sales person 陈丽."""
    return api.orders.CreateOrder(
        order_pb2.CreateOrderRequest(
            customer_id=customer,
            channel=order_pb2.CHANNEL_DIRECT,
            due_date=scenario.due(days),
            lines=[scenario.line(qty=qty)],
        ),
        metadata=SALES.metadata(),
    ).order


def report(api: scenario.Api, work_order_id: str, stage: int) -> None:
    api.production.ReportStage(
        production_pb2.ReportStageRequest(work_order_id=work_order_id, stage=stage), metadata=LEAD.metadata()
    )


def test_a_customer_signs_in_and_sees_only_their_orders_at_their_stages(embedded, page):
    api = embedded[0]
    midea, supor = customer_id(api, "MIDEA-SD"), customer_id(api, "SUPOR-HZ")
    in_process = approved_order(api, midea, [scenario.line(qty=1200)])
    waiting = pending_order(api, midea, days=30, qty=5000)
    theirs = approved_order(api, supor, [scenario.line(qty=800)])
    for wo in eventually("work orders", lambda: work_orders(api, in_process.order_id)):
        report(api, wo.work_order_id, production_pb2.STAGE_IN_PROCESS)  # the order: its least advanced
    eventually(
        "the order follows its work order",
        lambda: (
            api.orders.GetOrder(
                order_pb2.GetOrderRequest(order_id=in_process.order_id), metadata=SALES.metadata()
            ).order.state
            == order_pb2.ORDER_STATE_IN_PRODUCTION
        ),
    )

    sign_in(page, "美的采购")
    page.wait_for_url("**/portal", timeout=15000)
    mine = page.locator(f'[data-order="{in_process.order_no}"]')
    expect(mine).to_be_visible(timeout=15000)
    expect(mine.locator(".badge.state")).to_have_text("加工中")
    expect(mine.locator(".progress li.now")).to_have_text("加工中")
    expect(page.locator(f'[data-order="{waiting.order_no}"] .badge.state')).to_have_text("待审批")
    # each line: where it is on the shop floor (its first workshop's work is in process)
    expect(mine.locator('td.stage[data-line="1"]')).to_have_text("加工中 · 冲压一车间 Stamping 1")
    expect(page.locator("#customer")).to_contain_text("MIDEA-SD")
    shown = {o for o in page.locator("section.order").evaluate_all("els => els.map(e => e.dataset.order)")}
    assert in_process.order_no in shown and theirs.order_no not in shown
    # every order shown is this customer's (the API answered a portal account with its own only)
    listed = api.orders.ListOrders(
        order_pb2.ListOrdersRequest(page_size=500), metadata=SALES.metadata()
    ).orders
    assert shown <= {o.order_no for o in listed if o.customer_id == midea}
    # tier A sees its prices ([price_visibility] portal_tiers)
    expect(mine.locator("th").last).to_have_text("单价 (元)")
    shot(page, "portal")

    page.click("#lang")
    expect(mine.locator(".badge.state")).to_have_text("In process")
    page.click("#lang")


def test_the_board_shows_a_work_order_move_from_in_process_to_qc_passed_without_a_reload(embedded, page):
    api = embedded[0]
    order = approved_order(api, customer_id(api, "MIDEA-SD"), [scenario.line(qty=600)])
    wo = min(eventually("work orders", lambda: work_orders(api, order.order_id)), key=lambda w: w.step)
    report(api, wo.work_order_id, production_pb2.STAGE_IN_PROCESS)

    sign_in(page, "周建华")
    page.wait_for_url("**/board", timeout=15000)
    card = page.locator(f'[data-wo="{wo.work_order_no}"]')
    expect(page.locator(f'[data-stage="STAGE_IN_PROCESS"] [data-wo="{wo.work_order_no}"]')).to_be_visible(
        timeout=15000
    )
    expect(card.locator(".wo-where")).to_have_text("冲压一车间 Stamping 1")
    page.evaluate("window.__notReloaded = true")
    shot(page, "board-in-process")

    report(api, wo.work_order_id, production_pb2.STAGE_QC_PASSED)
    expect(page.locator(f'[data-stage="STAGE_QC_PASSED"] [data-wo="{wo.work_order_no}"]')).to_be_visible(
        timeout=15000
    )
    expect(page.locator(f'[data-stage="STAGE_IN_PROCESS"] [data-wo="{wo.work_order_no}"]')).to_have_count(0)
    expect(page.locator(f'#completed li[data-wo="{wo.work_order_no}"]')).to_be_visible()  # 今日完工
    assert int(page.locator("#completed-total").inner_text()) >= 1
    assert page.evaluate("window.__notReloaded") is True  # the same page, updated in place
    shot(page, "board")

    # the line: stamped, waiting for plating -- in process, at plating (ListOrderProgress)
    def line_one() -> tuple[str, str, list[tuple[str, str]]] | None:
        found = api.orders.ListOrderProgress(
            order_pb2.ListOrderProgressRequest(order_ids=[order.order_id]), metadata=SALES.metadata()
        ).orders
        if not found or not found[0].lines or found[0].lines[0].steps[0].stage != "STAGE_QC_PASSED":
            return None
        line = found[0].lines[0]
        return line.stage, line.workshop, [(s.workshop, s.stage) for s in line.steps]

    assert eventually("the line's progress", line_one) == (
        "STAGE_IN_PROCESS",
        "plating",
        [
            ("stamping-1", "STAGE_QC_PASSED"),
            ("plating", "STAGE_TO_SCHEDULE"),
            ("assembly", "STAGE_TO_SCHEDULE"),
        ],
    )


def test_the_board_highlights_work_at_risk_of_its_due_date(embedded, page):
    api = embedded[0]
    created = pending_order(api, customer_id(api, "SUPOR-HZ"), days=1, qty=300)
    api.orders.ApproveOrder(
        order_pb2.ApproveOrderRequest(order_id=created.order_id, expected_version=created.version),
        metadata=scenario.Caller("hardware", "李经理", ("approver",)).metadata(),
    )
    wo = min(eventually("work orders", lambda: work_orders(api, created.order_id)), key=lambda w: w.step)
    sign_in(page, "周建华")
    page.wait_for_url("**/board", timeout=15000)
    expect(page.locator(f'[data-wo="{wo.work_order_no}"].at-risk')).to_be_visible(timeout=15000)
    expect(page.locator(f'[data-wo="{wo.work_order_no}"] .wo-flag')).to_have_text("交期风险")
    assert int(page.locator("#at-risk-total").inner_text()) >= 1


def test_a_wrong_password_is_said_on_the_page_and_pages_need_a_session(embedded, page):
    sign_in(page, "陈丽", "not-her-password")
    expect(page.locator("#error")).to_have_text("用户名或密码错误")
    assert page.url.endswith("/")
    page.goto("/portal")
    page.wait_for_url("**/?next=%2Fportal", timeout=15000)
    page.goto("/board")
    page.wait_for_url("**/?next=%2Fboard", timeout=15000)


def tiny_png() -> bytes:
    """A real 1×1 PNG (ingest checks that content is what its type says)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def test_the_sales_form_filled_offline_is_created_once_when_back_online(embedded, page, tmp_path):
    api = embedded[0]
    customer = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"WEB-{time.time_ns() % 10**8}", name="格兰仕中山 Galanz Zhongshan", sales_owner="陈丽"
        ),
        metadata=SALES.metadata(),
    ).customer

    def orders_of_customer() -> list[order_pb2.Order]:
        listed = api.orders.ListOrders(order_pb2.ListOrdersRequest(page_size=500), metadata=SALES.metadata())
        return [o for o in listed.orders if o.customer_id == customer.customer_id]

    sign_in(page, "陈丽")
    page.wait_for_url("**/sales", timeout=15000)
    expect(page.locator(f'#customer option[value="{customer.customer_id}"]')).to_have_count(1, timeout=15000)
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)") is True

    page.context.set_offline(True)
    page.reload()  # offline: the page, its script and the customers come from the phone
    expect(page.locator(f'#customer option[value="{customer.customer_id}"]')).to_have_count(1, timeout=15000)
    expect(page.locator("#network")).to_have_text("离线")
    page.select_option("#customer", customer.customer_id)
    page.fill("#due", _iso(scenario.due(25)))
    page.fill("#lines .line .model", "HB-2040 铰链 hinge")
    page.fill("#lines .line .qty", "700")
    page.select_option("#lines .line .colour", "银色 silver")
    page.select_option("#lines .line .finish", "电镀 plating")
    page.select_option("#lines .line .packaging", "纸箱 carton")
    contract = tmp_path / "合同.png"
    contract.write_bytes(tiny_png())
    page.set_input_files("#photo", str(contract))
    page.click("#submit")
    queued = page.locator("#queue li")
    expect(queued).to_have_count(1)
    expect(queued.first).to_have_attribute("data-state", "queued")
    expect(page.locator("#notice")).to_have_text("已保存在本机，联网后自动提交")
    shot(page, "sales-offline")
    time.sleep(1)
    assert orders_of_customer() == []  # nothing reached the system while offline

    page.context.set_offline(False)  # back online: the queue is sent (the browser's online event)
    expect(queued.first).to_have_attribute("data-state", "accepted", timeout=20000)
    key = queued.first.get_attribute("data-key")
    [order] = orders_of_customer()
    expect(queued.first.locator(".outcome")).to_have_text(f"已接单，订单号 {order.order_no}")
    assert [(line.product_model, line.quantity) for line in order.lines] == [("HB-2040 铰链 hinge", 700)]
    shot(page, "sales-accepted")

    # the phone sends again (its answer lost on the way): the same key, the same order, not a second
    again = api.ingest.SubmitPhoneOrder(
        ingest_pb2.SubmitPhoneOrderRequest(
            idempotency_key=key,
            customer_id=customer.customer_id,
            due_date=scenario.due(25),
            lines=[scenario.line(qty=700, workshop="")],
        ),
        metadata=SALES.metadata(),
    )
    assert (again.duplicate, again.order_no) == (True, order.order_no)
    page.reload()
    expect(page.locator("#queue li")).to_have_count(1)
    assert len(orders_of_customer()) == 1


def _iso(day) -> str:
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def test_the_order_desk_approves_an_order_and_rejects_its_change_after_reading_the_impact(embedded, page):
    api = embedded[0]
    created = pending_order(api, customer_id(api, "SUPOR-HZ"), days=40, qty=900)

    sign_in(page, "刘敏")  # sales and approver: the order desk
    page.wait_for_url("**/desk", timeout=15000)
    page.fill("#text", created.order_no)
    page.click("#search button")
    row = page.locator(f'#orders tr[data-order="{created.order_no}"]')
    expect(row).to_have_count(1, timeout=15000)
    row.click()
    expect(page.locator("#detail-state")).to_have_text("待审批")
    page.click("#approve")
    expect(page.locator("#detail-state")).to_have_text("待排产", timeout=15000)
    approved = api.orders.GetOrder(
        order_pb2.GetOrderRequest(order_id=created.order_id), metadata=SALES.metadata()
    )
    assert approved.order.approved_by == "刘敏"

    eventually("work orders", lambda: work_orders(api, created.order_id))
    gold = order_pb2.OrderContent(
        due_date=approved.order.due_date, priority=approved.order.priority, lines=approved.order.lines
    )
    gold.lines[0].colour = "金色 gold"
    asked = api.orders.RequestOrderChange(
        order_pb2.RequestOrderChangeRequest(
            order_id=created.order_id,
            expected_version=approved.order.version,
            reason="客户改色 银色→金色",
            proposed=gold,
        ),
        metadata=SALES.metadata(),
    ).change
    row.click()
    change = page.locator(f'[data-change="{asked.change_id}"]')
    expect(change).to_have_attribute("data-state", "CHANGE_STATE_PENDING", timeout=15000)
    expect(change.locator("td.after").first).to_have_text("金色 gold")
    expect(change.locator("h4")).to_have_text("影响评估")  # the work orders it touches, before deciding
    shot(page, "desk-change")
    change.locator(".reject-change").click()  # no note: the API says it is required
    expect(page.locator("#message")).to_contain_text("note")
    change.locator(".note").fill("电镀线本周已排满 plating is full this week")
    change.locator(".reject-change").click()
    expect(page.locator(f'[data-change="{asked.change_id}"]')).to_have_attribute(
        "data-state", "CHANGE_STATE_REJECTED", timeout=15000
    )
    assert page.locator(".audit li").filter(has_text="reject_change").count() == 1


def test_a_customer_raises_an_after_sales_request_on_the_portal_and_its_sales_owner_hears(embedded, page):
    api = embedded[0]
    midea, supor = customer_id(api, "MIDEA-SD"), customer_id(api, "SUPOR-HZ")
    order = approved_order(api, midea, [scenario.line(qty=400)])
    theirs = pending_order(api, supor, days=30, qty=100)

    sign_in(page, "美的采购")
    page.wait_for_url("**/portal", timeout=15000)
    mine = page.locator(f'[data-order="{order.order_no}"]')
    expect(mine).to_be_visible(timeout=15000)
    mine.locator(".open-after-sales").click()
    mine.locator(".kind").select_option("AFTER_SALES_KIND_QUALITY")
    mine.locator(".describe").fill("第1批 50 件镀层起泡，请安排补货")
    mine.locator(".after-sales-form button[type=submit]").click()
    expect(page.locator("#notice")).to_have_text("已提交，销售会尽快联系您", timeout=15000)
    listed = page.locator(f'[data-order="{order.order_no}"] [data-after-sales]')
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("质量问题 · 第1批 50 件镀层起泡，请安排补货")
    shot(page, "portal-after-sales")

    def notices() -> list[tuple[str, str]]:
        found = api.notify.ListNotifications(
            notify_pb2.ListNotificationsRequest(reference=order.order_no), metadata=SALES.metadata()
        ).notifications
        return sorted((n.recipient, n.recipient_role) for n in found if n.subject.startswith("售后申请"))

    assert eventually("the after-sales notices", notices) == [("刘敏", "order_desk"), ("陈丽", "sales_owner")]

    # another customer's order is not this account's to complain about: as if it did not exist
    portal = scenario.Caller("hardware", "美的采购", ("customer",), customer_id=midea)
    with pytest.raises(grpc.RpcError) as refused:
        api.orders.SubmitAfterSalesRequest(
            order_pb2.SubmitAfterSalesRequestRequest(
                order_id=theirs.order_id,
                kind=order_pb2.AFTER_SALES_KIND_QUALITY,
                description="不是我的订单",
                request_id="0123456789abcdef",
            ),
            metadata=portal.metadata(),
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    theirs_listed = api.orders.ListAfterSalesRequests(
        order_pb2.ListAfterSalesRequestsRequest(), metadata=portal.metadata()
    ).requests
    assert {r.customer_id for r in theirs_listed} == {midea}


def test_a_customer_sees_a_change_to_its_order_and_its_outcome_but_not_the_plants_impact(embedded, page):
    api = embedded[0]
    midea = customer_id(api, "MIDEA-SD")
    order = approved_order(api, midea, [scenario.line(qty=450)])
    eventually("work orders", lambda: work_orders(api, order.order_id))
    gold = order_pb2.OrderContent(due_date=order.due_date, priority=order.priority, lines=order.lines)
    gold.lines[0].colour = "金色 gold"
    asked = api.orders.RequestOrderChange(
        order_pb2.RequestOrderChangeRequest(
            order_id=order.order_id,
            expected_version=order.version,
            reason="客户改色 银色→金色",
            proposed=gold,
        ),
        metadata=SALES.metadata(),
    ).change
    assert asked.impact.work_orders  # staff see the impact

    portal = scenario.Caller("hardware", "美的采购", ("customer",), customer_id=midea)
    [seen] = api.orders.ListOrderChanges(
        order_pb2.ListOrderChangesRequest(order_id=order.order_id), metadata=portal.metadata()
    ).changes
    assert seen.change_id == asked.change_id and not seen.HasField("impact")

    sign_in(page, "美的采购")
    page.wait_for_url("**/portal", timeout=15000)
    mine = page.locator(f'[data-order="{order.order_no}"]')
    expect(mine.locator(".badge.state")).to_have_text("变更待审", timeout=15000)
    mine.locator(".show-changes").click()
    change = mine.locator(f'[data-change="{asked.change_id}"]')
    expect(change).to_contain_text("待审")
    expect(change).to_contain_text("银色 silver → 金色 gold")
    api.orders.RejectOrderChange(
        order_pb2.RejectOrderChangeRequest(
            order_id=order.order_id,
            change_id=asked.change_id,
            expected_version=api.orders.GetOrder(
                order_pb2.GetOrderRequest(order_id=order.order_id), metadata=SALES.metadata()
            ).order.version,
            note="金色镀液不足 not enough gold plating solution",
        ),
        metadata=scenario.Caller("hardware", "李经理", ("approver",)).metadata(),
    )
    page.reload()
    mine.locator(".show-changes").click()
    expect(change).to_have_attribute("data-state", "CHANGE_STATE_REJECTED", timeout=15000)
    expect(change).to_contain_text("金色镀液不足")
