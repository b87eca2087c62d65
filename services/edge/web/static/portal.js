// A customer's own orders. The API answers a portal account with its own customer's orders only
// (and without prices where its tier may not see them): this page shows what it is given.
"use strict";

(() => {
  const { t, el, day, yuan } = OMS;
  const FLOW = ["ORDER_STATE_APPROVED", "ORDER_STATE_IN_PRODUCTION", "ORDER_STATE_QC_PASSED", "ORDER_STATE_READY_TO_SHIP", "ORDER_STATE_SHIPPED"];
  const KINDS = ["AFTER_SALES_KIND_QUALITY", "AFTER_SALES_KIND_SHORTAGE", "AFTER_SALES_KIND_DAMAGE", "AFTER_SALES_KIND_DELIVERY", "AFTER_SALES_KIND_OTHER"];
  let last = null;
  const workshops = {}; // code -> the plant's name for it
  const drafts = {}; // order id -> the request id of the form being filled (a resend reuses it)

  function progress(state) {
    const at = FLOW.indexOf(state === "ORDER_STATE_CLOSED" ? "ORDER_STATE_SHIPPED" : state);
    return el(
      "ol",
      { class: "progress" },
      FLOW.map((step, i) => el("li", { class: at < 0 ? "" : i < at ? "done" : i === at ? "now" : "" }, t(step)))
    );
  }

  function lines(order) {
    const priced = !order.pricesWithheld;
    const head = ["product", "colour", "finish", "quantity", "state"].concat(priced ? ["unitPrice"] : []);
    return el(
      "table",
      { class: "lines" },
      el("thead", {}, el("tr", {}, head.map((k) => el("th", {}, t(k))))),
      el(
        "tbody",
        {},
        (order.lines || []).map((line) =>
          el(
            "tr",
            {},
            el("td", {}, line.productModel),
            el("td", {}, line.colour || ""),
            el("td", {}, line.surfaceTreatment || ""),
            el("td", { class: "num" }, line.quantity),
            // where the line is on the shop floor (its route's work orders), else its order's state
            el("td", { class: "stage", "data-line": line.lineNo }, lineStage(order, line)),
            priced ? el("td", { class: "num" }, yuan(line.unitPriceFen)) : null
          )
        )
      )
    );
  }

  function lineStage(order, line) {
    const p = (last.progress[order.orderId] || {})[line.lineNo];
    if (!p) return t(order.state);
    return `${t(p.stage)} · ${workshops[p.workshop] || p.workshop}`;
  }

  function batches(order) {
    if (!(order.batches || []).length) return null;
    return el(
      "div",
      { class: "batches" },
      el("h4", {}, t("batches")),
      el(
        "ul",
        {},
        order.batches.map((b) =>
          el(
            "li",
            {},
            `${t("batch", { n: b.batchNo })} · ${t("due")} ${day(b.dueDate)} · `,
            (b.lines || []).map((x) => `#${x.lineNo} × ${x.quantity}`).join(", ")
          )
        )
      )
    );
  }

  function afterSales(order) {
    const mine = last.afterSales.filter((r) => r.orderId === order.orderId);
    const box = el("div", { class: "after-sales" });
    if (mine.length) {
      box.append(
        el("h4", {}, t("afterSalesList")),
        el("ul", {}, mine.map((r) => el("li", { "data-after-sales": r.afterSalesId }, `${new Date(r.submittedAt).toLocaleString()} · ${t(r.kind)} · ${r.description}`)))
      );
    }
    const open = el("button", { type: "button", class: "link open-after-sales" }, t("afterSales"));
    const kind = el("select", { class: "kind", "aria-label": t("kind") }, KINDS.map((k) => el("option", { value: k }, t(k))));
    const text = el("textarea", { class: "describe", maxlength: "1000", rows: "3", placeholder: t("describe"), required: "" });
    const error = el("p", { class: "error", hidden: "" });
    const form = el("form", { class: "after-sales-form", hidden: "" }, kind, text, error, el("button", { type: "submit" }, t("send")));
    open.addEventListener("click", () => {
      form.hidden = !form.hidden;
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      drafts[order.orderId] = drafts[order.orderId] || crypto.randomUUID();
      try {
        await OMS.rpc("/oms.order.v1.OrderService/SubmitAfterSalesRequest", {
          orderId: order.orderId,
          kind: kind.value,
          description: text.value,
          requestId: drafts[order.orderId],
        });
        delete drafts[order.orderId];
        form.hidden = true;
        await load();
        const notice = document.getElementById("notice");
        notice.textContent = t("sentAfterSales");
        notice.hidden = false;
      } catch (problem) {
        error.textContent = problem.message;
        error.hidden = false;
      }
    });
    box.append(open, form);
    return box;
  }

  const shownChanges = new Set(); // orders whose changes are open (kept across refreshes)

  function changes(order) {
    const box = el("div", { class: "changes" });
    const toggle = el("button", { type: "button", class: "link show-changes" }, t("showChanges"));
    const list = el("ul", { class: "change-list" });
    async function fill() {
      const { changes: found } = await OMS.rpc("/oms.order.v1.OrderService/ListOrderChanges", { orderId: order.orderId });
      list.replaceChildren(
        ...((found || []).length
          ? found.map((c) =>
              el(
                "li",
                { "data-change": c.changeId, "data-state": c.state },
                el("b", {}, t(c.state)),
                ` · ${c.reason || ""} · `,
                (c.diff || []).map((d) => `${d.label || d.path}: ${d.before} → ${d.after}`).join("；"),
                c.decisionNote ? ` · ${c.decisionNote}` : ""
              )
            )
          : [el("li", { class: "muted" }, t("noChanges"))])
      );
    }
    toggle.addEventListener("click", () => {
      if (shownChanges.has(order.orderId)) {
        shownChanges.delete(order.orderId);
        list.replaceChildren();
      } else {
        shownChanges.add(order.orderId);
        fill().catch(() => {});
      }
    });
    if (shownChanges.has(order.orderId)) fill().catch(() => {});
    box.append(toggle, list);
    return box;
  }

  function card(order) {
    return el(
      "section",
      { class: "order", "data-order": order.orderNo, "data-state": order.state },
      el(
        "header",
        { class: "bar" },
        el("h3", {}, `${t("order")} ${order.orderNo}`),
        el("span", { class: "badge state" }, t(order.state)),
        order.pendingChangeId ? el("span", { class: "badge warn" }, t("changePending")) : null,
        el("span", { class: "due" }, `${t("due")} ${day(order.dueDate)}`)
      ),
      progress(order.state),
      lines(order),
      batches(order),
      order.pricesWithheld ? null : el("p", { class: "total" }, `${t("total")}: ${yuan(order.totalFen)}`),
      changes(order),
      afterSales(order)
    );
  }

  function render() {
    if (!last) return;
    const box = document.getElementById("orders");
    box.replaceChildren(...(last.orders.length ? last.orders.map(card) : [el("p", { class: "muted" }, t("noOrders"))]));
    document.getElementById("prices").hidden = !last.orders.some((o) => o.pricesWithheld);
    document.getElementById("updated").textContent = `${t("updated")} ${new Date().toLocaleTimeString()}`;
  }

  async function load() {
    const [{ orders }, { requests }] = await Promise.all([
      OMS.rpc("/oms.order.v1.OrderService/ListOrders", { pageSize: 100 }),
      OMS.rpc("/oms.order.v1.OrderService/ListAfterSalesRequests", {}),
    ]);
    const progress = {};
    if ((orders || []).length) {
      const found = await OMS.rpc("/oms.order.v1.OrderService/ListOrderProgress", { orderIds: orders.map((o) => o.orderId) });
      for (const o of found.orders || []) progress[o.orderId] = Object.fromEntries((o.lines || []).map((l) => [l.lineNo, l]));
    }
    last = { orders: orders || [], afterSales: requests || [], progress };
    // a form being filled in is not thrown away by the periodic refresh
    if (document.querySelector(".after-sales-form:not([hidden])")) return;
    render();
  }

  (async () => {
    OMS.translate();
    OMS.languageToggle(document.getElementById("lang"), render);
    document.getElementById("signout").addEventListener("click", OMS.signOut);
    const { user } = await OMS.rpc("/oms.identity.v1.IdentityService/WhoAmI", {});
    if (!(user.roles || []).includes("customer")) return location.assign("/board");
    document.getElementById("who").textContent = user.displayName || user.user;
    const { customer } = await OMS.rpc("/oms.customer.v1.CustomerService/GetCustomer", { customerId: user.customerId });
    document.getElementById("customer").textContent = `${customer.name} · ${customer.code}`;
    const { options } = await OMS.rpc("/oms.order.v1.OrderService/GetTenantOptions", {});
    for (const w of options.workshops || []) workshops[w.code] = w.name;
    await load();
    setInterval(() => load().catch(() => {}), 15000);
  })();
})();
